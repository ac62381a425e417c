"""The two units of work of the feeds at the edge: poll a feed and process an entry (Redis marks included)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from feeds import pipeline
from feeds.alerts.build import breaking_now, fan_out
from feeds.models import Alert, Entry, FeedSource
from workers.alerts import sinks
from workers.alerts.spikes import SURGE_ENTITIES, count_match, count_story
from workers.archive.records import article_record
from workers.logging import get_logger
from workers.runtime import Runtime
from workers.stores import metrics
from workers.stores.keys import P

log = get_logger("marsad.flows")


def due_key(feed_id: str) -> str:
    return P + "due:" + feed_id


def claim_due(rt: Runtime, feed: FeedSource) -> bool:
    """True once per interval per feed, however many beats tick: the key's TTL is the time to the next poll."""
    return bool(rt.redis.set(due_key(feed.id), "1", nx=True, ex=max(1, feed.interval_s)))


def poll_feed(rt: Runtime, feed: FeedSource, enqueue: Callable[[Entry], None]) -> pipeline.PollResult:
    """Poll one feed, enqueue each entry never seen before, record the feed's state and next poll."""
    t0 = time.monotonic()
    state = rt.feed_state.get(feed.id)
    result = pipeline.poll(feed, rt.feed_fetch(feed), etag=state.get("etag") or None,
                           last_modified=state.get("last_modified") or None,
                           body_hash=state.get("body_hash") or None)
    fresh: list[Entry] = []
    # Feeds list newest first; enqueue oldest first so alerts arrive in order of publication per watch.
    for entry in sorted(reversed(result.entries), key=lambda e: e.published or ""):
        key = pipeline.entry_key(entry)
        if not rt.seen.claim(key):
            continue
        try:
            enqueue(entry)
        except Exception:
            rt.seen.release(key)  # not enqueued: let the next poll try again
            raise
        fresh.append(entry)
    fields, interval = pipeline.poll_state(feed, state, result, fresh, time.time())
    rt.feed_state.update(feed.id, **fields)
    rt.feed_state.incr(feed.id, "items_total", len(fresh))
    rt.feed_state.incr(feed.id, "polls_" + result.status)
    rt.redis.set(due_key(feed.id), "1", px=max(1000, int(interval * 1000)))
    metrics.incr(rt.redis, "marsad_feeds_polled_total", status=result.status)
    rt.settle()  # the claims and the enqueued article tasks are on the replicas before this poll is acked
    # A failed poll is a warning: on a console of routine lines it is the one to see.
    emit = log.warning if result.status == "failed" else log.info
    emit("feed_polled", feed=feed.id, status=result.status, new=len(fresh), entries=len(result.entries),
         error=result.error, next_poll_s=round(interval), duration_ms=round((time.monotonic() - t0) * 1000))
    return result


def process_entry(rt: Runtime, entry: Entry, enqueue_alert: Callable[[Alert, str], None]) -> pipeline.ArticleResult:
    """fetch → extract → dedup → classify → match; one alert task per (match, configured sink)."""
    t0 = time.monotonic()
    feed = rt.feed(entry.feed_id)
    if feed is None:
        result = pipeline.ArticleResult("dropped", reason=f"feed {entry.feed_id!r} is no longer configured")
    else:
        result = pipeline.process(entry, feed, fetch=rt.page_fetch(feed), classifier=rt.classifier,
                                  watchset=rt.settings.watchset, stories=rt.stories, now=time.time(),
                                  judges=rt.judges)
        if result.article is not None and rt.settings.archive_url is not None:
            # Before the alerts are enqueued, so an alert's link to the console finds the article; the writer
            # keeps the record in Redis while the database is away instead of holding the alerts back.
            rt.archive_writer.article(article_record(
                result.article_id, result.article, entry.feed_id, result.outcome,
                result.story.story_id if result.story else None, result.classification, result.matches))
        copy = result.outcome in ("duplicate", "near_duplicate", "joined_event")  # another report of a story
        breaking = result.story is not None and breaking_now(result.story, time.time())
        public = rt.settings.web.public_url
        for alert in pipeline.alerts_for(result, rt.watch, feed, entry):
            if public and rt.settings.archive_url is not None:
                alert = replace(alert, console_url=f"{public.rstrip('/')}/articles/{result.article_id}")
            watch = rt.watch(alert.watch_id)
            if watch is None:
                continue
            for out, sink_id in fan_out(alert, watch, copy, lambda s: sinks.follows(rt.settings.sinks.get(s)),
                                        breaking):
                if sink_id in rt.settings.unconfigured_sinks:
                    if not out.follow_up:
                        log.info("alert_skipped", watch=alert.watch_id, sink=sink_id, outcome="not_configured",
                                 reason=rt.settings.unconfigured_sinks[sink_id])
                    continue
                enqueue_alert(out, sink_id)
    metrics.incr(rt.redis, "marsad_articles_processed_total", outcome=result.outcome)
    if result.outcome == "new" and result.story is not None and rt.surge_entities:
        # a new story counts for its main places and actors that a breaking watch names
        c = result.classification
        main = [(k, h.id) for k, hits in (("region", c.regions), ("place", c.places), ("actor", c.actors))
                for h in hits[:SURGE_ENTITIES] if (k, h.id) in rt.surge_entities]
        count_story(rt.redis, main, result.story.story_id, entry.feed_id, time.time())
    for m in result.matches:
        metrics.incr(rt.redis, "marsad_watch_matches_total", watch=m.watch_id)
        count_match(rt.redis, m.watch_id, entry.feed_id, time.time(), article_id=result.article_id or None)
    rt.settle()  # the story and the enqueued alert tasks are on the replicas before this article is acked
    c = result.classification
    log.info("article_processed", url=entry.url, article=result.article_id or None, feed=entry.feed_id,
             outcome=result.outcome,
             story=result.story.story_id if result.story else None, reason=result.reason or None,
             source=result.article.source if result.article else None,
             regions=[h.id for h in c.regions], actors=[h.id for h in c.actors],
             matches=[m.watch_id for m in result.matches],
             vetoed=[{"watch": m.watch_id, "relevance": round(m.relevance or 0.0, 4)} for m in result.vetoed] or None,
             duration_ms=round((time.monotonic() - t0) * 1000))
    return result
