"""Apprise: 100+ services (Telegram, Teams, Discord, Matrix, ntfy …) through their URLs (`pip install apprise`)."""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render import text
from feeds.alerts.render.common import digest_subject, subject
from feeds.errors import Permanent, Transient
from feeds.models import Alert
from workers.alerts.sinks.base import Parts, SinkConfigBase, SinkType, register


class AppriseSinkConfig(SinkConfigBase):
    type: Literal["apprise"] = "apprise"
    urls: list[str] = Field(min_length=1, repr=False)  # per-service timeouts go in the URL (?cto=&rto=)


@dataclass
class AppriseSink:
    id: str
    config: AppriseSinkConfig

    def send(self, alert: Alert, parts: Parts | None = None) -> None:
        """Each service separately, each marked in `parts` once it took the alert: when one fails, the retry
        goes to that one only (sending to all of them again would double it everywhere else)."""
        title, body = subject(alert), text.render_plain(alert)
        failed = 0
        for url in self.config.urls:
            part = "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:16]
            if parts is not None and parts.done(part):
                continue
            if self._notify(title, body, [url], raise_on_failure=False):
                if parts is not None:
                    parts.mark(part)
            else:
                failed += 1
        if failed:
            raise Transient(f"apprise: {failed} of {len(self.config.urls)} services failed")

    def send_digest(self, digest: Digest) -> None:
        self._notify(digest_subject(digest), text.render_digest(digest))

    def send_notice(self, notice: Notice) -> None:
        self._notify(notice.title, text.render_notice(notice))

    def _notify(self, title: str, body: str, urls: list[str] | None = None, raise_on_failure: bool = True) -> bool:
        try:
            # optional: `pip install apprise` to reach Telegram, Teams, Discord, ntfy …
            apprise: Any = importlib.import_module("apprise")
        except ImportError:
            raise Permanent("apprise not installed") from None
        notifier: Any = apprise.Apprise()
        for url in urls or self.config.urls:
            if not notifier.add(url):
                raise Permanent("apprise: a URL is not supported or malformed")
        # body_format "text": each Apprise plugin escapes it for its own service (Telegram HTML, Matrix …).
        # Apprise reports only success/failure per service, so a failure may be worth a retry.
        ok = bool(notifier.notify(title=title, body=body, body_format="text"))
        if not ok and raise_on_failure:
            raise Transient("apprise: at least one service failed")
        return ok


register(SinkType("apprise", AppriseSinkConfig, AppriseSink, required=("urls",)))
