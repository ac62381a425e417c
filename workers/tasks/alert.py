"""Deliver one alert to one sink, exactly once per (watch, story, sink)."""

from __future__ import annotations

import structlog
from celery import Task

from feeds.errors import Permanent
from feeds.models import Alert
from workers.alerts import deliver
from workers.app import app
from workers.runtime import runtime
from workers.tasks import MAX_RETRIES, RETRYABLE, retry_later


@app.task(name="marsad.send_alert", bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def send_alert(self: Task, alert: dict[str, object], sink_id: str) -> None:
    structlog.contextvars.bind_contextvars(task="send_alert", watch=alert.get("watch_id"), sink=sink_id,
                                           story=alert.get("story_id"), attempt=self.request.retries + 1)
    rt = runtime()
    try:
        # The task id names the send claim: this same task, redelivered after a crash, may take it back.
        done = deliver.deliver(rt, Alert.from_dict(alert), sink_id, owner=str(self.request.id or ""))
        deliver.record_delivery(rt, alert, sink_id, done.outcome)
    except RETRYABLE as exc:
        if self.request.retries >= MAX_RETRIES:
            deliver.record_delivery(rt, alert, sink_id, "dead_letter", getattr(exc, "reason", repr(exc)))
            return
        deliver.record_delivery(rt, alert, sink_id, "retry", getattr(exc, "reason", repr(exc)))
        raise retry_later(self, exc) from exc
    except Permanent as exc:
        deliver.record_delivery(rt, alert, sink_id, "dead_letter", exc.reason)
    finally:
        structlog.contextvars.clear_contextvars()
