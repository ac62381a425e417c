"""Signed JSON webhooks: the alert, digest or notice as data (the receiver escapes for its own display)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render.common import signed
from feeds.alerts.render.text import render_line
from feeds.models import Alert


def event_id(alert: Alert) -> str:
    """Stable per (watch, story): receivers can drop the rare at-least-once duplicate with it."""
    return hashlib.sha256(f"{alert.watch_id}\x1f{alert.story_id}".encode()).hexdigest()[:32]


def render_alert(alert: Alert, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    """JSON body (the alert as data, unescaped: the receiver renders it) + timestamp and HMAC headers."""
    # alert_id: the id Slack, email and the log show, which `marsad feedback` takes (id is per story, for
    # receivers that drop duplicates)
    payload = {"type": "marsad.alert", "version": 1, "id": event_id(alert), "alert_id": alert.alert_id,
               "alert": alert.to_dict(), "summary": render_line(alert)}
    return signed(payload, "alert", event_id(alert), secret, now)


def render_digest(d: Digest, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    """JSON (data as the feeds gave it: the receiver escapes for its display) + timestamp/HMAC headers."""
    payload = {"type": "marsad.digest", "version": 1, "id": d.key, "sink": d.sink_id,
               "period_end": datetime.fromtimestamp(d.period_end, ZoneInfo(d.tz)).isoformat(),
               "watches": [{"watch_id": w.watch_id, "watch_name": w.watch_name, "severity": w.severity,
                            "stories": [{"story_id": s.alert.story_id, "outlets": list(s.outlets),
                                         "articles": s.articles, "alert": s.alert.to_dict()}
                                        for s in w.stories]} for w in d.watches]}
    return signed(payload, "digest", d.key, secret, now)


def render_notice(n: Notice, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    delivery = hashlib.sha256(n.key.encode()).hexdigest()[:32]
    payload = {"type": "marsad.notice", "version": 1, "id": delivery, "kind": n.kind, "title": n.title,
               "lines": list(n.lines), "severity": n.severity}
    return signed(payload, "notice", delivery, secret, now)
