"""Process one feed entry: fetch, extract, dedup, classify, match, enqueue alerts."""

from __future__ import annotations

import structlog
from celery import Task

from feeds.models import Entry
from workers import flows
from workers.app import app
from workers.runtime import runtime
from workers.tasks import MAX_DELIVERIES, MAX_RETRIES, RETRYABLE, retry_later


@app.task(name="marsad.process_article", bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def process_article(self: Task, entry: dict[str, object]) -> None:
    from workers.tasks.alert import send_alert

    structlog.contextvars.bind_contextvars(task="process_article", feed=entry.get("feed_id"), url=entry.get("url"))
    try:
        rt = runtime()
        if rt.attempts.bump(str(self.request.id)) > MAX_DELIVERIES:
            rt.dead.add("article", entry, "quarantined: too many deliveries")
            structlog.get_logger("marsad").error("article_quarantined", outcome="quarantined")
            return
        flows.process_entry(rt, Entry.from_dict(entry), lambda a, s: send_alert.delay(a.to_dict(), s))
        rt.attempts.clear(str(self.request.id))
    except RETRYABLE as exc:
        raise retry_later(self, exc) from exc
    finally:
        structlog.contextvars.clear_contextvars()
