"""Worker liveness in Redis: each worker's record (queues, pid, started, alive, what its watchdog last saw),
its "last task finished" heartbeat, and the stall rule both the watchdog and `marsad status` judge by."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from workers.config.limits import MIN_STALL_AFTER_S
from workers.stores.keys import P

# Exit status of a worker that stopped itself because it stalled (EX_TEMPFAIL: "try again"): `marsad up`,
# systemd (Restart=always) and compose (restart: unless-stopped) start a fresh one, which reconnects cleanly.
EX_STALLED = 75
WORKERS = P + "workers"  # worker name → JSON {queues, pid, host, concurrency, started, alive}
HEARTBEATS = P + "heartbeat"  # worker name → "<unix time> <task name>" of its last finished task
# A record not refreshed for this many check periods belongs to a worker that died without shutting down
# (SIGKILL, OOM, lost host); it is removed so dead workers do not linger in status and metrics.
GONE_AFTER_CHECKS = 10


def stall_after_s(tick_s: float, configured: float | None = None) -> float:
    """How long a worker may receive and finish nothing while its queues hold work before it restarts.

    Beat enqueues polls every tick, so a healthy worker on the poll queue receives work every few ticks;
    ten ticks, and never under 5 min so a backlog of slow page fetches (≤ 180 s hard limit) is not mistaken
    for a stall."""
    return configured if configured is not None else max(MIN_STALL_AFTER_S, 10 * tick_s)


def check_every_s(stall_after: float) -> float:
    """Five looks per stall window (so a stall is acted on within 1.2× the window), at most every 30 s."""
    return min(30.0, stall_after / 5)


def gone_after_s(stall_after: float) -> float:
    return GONE_AFTER_CHECKS * check_every_s(stall_after)


@dataclass
class Progress:
    """What the watchdog knows at one look; `stalled` is the whole rule, kept pure for unit tests."""

    now: float
    last_received: float
    last_finished: float
    waiting_since: float | None  # first look at which this worker's queues held work, continuously since
    active: int
    concurrency: int

    def stalled(self, stall_after: float) -> bool:
        if self.waiting_since is None or self.active >= self.concurrency:
            return False  # nothing to do, or every slot busy (hung tasks are the time limits' job)
        last = max(self.last_received, self.last_finished, self.waiting_since)
        return self.now - last > stall_after


def record(r: redis.Redis, name: str, info: dict[str, Any]) -> None:
    r.hset(WORKERS, name, json.dumps(info, separators=(",", ":")))


def heartbeat(r: redis.Redis, worker: str, task: str) -> None:
    """'Last task finished' per worker: a live process that stopped consuming shows up as stale."""
    r.hset(HEARTBEATS, worker, f"{time.time():.3f} {task}")


def state(info: dict[str, Any], now: float, stall_after: float) -> str:
    """A worker's state from its record (see `workers()`), by the watchdog's own rule: `gone` (the record is
    no longer refreshed), `stale` (its last look found it stalled), `ok` (work waits for it), `idle`."""
    stall_after = float(info.get("stall_after_s") or stall_after)  # the worker's own setting wins
    alive = info.get("alive")
    if alive is None or now - float(alive) > gone_after_s(stall_after):
        return "gone"
    started = float(info.get("started") or alive)
    progress = Progress(now, float(info.get("received") or started), float(info.get("last_finished") or started),
                        info.get("waiting_since"), int(info.get("active") or 0), int(info.get("concurrency") or 1))
    if progress.stalled(stall_after):
        return "stale"
    return "idle" if progress.waiting_since is None else "ok"


def forget(r: redis.Redis, name: str) -> None:
    pipe = r.pipeline(transaction=False)
    pipe.hdel(WORKERS, name)
    pipe.hdel(HEARTBEATS, name)
    pipe.execute()


def workers(r: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every known worker: its record (queues, started, alive) and `last_finished` (None if none yet)."""
    raw: dict[bytes, bytes] = r.hgetall(WORKERS)  # type: ignore[assignment]
    beats: dict[bytes, bytes] = r.hgetall(HEARTBEATS)  # type: ignore[assignment]
    out: dict[str, dict[str, Any]] = {}
    for name in {*raw, *beats}:
        try:
            info: dict[str, Any] = json.loads(raw[name]) if name in raw else {}
        except ValueError:
            info = {}
        beat = beats.get(name, b"").decode()
        info["last_finished"] = float(beat.split()[0]) if beat else None
        info["last_task"] = beat.partition(" ")[2]
        out[name.decode()] = info
    return out


def prune(r: redis.Redis, now: float, gone_after: float) -> list[str]:
    """Forget workers not seen alive for `gone_after` (a heartbeat without a record counts by its own age)."""
    gone = []
    for name, info in workers(r).items():
        seen = info.get("alive") or info.get("last_finished") or 0.0
        if now - float(seen) > gone_after:
            forget(r, name)
            gone.append(name)
    return gone
