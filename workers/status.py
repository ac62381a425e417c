"""`marsad status`: feed health, queue depths and recent alerts, read from Redis."""

from __future__ import annotations

import time
from typing import Any

import redis

from feeds import schedule
from feeds.models import FeedSource
from workers.app import QUEUES, broker_url
from workers.metrics import HEARTBEATS
from workers.runtime import redis_client
from workers.stores import AlertLedger, DeadLetters, FeedStateStore


def _ago(ts: str | None, now: float) -> str:
    if not ts:
        return "never"
    delta = now - float(ts)
    if delta < 0:
        return f"in {int(-delta)} s"
    return f"{int(delta)} s ago" if delta < 120 else f"{int(delta // 60)} min ago"


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
            "last_poll": st.get("last_poll"), "last_success": st.get("last_success"),
            "last_error": st.get("last_error") or None, "failures": state.failures,
            "last_new": int(st.get("last_new") or 0), "items_total": int(st.get("items_total") or 0),
            "items_per_day": round(int(st.get("items_total") or 0) / days, 1),
            "avg_interval_s": round((now - first) / total) if total > 1 else None,
            "share_304": round(polls["not_modified"] / total, 2) if total else None,
            "rhythm_s": round(gap) if gap else None, "next_poll": st.get("next_poll"), "polls": polls}


def collect(settings: Any) -> dict[str, Any]:
    client = redis_client(settings.redis_url or broker_url(settings.path))
    now = time.time()
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        return {"redis": f"unreachable: {exc}", "feeds": [], "queues": {}, "workers": [], "recent_alerts": [],
                "failed_alerts": 0}
    store = FeedStateStore(client)
    feeds = [feed_health(fid, feed, store.get(fid), now) for fid, feed in settings.feeds.items()]
    queues = {q: int(client.llen(q)) for q in QUEUES}
    beats: dict[bytes, bytes] = client.hgetall(HEARTBEATS)  # type: ignore[assignment]
    workers = [{"worker": w.decode(), "last_task_finished_s_ago": round(now - float(v.split()[0]), 1),
                "last_task": v.decode().partition(" ")[2]} for w, v in sorted(beats.items())]
    return {"redis": "ok", "feeds": feeds, "queues": queues, "workers": workers,
            "recent_alerts": AlertLedger(client).recent(10),
            "failed_alerts": len(DeadLetters(client).all()), "now": now}


def render(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if data["redis"] != "ok":
        console.print(f"[red]Redis {data['redis']}[/red]")
        return
    now = data["now"]
    t = Table(title="Feeds")
    for col in ("feed", "state", "last poll", "last success", "new", "items/day", "304s", "next poll", "last error"):
        t.add_column(col)
    for f in data["feeds"]:
        share = "-" if f["share_304"] is None else f"{f['share_304']:.0%}"
        t.add_row(f["id"], f["state"], _ago(f["last_poll"], now), _ago(f["last_success"], now), str(f["last_new"]),
                  str(f["items_per_day"]), share, _ago(f["next_poll"], now), (f["last_error"] or "")[:60])
    console.print(t)
    console.print("queues: " + ", ".join(f"{q}={n}" for q, n in data["queues"].items())
                  + f"; failed alerts: {data['failed_alerts']}")
    for w in data["workers"]:
        console.print(f"worker {w['worker']}: last task finished {w['last_task_finished_s_ago']} s ago "
                      f"({w['last_task']})", markup=False)
    for a in data["recent_alerts"]:
        console.print(f"  alert {a['watch']} → {a['sink']}: {a['title']!r}", markup=False)
