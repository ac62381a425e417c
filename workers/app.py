"""The Celery app: queues, routes, the beat tick, and the reliability settings measured to matter (the limits
themselves, and how they relate, are in workers/config/limits.py)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Queue

from workers.config.env import broker_url, schedule_value
from workers.config.limits import (
    DIGEST_TICK_S,
    OPS_CHECK_S,
    TASK_HARD_LIMIT_S,
    TASK_SOFT_LIMIT_S,
    VISIBILITY_TIMEOUT_S,
)
from workers.stores.keys import QUEUES


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
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            # kombu's default sweep runs every 10 s × throttle 10; scan each time so redelivery takes seconds.
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            # kombu sets no socket timeouts by default: a dead connection would hang a publish forever.
            "socket_timeout": 15,
            "socket_connect_timeout": 5,
            "health_check_interval": 10,
            "retry_on_timeout": True,
        },
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "beat_schedule": {
            "marsad-tick": {
                "task": "marsad.tick",
                "schedule": tick_s,
                # A tick that waited longer than its period is stale: the next one does its work.
                "options": {"queue": "poll", "expires": max(1.0, tick_s)},
            },
            "marsad-digest-tick": {"task": "marsad.digest_tick", "schedule": DIGEST_TICK_S,
                                   "options": {"queue": "alert", "expires": DIGEST_TICK_S}},
            "marsad-ops-check": {"task": "marsad.ops_check", "schedule": OPS_CHECK_S,
                                 "options": {"queue": "alert", "expires": OPS_CHECK_S}},
        },
    }


app = Celery("marsad", include=["workers.tasks.poll", "workers.tasks.article", "workers.tasks.alert",
                                      "workers.tasks.digest"])
app.conf.update(celery_config(broker_url(), float(schedule_value("tick_s", 15.0))))
