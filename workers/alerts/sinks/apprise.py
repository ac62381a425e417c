"""Apprise: 100+ services (Telegram, Teams, Discord, Matrix, ntfy …) through their URLs (`pip install apprise`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render import text
from feeds.alerts.render.common import digest_subject, subject
from feeds.errors import Permanent, Transient
from feeds.models import Alert
from workers.alerts.sinks.base import SinkConfigBase, SinkType, register


class AppriseSinkConfig(SinkConfigBase):
    type: Literal["apprise"] = "apprise"
    urls: list[str] = Field(min_length=1, repr=False)  # per-service timeouts go in the URL (?cto=&rto=)


@dataclass
class AppriseSink:
    id: str
    config: AppriseSinkConfig

    def send(self, alert: Alert) -> None:
        self._notify(subject(alert), text.render_plain(alert))

    def send_digest(self, digest: Digest) -> None:
        self._notify(digest_subject(digest), text.render_digest(digest))

    def send_notice(self, notice: Notice) -> None:
        self._notify(notice.title, text.render_notice(notice))

    def _notify(self, title: str, body: str) -> None:
        try:
            # optional: `pip install apprise` to reach Telegram, Teams, Discord, ntfy …
            apprise: Any = importlib.import_module("apprise")
        except ImportError:
            raise Permanent("apprise not installed") from None
        notifier: Any = apprise.Apprise()
        for url in self.config.urls:
            if not notifier.add(url):
                raise Permanent("apprise: a URL is not supported or malformed")
        # body_format "text": each Apprise plugin escapes it for its own service (Telegram HTML, Matrix …).
        # Apprise reports only success/failure per service, so a failure may be worth a retry.
        if not notifier.notify(title=title, body=body, body_format="text"):
            raise Transient("apprise: at least one service failed")


register(SinkType("apprise", AppriseSinkConfig, AppriseSink, required=("urls",)))
