"""Signed JSON webhooks (HMAC-SHA256 of timestamp and body, an idempotency key per event)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import requests
from pydantic import Field, field_validator

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render import webhook as render
from feeds.models import Alert
from workers.alerts.sinks.base import Parts, SinkConfigBase, SinkType, register
from workers.alerts.sinks.http import http_url, post
from workers.config.limits import MAX_SINK_TIMEOUT_S


class WebhookSinkConfig(SinkConfigBase):
    type: Literal["webhook"] = "webhook"
    url: str = Field(repr=False)
    secret: str | None = Field(default=None, repr=False)
    timeout_s: float = Field(default=10, gt=0, le=MAX_SINK_TIMEOUT_S)
    _url = field_validator("url")(http_url)


@dataclass
class WebhookSink:
    id: str
    config: WebhookSinkConfig
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def send(self, alert: Alert, parts: Parts | None = None) -> None:
        self._post(*render.render_alert(alert, self.config.secret, time.time()))

    def send_digest(self, digest: Digest) -> None:
        self._post(*render.render_digest(digest, self.config.secret, time.time()))

    def send_notice(self, notice: Notice) -> None:
        self._post(*render.render_notice(notice, self.config.secret, time.time()))

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        post(self.session, "webhook", self.config.url, self.config.timeout_s, data=body, headers=headers)


register(SinkType("webhook", WebhookSinkConfig, WebhookSink, required=("url",)))
