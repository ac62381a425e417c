"""The three units of work at the edge: poll a feed, process an entry, deliver an alert (Redis marks included)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from feeds import pipeline, schedule
from feeds.dedup import canonical_url
from feeds.errors import Permanent, Transient
from feeds.models import SEVERITY_ORDER, Alert, Entry, FeedSource
from workers import metrics, ops, routing
from workers.logging import get_logger
from workers.runtime import Runtime
from workers.stores import AlertKey, P

log = get_logger("marsad.flows")

def wants_follow_ups(rt: Runtime, sink_id: str) -> bool:
    """Follow-ups go to immediate Slack sinks; digests list a story's outlets anyway."""
    cfg = rt.settings.sinks.get(sink_id)
    return getattr(cfg, "type", "") == "slack" and getattr(cfg, "mode", "immediate") == "immediate"


def due_key(feed_id: str) -> str:
    return P + "due:" + feed_id


def claim_due(rt: Runtime, feed: FeedSource) -> bool:
    """True once per interval per feed, however many beats tick: the key's TTL is the time to the next poll."""
    return bool(rt.redis.set(due_key(feed.id), "1", nx=True, ex=max(1, feed.interval_s)))


def _new_item_times(old: str | None, entries: list[Entry], now: float) -> str:
    """Publication times of the newest items (discovery time when undated), for the feed's rhythm."""
    times = [float(t) for t in (old or "").split(",") if t]
    for e in entries:
        try:
            times.append(datetime.fromisoformat(e.published).timestamp() if e.published else now)
        except ValueError:
            times.append(now)
    return ",".join(f"{t:.0f}" for t in sorted(times)[-schedule.RHYTHM_ITEMS:])


def entry_key(entry: Entry) -> str:
    return canonical_url(entry.url) if entry.url else f"guid:{entry.feed_id}:{entry.guid}"


def poll_feed(rt: Runtime, feed: FeedSource, enqueue: Callable[[Entry], None]) -> pipeline.PollResult:
    """Poll one feed, enqueue each entry never seen before, record the feed's state and next poll."""
    t0 = time.monotonic()
    state = rt.feed_state.get(feed.id)
    result = pipeline.poll(feed, rt.fetch_feed, etag=state.get("etag") or None,
                           last_modified=state.get("last_modified") or None,
                           body_hash=state.get("body_hash") or None)
    fresh: list[Entry] = []
    # Feeds list newest first; enqueue oldest first so alerts arrive in order of publication per watch.
    for entry in sorted(reversed(result.entries), key=lambda e: e.published or ""):
        key = entry_key(entry)
        if not rt.seen.claim(key):
            continue
        try:
            enqueue(entry)
        except Exception:
            rt.seen.release(key)  # not enqueued: let the next poll try again
            raise
        fresh.append(entry)
    new = len(fresh)
    now = time.time()
    failed = result.status == "failed"
    fields: dict[str, object] = {"last_poll": now, "last_status": result.status, "last_new": new,
                                 "failures": int(state.get("failures") or 0) + 1 if failed else 0,
                                 "first_poll": state.get("first_poll") or now}
    if failed:
        fields |= {"last_error": result.error, "last_error_at": now, "permanent": int(not result.transient),
                   "retry_after": result.retry_after}
    else:
        fields |= {"last_success": now, "etag": result.etag, "last_modified": result.last_modified,
                   "body_hash": result.body_hash, "permanent": 0, "retry_after": None}
    if fresh:
        fields |= {"last_new_at": now, "new_item_times": _new_item_times(state.get("new_item_times"), fresh, now)}
    interval = schedule.next_interval(feed, schedule.FeedState.from_mapping({**state, **fields}))
    fields["next_poll"] = now + interval
    rt.feed_state.update(feed.id, **fields)
    rt.feed_state.incr(feed.id, "items_total", new)
    rt.feed_state.incr(feed.id, "polls_" + result.status)
    rt.redis.set(due_key(feed.id), "1", px=max(1000, int(interval * 1000)))
    metrics.incr(rt.redis, "marsad_feeds_polled_total", status=result.status)
    log.info("feed_polled", feed=feed.id, status=result.status, new=new, entries=len(result.entries),
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
                                  watchset=rt.settings.watchset, stories=rt.stories, now=time.time())
        copy = result.outcome in ("duplicate", "near_duplicate")
        for alert in pipeline.alerts_for(result, rt.watch, feed, entry):
            watch = rt.watch(alert.watch_id)
            for sink_id in watch.notify if watch else ():
                if sink_id in rt.settings.unconfigured_sinks:
                    log.info("alert_skipped", watch=alert.watch_id, sink=sink_id, outcome="not_configured",
                             reason=rt.settings.unconfigured_sinks[sink_id])
                    continue
                enqueue_alert(alert, sink_id)  # the ledger turns a copy's alert into "already_sent"
                if copy and watch and watch.follow_ups and wants_follow_ups(rt, sink_id):
                    enqueue_alert(replace(alert, follow_up=True), sink_id)
    metrics.incr(rt.redis, "marsad_articles_processed_total", outcome=result.outcome)
    for m in result.matches:
        metrics.incr(rt.redis, "marsad_watch_matches_total", watch=m.watch_id)
        routing.count_match(rt.redis, m.watch_id, entry.feed_id, time.time(), article_id=result.article_id or None)
    c = result.classification
    log.info("article_processed", url=entry.url, article=result.article_id or None, feed=entry.feed_id,
             outcome=result.outcome,
             story=result.story.story_id if result.story else None, reason=result.reason or None,
             source=result.article.source if result.article else None,
             regions=[h.id for h in c.regions], actors=[h.id for h in c.actors],
             matches=[m.watch_id for m in result.matches], duration_ms=round((time.monotonic() - t0) * 1000))
    return result


