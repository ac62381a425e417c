"""Beat's alerting ticks: digests, held alerts, throttle notices and spikes; ops health alerts."""

from __future__ import annotations

import time

import structlog

from workers.alerts import health, ticks
from workers.app import app
from workers.config.limits import TICK_LOCK_S
from workers.config.models import OpsConfig
from workers.runtime import runtime


@app.task(name="marsad.digest_tick", acks_late=True, ignore_result=True, queue="alert")
def digest_tick() -> dict[str, int]:
    from workers.tasks.alert import send_alert

    rt = runtime()
    token = rt.locks.acquire("digest_tick", TICK_LOCK_S)
    if token is None:
        return {}
    try:
        stats = ticks.digest_tick(rt, time.time(), lambda alert, sink: send_alert.delay(alert, sink))
    finally:
        rt.locks.release("digest_tick", token)
    if any(stats.values()):
        structlog.get_logger("marsad").info("digest_tick", **stats)
    return stats


@app.task(name="marsad.ops_check", acks_late=True, ignore_result=True, queue="alert")
def ops_check() -> dict[str, int]:
    rt = runtime()
    cfg: OpsConfig | None = getattr(rt.settings, "ops", None)
    token = rt.locks.acquire("ops_check", TICK_LOCK_S) if cfg is not None else None
    if cfg is None or token is None:
        return {}
    try:
        stats = health.ops_check(rt, cfg, time.time())
    finally:
        rt.locks.release("ops_check", token)
    if stats:
        structlog.get_logger("marsad").info("ops_check", **stats)
    return stats
