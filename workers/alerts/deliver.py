"""Delivering one alert to one sink: claim (watch, story, sink), route, send, then mark sent; the outcome line."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from feeds.alerts.build import ledger_story, nothing_new
from feeds.errors import Permanent, Transient
from feeds.models import SEVERITY_ORDER, Alert
from workers.alerts import routing
from workers.alerts.health import record_sink_result
from workers.archive.records import ARCHIVED_OUTCOMES, alert_record
from workers.logging import get_logger
from workers.runtime import Runtime
from workers.stores import metrics
from workers.stores.ledger import AlertKey, SentParts

log = get_logger("marsad.flows")

DeliveryOutcome = Literal["sent", "already_sent", "not_configured", "below_severity", "digest", "held"]


@dataclass(frozen=True)
class Delivery:
    outcome: DeliveryOutcome


def deliver(rt: Runtime, alert: Alert, sink_id: str, owner: str = "") -> Delivery:
    """Claim (watch, story, sink), send, then mark sent: only a crash between send and mark can double."""
    sink = rt.sink(sink_id)
    if sink is None:
        return Delivery("not_configured")
    minimum = getattr(sink.config, "min_severity", "low")
    if SEVERITY_ORDER.get(alert.severity, 1) < SEVERITY_ORDER.get(minimum, 0):
        return Delivery("below_severity")
    if nothing_new(alert):
        return Delivery("already_sent")  # the same outlet again: nothing new to tell
    key = AlertKey(alert.watch_id, ledger_story(alert), sink_id)
    state = rt.ledger.claim(key, owner)
    if state == "sent":
        return Delivery("already_sent")
    if state == "busy":
        raise Transient("another worker is sending this alert")
    # Follow-ups and breaking alerts are news about a story already routed: they go out now.
    immediate = alert.follow_up or alert.breaking
    decision = "immediate" if immediate else routing.route(rt.redis, alert, sink_id, sink.config, time.time())
    if decision == "digest":
        return Delivery("digest")  # route() marked the ledger "sent" with the digest entry
    if decision == "wait":
        rt.ledger.release(key)  # held until quiet hours end; the digest tick re-enqueues it
        return Delivery("held")
    try:
        sink.send(alert, SentParts(rt.redis, key))
    except (Transient, Permanent):
        rt.ledger.release(key)
        raise
    rt.ledger.mark_sent(key)
    rt.settle()  # a "sent" mark lost in a failover would send the alert again
    if alert.published:
        try:
            age = time.time() - datetime.fromisoformat(alert.published).timestamp()
            metrics.observe(rt.redis, "marsad_publication_to_alert_seconds", max(0.0, age), sink=sink_id)
        except ValueError:
            pass  # an unparseable feed date: no latency figure for this alert
    rt.ledger.record_recent({"at": time.time(), "watch": alert.watch_id, "story": alert.story_id,
                             "sink": sink_id, "title": alert.title[:200], "url": alert.url})
    return Delivery("sent")


def record_delivery(rt: Runtime, alert: dict[str, object], sink_id: str, outcome: str, reason: str = "") -> None:
    """The one outcome line and counter of a delivery attempt; a dead letter keeps the alert for a retry."""
    if outcome == "dead_letter":
        rt.dead.add("alert", {"alert": alert, "sink": sink_id}, reason)
    metrics.incr(rt.redis, "marsad_alerts_total", sink=sink_id, outcome=outcome)
    if outcome in ("sent", "retry", "dead_letter"):
        record_sink_result(rt.redis, sink_id, outcome == "sent", time.time())
    if outcome in ARCHIVED_OUTCOMES and rt.settings.archive_url is not None:
        rt.archive_writer.alert(alert_record(Alert.from_dict(alert), sink_id, outcome, reason))
    level = {"dead_letter": "error", "retry": "warning"}.get(outcome, "info")
    getattr(log, level)("alert_sent", outcome=outcome, reason=reason or None)
