"""Beat's tick (enqueue the feeds that are due) and the poll of one feed."""

from __future__ import annotations

import structlog
from celery import Task

from workers import flows
from workers.app import app
from workers.runtime import runtime
from workers.tasks import RETRYABLE, retry_later


@app.task(name="marsad.tick", acks_late=True, ignore_result=True)
def tick() -> int:
    rt = runtime()
    due = [f for f in rt.settings.feeds.values() if flows.claim_due(rt, f)]
    for feed in due:
        # A poll that waited longer than the feed's interval is stale: the next tick re-enqueues it.
        poll_feed.apply_async((feed.id,), expires=max(30, feed.interval_s))
    return len(due)


@app.task(name="marsad.poll_feed", bind=True, acks_late=True, ignore_result=True, max_retries=3)
def poll_feed(self: Task, feed_id: str) -> None:
    from workers.tasks.article import process_article

    structlog.contextvars.bind_contextvars(task="poll_feed", feed=feed_id)
    try:
        rt = runtime()
        feed = rt.feed(feed_id)
        if feed is None:
            structlog.get_logger("marsad").info("feed_skipped", outcome="not_configured")
            return
        flows.poll_feed(rt, feed, lambda e: process_article.delay(e.to_dict()))
    except RETRYABLE as exc:
        raise retry_later(self, exc) from exc
    finally:
        structlog.contextvars.clear_contextvars()

