"""A worker alive but no longer consuming is visible: its 'last task finished' heartbeat ages while work waits."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import psutil
import pytest
import redis

from tests.harness import make_items, queue_depths, wait_for
from tests.reliability.conftest import MARKERS, World
from workers.metrics import HEARTBEATS, RedisCollector

pytestmark = pytest.mark.reliability

# Stale = no task finished for this long while a queue holds work. With tick_s 1 and feeds due every 2 s a
# healthy worker finishes a task every second or so; in production the threshold would be a few tick_s.
STALE_AFTER_S = 5.0
STUCK_FOR_S = 8.0


def _gauges(client: redis.Redis) -> tuple[dict[str, float], dict[str, float]]:
    """(worker → seconds since its last finished task, queue → depth) as the Prometheus exporter shows them."""
    ages: dict[str, float] = {}
    depths: dict[str, float] = {}
    for fam in RedisCollector(client).collect():
        for s in fam.samples:
            if s.name == "marsad_worker_last_task_age_seconds":
                ages[s.labels["worker"]] = s.value
            elif s.name == "marsad_queue_depth":
                depths[s.labels["queue"]] = s.value
    return ages, depths


def _stale(client: redis.Redis) -> list[str]:
    ages, depths = _gauges(client)
    return [w for w, age in ages.items() if age > STALE_AFTER_S and sum(depths.values()) > 0]


def test_worker_that_stops_consuming_is_detected_by_its_heartbeat(world_factory: Callable[..., World]) -> None:
    world = world_factory(["f0"])
    world.site.publish(make_items(2, ["f0"], MARKERS, seed=41))
    wk = world.worker()
    client = world.client
    wait_for(lambda: len(world.slack.posts) >= 2 and client.hlen(HEARTBEATS) > 0, 60, "alerts and a heartbeat",
             world.logs)
    assert _stale(client) == [], "a healthy worker is reported stale"
    # The consumer (the worker's main process) stops; the process stays alive and its beat keeps ticking, as
    # in the Celery bugs where a worker survives a reconnect but never consumes again.
    main = psutil.Process(wk.pid)
    main.send_signal(signal.SIGSTOP)
    try:
        time.sleep(STUCK_FOR_S)
        alive = main.is_running() and main.status() != psutil.STATUS_ZOMBIE
        ages, depths = _gauges(client)
        stale = _stale(client)
    finally:
        main.send_signal(signal.SIGCONT)
    assert alive
    assert depths["poll"] > 0, f"no work waiting while the consumer was stopped: {depths}"
    assert max(ages.values()) >= STUCK_FOR_S - 1, f"heartbeat ages={ages}"
    assert len(stale) == 1, f"stale workers={stale} ages={ages} depths={depths}"
    # Recovery: once it consumes again the heartbeat is fresh and the queues drain.
    recovered = wait_for(lambda: _stale(client) == [] and queue_depths(client)["poll"] <= 1, 30,
                         "the worker to catch up", world.logs)
    wk.stop()
    print(f"\nstuck consumer for {STUCK_FOR_S:g} s: process alive=yes heartbeat age={max(ages.values()):.1f} s "
          f"queue depths={ {k: int(v) for k, v in depths.items()} } detected stale={len(stale)} "
          f"(rule: age > {STALE_AFTER_S:g} s and work queued) caught up in {recovered:.1f} s after SIGCONT")
