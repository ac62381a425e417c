"""Slack incoming webhooks: Block Kit alerts, digests and notices; the sink that shows follow-ups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import requests
from pydantic import Field, field_validator

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render import slack as render
from feeds.models import Alert
from workers.alerts.sinks.base import Parts, SinkConfigBase, SinkType, register
from workers.alerts.sinks.http import http_url, post
from workers.config.limits import MAX_SINK_TIMEOUT_S


class SlackSinkConfig(SinkConfigBase):
    type: Literal["slack"] = "slack"
    webhook_url: str = Field(repr=False)  # the URL is the credential: keep it out of reprs and logs
    timeout_s: float = Field(default=10, gt=0, le=MAX_SINK_TIMEOUT_S)
    _url = field_validator("webhook_url")(http_url)


@dataclass
class SlackSink:
    id: str
    config: SlackSinkConfig
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def send(self, alert: Alert, parts: Parts | None = None) -> None:
        post(self.session, "slack", self.config.webhook_url, self.config.timeout_s, json=render.render_alert(alert))

    def send_digest(self, digest: Digest) -> None:
        post(self.session, "slack", self.config.webhook_url, self.config.timeout_s, json=render.render_digest(digest))

    def send_notice(self, notice: Notice) -> None:
        post(self.session, "slack", self.config.webhook_url, self.config.timeout_s, json=render.render_notice(notice))


register(SinkType("slack", SlackSinkConfig, SlackSink, required=("webhook_url",), follow_ups=True))
