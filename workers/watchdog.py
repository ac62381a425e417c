"""Worker liveness: who is running, on which queues, and a watchdog that restarts a worker that stopped consuming."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery.signals import task_received, worker_ready, worker_shutdown
from celery.worker import state as worker_state

from workers import metrics
from workers.logging import get_logger
from workers.stores import P

log = get_logger("marsad.watchdog")

WORKERS = P + "workers"  # worker name → JSON {queues, pid, host, concurrency, started, alive}
# Exit status of a worker that stopped itself because it stalled (EX_TEMPFAIL: "try again"): `marsad up`,
# systemd (Restart=always) and compose (restart: unless-stopped) start a fresh one, which reconnects cleanly.
EX_STALLED = 75
# A record not refreshed for this many check periods belongs to a worker that died without shutting down
# (SIGKILL, OOM, lost host); it is removed so dead workers do not linger in status and metrics.
GONE_AFTER_CHECKS = 10
# After asking Celery for a warm shutdown, wait this long for it before exiting hard: a consumer wedged
# badly enough to stop consuming may not get to its shutdown either. Unacked tasks come back (acks_late).
HARD_EXIT_AFTER_S = 60.0


def stall_after_s(tick_s: float, configured: float | None = None) -> float:
    """How long a worker may receive and finish nothing while its queues hold work before it restarts.

    Beat enqueues polls every tick, so a healthy worker on the poll queue receives work every few ticks;
    ten ticks, and never under 5 min so a backlog of slow page fetches (≤ 180 s hard limit) is not mistaken
    for a stall."""
    return configured if configured is not None else max(300.0, 10 * tick_s)


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
    pipe.hdel(metrics.HEARTBEATS, name)
    pipe.execute()


def workers(r: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every known worker: its record (queues, started, alive) and `last_finished` (None if none yet)."""
    raw: dict[bytes, bytes] = r.hgetall(WORKERS)  # type: ignore[assignment]
    beats: dict[bytes, bytes] = r.hgetall(metrics.HEARTBEATS)  # type: ignore[assignment]
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


class Watchdog(threading.Thread):
    """Runs in the worker's main process (where the consumer lives): refreshes its record, and when its
    queues have held work for `stall_after` seconds while it received and finished nothing, asks Celery to
    shut down with EX_STALLED (Celery #8030, #9054, #10205, #10302: alive after a reconnect, never consuming)."""

    def __init__(self, r: redis.Redis, name: str, queues: list[str], concurrency: int, stall_after: float) -> None:
        super().__init__(name="marsad-watchdog", daemon=True)
        self.r, self.worker, self.queues, self.concurrency = r, name, queues, concurrency
        self.stall_after = stall_after
        self.every = check_every_s(stall_after)
        self.started = time.time()
        self.last_received = self.started
        self.waiting_since: float | None = None
        self.halt = threading.Event()

    def look(self, now: float) -> Progress:
        depth = sum(int(self.r.llen(q)) for q in self.queues)
        beat = self.r.hget(metrics.HEARTBEATS, self.worker)
        finished = float(beat.split()[0]) if isinstance(beat, bytes) and beat else self.started
        if depth == 0:
            self.waiting_since = None
        elif self.waiting_since is None:
            self.waiting_since = now
        return Progress(now, self.last_received, finished, self.waiting_since, len(worker_state.active_requests),
                        self.concurrency)

    def beat(self, now: float, p: Progress | None = None) -> None:
        """Refresh this worker's record, with what the last look saw (`marsad status` judges it by `state`)."""
        record(self.r, self.worker, {"queues": self.queues, "pid": os.getpid(), "host": socket.gethostname(),
                                     "concurrency": self.concurrency, "started": round(self.started, 3),
                                     "alive": round(now, 3), "stall_after_s": self.stall_after,
                                     "received": round(self.last_received, 3),
                                     "waiting_since": p.waiting_since if p else None, "active": p.active if p else 0})

    def run(self) -> None:
        while not self.halt.wait(self.every):
            now = time.time()
            try:
                progress = self.look(now)
                self.beat(now, progress)
                prune(self.r, now, gone_after_s(self.stall_after))
            except redis.exceptions.RedisError:
                self.waiting_since = None  # no verdict while Redis is away; the window restarts after it
                continue
            if progress.stalled(self.stall_after):
                self.stall(progress)
                return

    def stall(self, p: Progress) -> None:
        log.error("worker_stalled", worker=self.worker, queues=self.queues,
                  work_waiting_s=round(p.now - (p.waiting_since or p.now), 1),
                  since_last_received_s=round(p.now - p.last_received, 1),
                  since_last_finished_s=round(p.now - p.last_finished, 1), stall_after_s=self.stall_after,
                  action="restart", exit_status=EX_STALLED)
        try:
            metrics.incr(self.r, "marsad_worker_stalls_total")
        except redis.exceptions.RedisError:
            pass
        worker_state.should_stop = EX_STALLED  # the consumer loop checks this on every turn: warm shutdown
        if not self.halt.wait(HARD_EXIT_AFTER_S):
            log.error("worker_stalled_hard_exit", worker=self.worker, exit_status=EX_STALLED)
            os._exit(EX_STALLED)


_dog: Watchdog | None = None
_exit_status = 0


def exit_status() -> int:
    """The worker's exit status as Celery decided it (app.worker_main does not return it)."""
    return _exit_status


@task_received.connect
def _on_received(**_: Any) -> None:
    if _dog is not None:
        _dog.last_received = time.time()


@worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    """Start the watchdog and announce the worker at once, before it has finished any task."""
    global _dog
    from workers.app import broker_url, schedule_value
    from workers.runtime import redis_client

    try:
        queues = sorted(sender.app.amqp.queues.consume_from)
        concurrency = int(getattr(sender.controller, "concurrency", 1) or 1)
        stall = stall_after_s(float(schedule_value("tick_s", 15.0)), schedule_value("stall_after_s", None))
        _dog = Watchdog(redis_client(broker_url()), str(sender.hostname), queues, concurrency, stall)
        _dog.beat(time.time())
        log.info("worker_watchdog_started", worker=_dog.worker, queues=queues, stall_after_s=stall)
    except Exception as exc:  # the watchdog must never keep a worker from running
        log.warning("worker_watchdog_failed", error=repr(exc))
        return
    _dog.start()


@worker_shutdown.connect
def _on_shutdown(sender: Any = None, **_: Any) -> None:
    """A clean stop removes this worker from status and metrics at once."""
    global _exit_status
    _exit_status = int(getattr(sender, "exitcode", 0) or 0)
    if _dog is None:
        return
    _dog.halt.set()
    try:
        forget(_dog.r, _dog.worker)
    except redis.exceptions.RedisError:
        pass  # Redis away: prune() removes it later
