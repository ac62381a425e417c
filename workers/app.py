"""The Celery app: queues, routes, the beat tick, and the reliability settings measured to matter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from celery import Celery
from kombu.entity import Queue

QUEUES = ("poll", "article", "alert")
# Redelivery: an unacked message of a crashed worker comes back after this many seconds. Every
# time limit and retry countdown stays well below it, or a slow task would run twice.
VISIBILITY_TIMEOUT_S = 600
TASK_SOFT_LIMIT_S = 120
TASK_HARD_LIMIT_S = 180
MAX_RETRY_COUNTDOWN_S = 300
# Digests go out, and held alerts are released, within this long of their time; ops checks run this often.
DIGEST_TICK_S = 30.0
OPS_CHECK_S = 60.0


def config_path() -> Path:
    return Path(os.environ.get("MARSAD_CONFIG") or "config/marsad.yaml").resolve()


def broker_url(path: Path | None = None) -> str:
    """MARSAD_REDIS_URL (set by `marsad up` for the embedded server) wins, then the config's redis_url."""
    url = os.environ.get("MARSAD_REDIS_URL")
    if url:
        return url
    try:
        raw = yaml.safe_load((path or config_path()).read_text(encoding="utf-8")) or {}
        from workers.settings import expand_env

        url = expand_env(raw.get("redis_url"), os.environ)
    except (OSError, yaml.YAMLError, AttributeError):
        url = None
    return str(url or "redis://127.0.0.1:6379/0")


def schedule_value(key: str, default: Any, path: Path | None = None) -> Any:
    """One `schedule:` setting read straight from the YAML (the Celery app is built before settings load;
    `marsad check` validates the file)."""
    try:
        raw = yaml.safe_load((path or config_path()).read_text(encoding="utf-8")) or {}
        value = (raw.get("schedule") or {}).get(key, default)
        return default if value is None else float(value)
    except (OSError, yaml.YAMLError, AttributeError, ValueError, TypeError):
        return default


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
