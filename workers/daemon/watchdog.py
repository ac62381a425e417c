"""The watchdog in each worker's main process: refreshes its liveness record and restarts (exit 75) a worker
whose queues hold work while it receives and finishes nothing; also the worker's exit status for `marsad worker`."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import redis
from celery.signals import task_received, worker_ready, worker_shutdown
from celery.worker import state as worker_state

from workers.logging import get_logger
from workers.stores import liveness, metrics
from workers.stores.liveness import EX_STALLED, Progress

log = get_logger("marsad.watchdog")

# After asking Celery for a warm shutdown, wait this long for it before exiting hard: a consumer wedged
# badly enough to stop consuming may not get to its shutdown either. Unacked tasks come back (acks_late).
HARD_EXIT_AFTER_S = 60.0


class Watchdog(threading.Thread):
    """Runs in the worker's main process (where the consumer lives): refreshes its record, and when its
    queues have held work for `stall_after` seconds while it received and finished nothing, asks Celery to
    shut down with EX_STALLED (Celery #8030, #9054, #10205, #10302: alive after a reconnect, never consuming)."""

    def __init__(self, r: redis.Redis, name: str, queues: list[str], concurrency: int, stall_after: float) -> None:
        super().__init__(name="marsad-watchdog", daemon=True)
        self.r, self.worker, self.queues, self.concurrency = r, name, queues, concurrency
        self.stall_after = stall_after
        self.every = liveness.check_every_s(stall_after)
        self.started = time.time()
        self.last_received = self.started
        self.waiting_since: float | None = None
        self.halt = threading.Event()

    def look(self, now: float) -> Progress:
        depth = sum(int(self.r.llen(q)) for q in self.queues)
        beat = self.r.hget(liveness.HEARTBEATS, self.worker)
        finished = float(beat.split()[0]) if isinstance(beat, bytes) and beat else self.started
        if depth == 0:
            self.waiting_since = None
        elif self.waiting_since is None:
            self.waiting_since = now
        return Progress(now, self.last_received, finished, self.waiting_since, len(worker_state.active_requests),
                        self.concurrency)

    def beat(self, now: float, p: Progress | None = None) -> None:
        """Refresh this worker's record, with what the last look saw (`marsad status` judges it by `state`)."""
        liveness.record(self.r, self.worker, {"queues": self.queues, "pid": os.getpid(), "host": socket.gethostname(),
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
                liveness.prune(self.r, now, liveness.gone_after_s(self.stall_after))
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
    from workers.config.env import broker_url, schedule_value
    from workers.stores import connect

    try:
        queues = sorted(sender.app.amqp.queues.consume_from)
        concurrency = int(getattr(sender.controller, "concurrency", 1) or 1)
        stall = liveness.stall_after_s(float(schedule_value("tick_s", 15.0)), schedule_value("stall_after_s", None))
        _dog = Watchdog(connect.client(broker_url()), str(sender.hostname), queues, concurrency, stall)
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
        liveness.forget(_dog.r, _dog.worker)
    except redis.exceptions.RedisError:
        pass  # Redis away: prune() removes it later
