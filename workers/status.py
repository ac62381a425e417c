"""`marsad status`: feed health, queue depths and recent alerts, read from Redis."""

from __future__ import annotations

import time
from typing import Any

import redis

from workers.app import QUEUES, broker_url
from workers.runtime import redis_client
from workers.stores import AlertLedger, DeadLetters, FeedStateStore


def _ago(ts: str | None, now: float) -> str:
    if not ts:
        return "never"
    delta = now - float(ts)
    if delta < 0:
        return f"in {int(-delta)} s"
    return f"{int(delta)} s ago" if delta < 120 else f"{int(delta // 60)} min ago"


def collect(settings: Any) -> dict[str, Any]:
    client = redis_client(settings.redis_url or broker_url(settings.path))
    now = time.time()
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        return {"redis": f"unreachable: {exc}", "feeds": [], "queues": {}, "recent_alerts": [], "failed_alerts": 0}
    store = FeedStateStore(client)
    feeds = []
    for fid, feed in settings.feeds.items():
        st = store.get(fid)
        state = "never polled" if not st else ("ok" if st.get("last_status") != "failed" else
                                               ("failing" if int(st.get("failures") or 0) >= 3 else "backing off"))
        feeds.append({"id": fid, "name": feed.name, "state": state, "last_poll": st.get("last_poll"),
                      "last_success": st.get("last_success"), "last_new": int(st.get("last_new") or 0),
                      "items_total": int(st.get("items_total") or 0), "last_error": st.get("last_error") or None,
                      "next_poll": st.get("next_poll"), "failures": int(st.get("failures") or 0)})
    queues = {q: int(client.llen(q)) for q in QUEUES}  # type: ignore[arg-type]
    return {"redis": "ok", "feeds": feeds, "queues": queues, "recent_alerts": AlertLedger(client).recent(10),
            "failed_alerts": len(DeadLetters(client).list()), "now": now}


def render(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if data["redis"] != "ok":
        console.print(f"[red]Redis {data['redis']}[/red]")
        return
    now = data["now"]
    t = Table(title="Feeds")
    for col in ("feed", "state", "last poll", "last success", "new", "total", "next poll", "last error"):
        t.add_column(col)
    for f in data["feeds"]:
        t.add_row(f["id"], f["state"], _ago(f["last_poll"], now), _ago(f["last_success"], now), str(f["last_new"]),
                  str(f["items_total"]), _ago(f["next_poll"], now), (f["last_error"] or "")[:60])
    console.print(t)
    console.print("queues: " + ", ".join(f"{q}={n}" for q, n in data["queues"].items())
                  + f"; failed alerts: {data['failed_alerts']}")
    for a in data["recent_alerts"]:
        console.print(f"  alert {a['watch']} → {a['sink']}: {a['title']!r}", markup=False)