DeliveryOutcome = Literal["sent", "already_sent", "not_configured", "below_severity", "digest", "held"]


@dataclass(frozen=True)
class Delivery:
    outcome: DeliveryOutcome


def deliver(rt: Runtime, alert: Alert, sink_id: str) -> Delivery:
    """Claim (watch, story, sink), send, then mark sent: only a crash between send and mark can double."""
    sink = rt.sink(sink_id)
    if sink is None:
        return Delivery("not_configured")
    minimum = getattr(sink.config, "min_severity", "low")
    if SEVERITY_ORDER.get(alert.severity, 1) < SEVERITY_ORDER.get(minimum, 0):
        return Delivery("below_severity")
    if alert.follow_up and alert.outlets <= 1:
        return Delivery("already_sent")  # the same outlet again: nothing new to tell
    # One follow-up per (watch, story, outlet, sink); the story's first alert has its own key.
    story = f"{alert.story_id}:also:{alert.feed_id}" if alert.follow_up else alert.story_id
    key = AlertKey(alert.watch_id, story, sink_id)
    state = rt.ledger.claim(key)
    if state == "sent":
        return Delivery("already_sent")
    if state == "busy":
        raise Transient("another worker is sending this alert")
    decision = "immediate" if alert.follow_up else routing.route(rt.redis, alert, sink_id, sink.config, time.time())
    if decision == "digest":
        return Delivery("digest")  # route() marked the ledger "sent" with the digest entry
    if decision == "wait":
        rt.ledger.release(key)  # held until quiet hours end; the digest tick re-enqueues it
        return Delivery("held")
    try:
        sink.send(alert)
    except (Transient, Permanent):
        rt.ledger.release(key)
        raise
    rt.ledger.mark_sent(key)
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
        ops.record_sink_result(rt.redis, sink_id, outcome == "sent", time.time())
    level = {"dead_letter": "error", "retry": "warning"}.get(outcome, "info")
    getattr(log, level)("alert_sent", outcome=outcome, reason=reason or None)
