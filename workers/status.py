"""What is running and how it goes, read from Redis: feed health, queue depths, workers, recent alerts
(for `marsad status` and the console)."""

from __future__ import annotations

import time
from typing import Any

import redis

from feeds.ingest import schedule
from feeds.models import FeedSource
from workers.stores.feedstate import FeedStateStore
from workers.stores.keys import QUEUES
from workers.stores.ledger import AlertLedger, DeadLetters
from workers.stores.liveness import stall_after_s, state
from workers.stores.liveness import workers as known_workers


def feed_health(fid: str, feed: FeedSource, st: dict[str, str], now: float) -> dict[str, Any]:
    """One feed's row: state (ok / backing_off / failing / silent), last success and error, rhythm figures."""
    state = schedule.FeedState.from_mapping(st)
    polls = {k: int(st.get("polls_" + k) or 0) for k in ("ok", "not_modified", "failed")}
    total = sum(polls.values())
    first = state.first_poll or now
    days = max((now - first) / 86400, 1 / 24)  # at least an hour, so a new feed's rate is not inflated
    gap = schedule.rhythm(state.new_item_times)
    return {"id": fid, "name": feed.name, "url": feed.url,
            "state": schedule.health(feed, state, now) if st else "never polled",
            "last_poll": state.last_poll, "last_success": state.last_success,
            "last_error": st.get("last_error") or None, "failures": state.failures,
            "last_new": int(st.get("last_new") or 0), "items_total": int(st.get("items_total") or 0),
            "items_per_day": round(int(st.get("items_total") or 0) / days, 1),
            "avg_interval_s": round((now - first) / total) if total > 1 else None,
            "share_304": round(polls["not_modified"] / total, 2) if total else None,
            "rhythm_s": round(gap) if gap else None, "next_poll": _time(st.get("next_poll")), "polls": polls}


def _time(value: str | None) -> float | None:
    """A stored Unix time as a number (as the other times of the status are), or None when there is none."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def worker_row(name: str, info: dict[str, Any], now: float, stall_after: float) -> dict[str, Any]:
    """One worker: its queues, start, last finished task and state (ok / idle / stale / gone, see
    workers.stores.liveness.state)."""
    return {"worker": name, "state": state(info, now, stall_after), "queues": info.get("queues") or [],
            "pid": info.get("pid"), "started": info.get("started"), "last_finished": info.get("last_finished"),
            "last_task": info.get("last_task") or None}


def collect(settings: Any, client: redis.Redis) -> dict[str, Any]:
    """Everything `marsad status` shows, from a Redis that answers (see workers.stores.connect.require)."""
    now = time.time()
    store = FeedStateStore(client)
    feeds = [feed_health(fid, feed, store.get(fid), now) for fid, feed in settings.feeds.items()]
    queues = {q: int(client.llen(q)) for q in QUEUES}
    stall_after = stall_after_s(settings.schedule.tick_s, settings.schedule.stall_after_s)
    workers = [worker_row(name, info, now, stall_after)
               for name, info in sorted(known_workers(client).items())]
    return {"redis": "ok", "feeds": feeds, "queues": queues, "workers": workers,
            "recent_alerts": AlertLedger(client).recent(10),
            "failed_alerts": len(DeadLetters(client).all()), "now": now}
