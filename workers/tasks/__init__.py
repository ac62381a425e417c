"""Thin Celery tasks; what is retryable, and how long to wait, is decided here once for all of them."""

from __future__ import annotations

import random
import time
from typing import Any

import kombu.exceptions
import redis
from celery import Task
from celery.exceptions import Reject
from celery.signals import task_postrun, task_prerun

from feeds.errors import Transient
from workers.config.limits import MAX_RETRY_COUNTDOWN_S
from workers.daemon import watchdog  # noqa: F401  (connects the worker's liveness and self-restart signals)

# The closed set of errors worth retrying. Everything else is a bug or a Permanent outcome.
# kombu's OperationalError is Redis being down seen through a publish (an article task enqueueing its alerts):
# without it the task failed "unexpectedly", was acked, and its alerts were lost (tests/reliability/
# test_sentinel_failover.py, once).
RETRYABLE: tuple[type[BaseException], ...] = (Transient, redis.exceptions.ConnectionError,
                                              redis.exceptions.TimeoutError, kombu.exceptions.OperationalError)
MAX_RETRIES = 8
# Deliveries of one message (retries and redeliveries after crashes) before it is quarantined.
MAX_DELIVERIES = MAX_RETRIES + 4


def countdown(retries: int, exc: BaseException, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s … each drawn from its upper half) honouring
    Retry-After, below the visibility timeout. Without jitter every task that failed in one outage would
    retry in the same second and fail together again."""
    base = 5.0 * 2 ** retries
    wait = (rng or random).uniform(base / 2, base)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        wait = max(wait, float(retry_after))
    return float(min(wait, MAX_RETRY_COUNTDOWN_S))


def retry_later(task: Task, exc: BaseException) -> Exception:
    """`task.retry` after `countdown`, to be raised. When the retry cannot be published (the broker is what
    failed), Celery rejects the message *without* requeue, and if Redis is back by the time the reject runs the
    message is gone (seen in tests/reliability/test_sentinel_failover.py). Requeued instead: the reject moves
    it from the unacked set back onto its queue in one transaction, or, with Redis still down, fails and
    leaves it unacked for the visibility timeout to return. Redeliveries stay bounded by MAX_DELIVERIES."""
    try:
        pending: Exception = task.retry(exc=exc, countdown=countdown(task.request.retries, exc))
        return pending
    except Reject as rejected:
        raise Reject(rejected.reason, requeue=True) from exc


_started: dict[str, float] = {}


@task_prerun.connect
def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _on_postrun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Task latency and the worker's 'last task finished' heartbeat (a live but stuck worker goes stale)."""
    from workers.runtime import runtime
    from workers.stores import liveness, metrics

    started = _started.pop(task_id or "", None)
    try:
        r = runtime().redis
        if started is not None and task is not None:
            metrics.observe(r, "marsad_task_duration_seconds", time.monotonic() - started, task=task.name)
        liveness.heartbeat(r, str(getattr(task.request, "hostname", "") or "unknown"), task.name if task else "")
    except Exception:
        pass
