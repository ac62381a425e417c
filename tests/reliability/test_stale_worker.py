"""A worker alive but no longer consuming is seen (its 'last task finished' ages while work waits) and restarted."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import psutil
import pytest
import redis
from celery import Celery

from tests.harness import alert_keys, make_items, queue_depths, wait_for
from tests.reliability.conftest import MARKERS, World
from workers.daemon.metrics import RedisCollector
from workers.stores.keys import QUEUES
from workers.stores.liveness import HEARTBEATS, workers
from workers.stores.metrics import COUNTERS

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


STALL_AFTER_S = 4.0


def _records(client: redis.Redis) -> dict[str, dict[str, object]]:
    return {name: info for name, info in workers(client).items() if info.get("pid")}


def test_worker_that_stops_consuming_restarts_itself_under_marsad_up(world_factory: Callable[..., World]) -> None:
    world = world_factory(["f0"])
    # Short stall window for the test; in production it is max(300 s, 10 × tick_s).
    world.config.write_text(world.config.read_text().replace("reload_s: 1}", f"reload_s: 1, stall_after_s: "
                                                                             f"{STALL_AFTER_S:g}}}"))
    world.site.publish(make_items(2, ["f0"], MARKERS, seed=43, prefix="b"))
    up = world.worker("up", "--workers", "2")
    client = world.client
    wait_for(lambda: len(world.slack.posts) >= 2 and len(_records(client)) == 1, 60, "alerts and a worker record",
             world.logs)
    (first,) = _records(client)
    # Alive and looping, but consuming nothing: what Celery #8030/#10205 leave behind after a reconnect. The
    # remote-control command stops the consumer exactly like that, without touching the process.
    ctl = Celery(broker=world.redis_server.url)
    for q in QUEUES:
        ctl.control.cancel_consumer(q, destination=[first], reply=True, timeout=5)
    stopped_at = time.monotonic()
    world.site.publish(make_items(4, ["f0"], MARKERS, seed=44, prefix="c"))
    wait_for(lambda: queue_depths(client)["poll"] > 0, 20, "work to wait in the poll queue", world.logs)
    new = wait_for(lambda: any(n != first for n in _records(client)), 60, "a fresh worker", world.logs)
    restarted_in = time.monotonic() - stopped_at
    wait_for(lambda: len(world.slack.posts) >= 6, 60, "the alerts published during the stall", world.logs)
    time.sleep(2)  # a double would arrive now
    keys = alert_keys(world.slack.posts)
    records = _records(client)
    log = up.log_tail(20000)
    up.stop()
    assert first not in records, f"the stalled worker's record lingers: {records}"
    assert "worker_stalled" in log and "worker_restarting" in log
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 6, f"alerts={keys}"
    assert up.proc is not None and up.proc.returncode == 0, "marsad up did not stop cleanly"
    assert int(client.hget(COUNTERS, "marsad_worker_stalls_total|") or 0) == 1
    print(f"\nconsumer cancelled (process alive): restarted by the watchdog after {restarted_in:.1f} s "
          f"(stall_after_s={STALL_AFTER_S:g}, seen {new:.1f} s after work queued); old record removed=yes; "
          f"alerts expected=6 received={len(keys)} doubled={len(keys) - len(set(keys))}")
