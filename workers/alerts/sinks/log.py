"""The log sink: one structlog line per alert, digest or notice (control characters shown escaped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import structlog

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render import text
from feeds.alerts.render.common import escape_controls
from feeds.models import Alert
from workers.alerts.sinks.base import Parts, SinkConfigBase, SinkType, register


class LogSinkConfig(SinkConfigBase):
    type: Literal["log"] = "log"
    level: Literal["info", "warning"] = "info"


@dataclass
class LogSink:
    id: str
    config: LogSinkConfig

    def send(self, alert: Alert, parts: Parts | None = None) -> None:
        log = structlog.get_logger("marsad.alerts")
        emit = log.warning if self.config.level == "warning" else log.info
        # the id `marsad feedback ALERT_ID relevant|irrelevant` takes, as Slack and e-mail show it
        emit("alert_sent", sink=self.id, alert=alert.alert_id, watch=alert.watch_id, story=alert.story_id,
             severity=alert.severity, text=text.render_line(alert))

    def send_digest(self, digest: Digest) -> None:
        structlog.get_logger("marsad.alerts").info(
            "digest_sent", sink=self.id, stories=digest.stories, text=escape_controls(text.render_digest(digest)))

    def send_notice(self, notice: Notice) -> None:
        structlog.get_logger("marsad.alerts").warning(
            "notice_sent", sink=self.id, kind=notice.kind, text=text.render_notice_log(notice))


register(SinkType("log", LogSinkConfig, LogSink))
