"""Beat's archive tick: the backlog kept while the database was away is written, and old articles pruned."""

from __future__ import annotations

import time

import structlog

from workers.app import app
from workers.config.limits import TICK_LOCK_S
from workers.runtime import runtime
from workers.stores.keys import P

# Retention runs at most this often: deleting a day's articles takes seconds, an hour's far less.
PRUNE_EVERY_S = 3600
# Articles deleted per tick at most (a few seconds of work), well inside the tick lock and the task limits.
PRUNE_LIMIT = 20_000


@app.task(name="marsad.archive_tick", acks_late=True, ignore_result=True, queue="poll")
def archive_tick() -> dict[str, int]:
    rt = runtime()
    if rt.settings.archive_url is None:
        return {}
    token = rt.locks.acquire("archive_tick", TICK_LOCK_S)
    if token is None:
        return {}  # another worker's tick is draining: the backlog is read in order, by one at a time
    try:
        stats = {"drained": rt.archive_writer.drain()}
        if rt.redis.set(P + "archive:pruned", "1", nx=True, ex=PRUNE_EVERY_S):
            stats["pruned"] = n = rt.archive().prune(time.time() - rt.settings.archive_keep_s, PRUNE_LIMIT)
            if n >= PRUNE_LIMIT:
                rt.redis.delete(P + "archive:pruned")  # more to delete: the next tick goes on
    finally:
        rt.locks.release("archive_tick", token)
    if any(stats.values()):
        structlog.get_logger("marsad").info("archive_tick", **stats)
    return stats
