"""The Celery app: queues, routes, the beat tick, and the reliability settings measured to matter (the limits
themselves, and how they relate, are in workers/config/limits.py)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.schedules import schedule
from kombu.entity import Queue

from workers.config.env import broker_url, schedule_value
from workers.config.limits import (
    DIGEST_TICK_S,
    OPS_CHECK_S,
    TASK_HARD_LIMIT_S,
    TASK_SOFT_LIMIT_S,
    VISIBILITY_TIMEOUT_S,
)
from workers.stores import connect
from workers.stores.keys import QUEUES

# How often beat looks for due feeds when marsad.yaml says nothing (schedule.tick_s).
DEFAULT_TICK_S = 15.0
BROKER_OPTIONS: dict[str, Any] = {
    "visibility_timeout": VISIBILITY_TIMEOUT_S,
    # kombu's default sweep runs every 10 s × throttle 10; scan each time so redelivery takes seconds.
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
    # kombu sets no socket timeouts by default: a dead connection would hang a publish forever.
    "socket_timeout": 15,
    "socket_connect_timeout": 5,
    "health_check_interval": 10,
    "retry_on_timeout": True,
}


class ConfigTick(schedule):  # type: ignore[misc]
    """Beat's feed tick every `schedule.tick_s` of marsad.yaml, read again every `reread_s`, so a changed tick_s
    takes effect without a restart, like every other setting (beat builds its schedule only once)."""

    def __init__(self, path: str | None = None, reread_s: float = 30.0, **kw: Any) -> None:
        self.path = path
        self.reread_s = reread_s
        self._every = self._read()
        self._read_at = time.monotonic()
        super().__init__(run_every=self._every, **kw)

    def _read(self) -> float:
        value = float(schedule_value("tick_s", DEFAULT_TICK_S, Path(self.path) if self.path else None))
        return value if value > 0 else DEFAULT_TICK_S

    @property
    def run_every(self) -> timedelta:
        if time.monotonic() - self._read_at >= self.reread_s:
            self._every, self._read_at = self._read(), time.monotonic()
        return timedelta(seconds=self._every)

    @run_every.setter
    def run_every(self, _value: Any) -> None:
        pass  # the file is the source; celery's constructor assigns it once

    def __reduce__(self) -> tuple[Any, ...]:  # beat pickles its schedule into celerybeat-schedule
        return self.__class__, (self.path, self.reread_s)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigTick) and other.path == self.path

    __hash__ = schedule.__hash__


def celery_config(url: str, tick_s: float) -> dict[str, Any]:
    return {
        "broker_url": url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_queues": [Queue(q) for q in QUEUES],
        "task_default_queue": "article",
        "task_routes": {
            "marsad.tick": {"queue": "poll"},
            "marsad.poll_feed": {"queue": "poll"},
            "marsad.process_article": {"queue": "article"},
            "marsad.send_alert": {"queue": "alert"},
            "marsad.digest_tick": {"queue": "alert"},
            "marsad.ops_check": {"queue": "alert"},
            "marsad.archive_tick": {"queue": "poll"},
        },
        # acks_late alone LOSES a task whose pool process is SIGKILLed: reject_on_worker_lost requeues it.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        # A task cut off by a lost broker connection cannot publish its retry; without this Celery drops it
        # (Reject, no requeue). With it the message stays unacked and returns after the visibility timeout.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": TASK_SOFT_LIMIT_S,
        "task_time_limit": TASK_HARD_LIMIT_S,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep trying while Redis is down, never exit
        "broker_transport_options": dict(BROKER_OPTIONS),
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,  # `marsad worker --events` turns them on (Flower)
        "task_send_sent_event": True,  # with events on, Flower also sees tasks waiting in the queues
        "beat_schedule": {
            "marsad-tick": {
                "task": "marsad.tick",
                "schedule": ConfigTick(),
                # A tick that waited longer than its period is stale: the next one does its work.
                "options": {"queue": "poll", "expires": max(1.0, tick_s)},
            },
            "marsad-digest-tick": {"task": "marsad.digest_tick", "schedule": DIGEST_TICK_S,
                                   "options": {"queue": "alert", "expires": DIGEST_TICK_S}},
            "marsad-ops-check": {"task": "marsad.ops_check", "schedule": OPS_CHECK_S,
                                 "options": {"queue": "alert", "expires": OPS_CHECK_S}},
            "marsad-archive-tick": {"task": "marsad.archive_tick", "schedule": OPS_CHECK_S,
                                    "options": {"queue": "poll", "expires": OPS_CHECK_S}},
        },
    }


app = Celery("marsad", include=["workers.tasks.poll", "workers.tasks.article", "workers.tasks.alert",
                                      "workers.tasks.digest", "workers.tasks.archive"])


def use_redis(url: str) -> None:
    """Point the app at this redis_url (TCP, unix socket or Sentinel) as its broker."""
    broker, options = connect.broker(url)
    app.conf.broker_url = broker
    app.conf.broker_transport_options = {**app.conf.broker_transport_options, **options}


app.conf.update(celery_config(broker_url(), float(schedule_value("tick_s", DEFAULT_TICK_S))))
use_redis(broker_url())
