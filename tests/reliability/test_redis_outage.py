"""Redis restarted or down mid-run: workers reconnect by themselves, nothing acknowledged is lost or doubled."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest
import redis

from tests.harness import alert_keys, make_items, queue_depths, wait_for
from tests.reliability.conftest import MARKERS, World

pytestmark = pytest.mark.reliability

# The issue asks for 60 s. 20 s by default keeps the suite fast while still outlasting every timer that
# matters (broker socket_timeout 15 s, health_check_interval 10 s, connect timeout 5 s), so the worker goes
# through failed publishes, failed consumes and its reconnect loop. MARSAD_OUTAGE_S=60 runs the full case.
OUTAGE_S = float(os.environ.get("MARSAD_OUTAGE_S", "20"))
FEEDS = ["f0", "f1"]


def _fresh(world: World) -> redis.Redis:
    return redis.Redis.from_url(world.redis_server.url, socket_timeout=5)


def _diagnose(world: World, keys: list[str]) -> str:
    """Where the missing alerts are: still queued, unacked (waiting for the visibility timeout), or gone."""
    client = _fresh(world)
    try:
        got = set(alert_keys(world.slack.posts))
        pages = sorted(p for p in world.site.server.gets if "/news/" in p)
        return (f"missing={sorted(set(keys) - got)} queues={queue_depths(client)} "
                f"unacked={client.hlen('unacked')} page GETs={pages}")
    finally:
        client.close()


def _exactly_once(world: World, keys: list[str], timeout: float) -> float:
    try:
        took = wait_for(lambda: len(world.slack.posts) >= len(keys), timeout, f"{len(keys)} alerts", world.logs)
    except AssertionError as exc:
        raise AssertionError(f"{_diagnose(world, keys)}\n{exc}") from None
    time.sleep(3)  # a doubled alert would arrive now
    got = alert_keys(world.slack.posts)
    doubled = {k: n for k, n in Counter(got).items() if n > 1}
    assert sorted(got) == sorted(keys), f"alerts expected={len(keys)} received={len(got)} doubled={doubled}"
    return took


# Guards a bug once seen here: a task that met a Redis ConnectionError called self.retry(), which must publish
# to the (down) broker; Celery turned the failed publish into Reject(requeue=False) and dropped the message, its
# entry already claimed as seen, so the article and its alerts were lost. The fix is
# worker_cancel_long_running_tasks_on_connection_loss=True in workers/app.py: in-flight tasks are cancelled and
# their messages stay unacked, redelivered after the visibility timeout.
def test_redis_restart_mid_run_loses_and_doubles_nothing(world_factory: Callable[..., World]) -> None:
    first = make_items(6, FEEDS, MARKERS, seed=21, prefix="r")
    second = make_items(6, FEEDS, MARKERS, seed=22, prefix="s")
    slow = {it.path() for it in second}
    # Pages of the second batch take 1 s each, so work is queued and in flight when Redis goes away.
    world = world_factory(FEEDS, page_delay=lambda p: 1.0 if p.split("?")[0] in slow else 0.0)
    world.site.publish(first)
    # Work cut off by the outage may come back through the visibility timeout (600 s in production): 10 s here.
    wk = world.worker(overrides={"visibility_timeout": 10})
    _exactly_once(world, [it.key for it in first], 60)
    world.site.publish(second)
    wait_for(lambda: any(p in slow for p in world.site.server.in_flight.values()), 30, "a slow page in flight",
             world.logs)
    depths = queue_depths(world.client)
    world.redis_server.stop()  # SIGTERM: Redis writes its AOF and exits, as on a service restart
    time.sleep(2)
    world.redis_server.start()
    client = _fresh(world)
    sent_after_restart = sum(1 for k in client.scan_iter("marsad:alert:*") if client.get(k) == b"sent")
    assert sent_after_restart >= len(first), f"sent marks after restart={sent_after_restart} < {len(first)}"
    took = _exactly_once(world, [it.key for it in first + second], 30)
    assert wk.alive(), "the worker exited instead of reconnecting"
    seen = sum(1 for _ in client.scan_iter("marsad:seen:*"))
    assert seen == len(first) + len(second), f"seen claims={seen}"
    wk.stop()
    client.close()
    print(f"\nredis restart mid-run: queues at stop={depths} sent marks kept={sent_after_restart} "
          f"alerts expected={len(first) + len(second)} received={len(world.slack.posts)} doubled=0 "
          f"recovered in {took:.1f} s")


def test_redis_down_for_a_while_nothing_crashes_and_work_resumes(world_factory: Callable[..., World]) -> None:
    first = make_items(4, FEEDS, MARKERS, seed=31, prefix="o")
    second = make_items(6, FEEDS, MARKERS, seed=32, prefix="p")
    world = world_factory(FEEDS)
    world.site.publish(first)
    wk = world.worker()
    _exactly_once(world, [it.key for it in first], 60)
    pool_before = len(wk.children())
    world.redis_server.stop()
    # News keeps coming while Redis is down: it must be picked up once Redis is back.
    world.site.publish(second)
    gets_before = len(world.site.server.gets)
    time.sleep(OUTAGE_S)
    assert wk.alive(), f"the worker exited during a {OUTAGE_S:g} s Redis outage\n{wk.log_tail()}"
    pool_during = len(wk.children())
    gets_during = len(world.site.server.gets) - gets_before
    world.redis_server.start()
    t_up = time.monotonic()
    _exactly_once(world, [it.key for it in first + second], 120)
    took = time.monotonic() - t_up
    assert wk.alive()
    wk.stop()
    print(f"\nredis down {OUTAGE_S:g} s: worker alive=yes pool processes before={pool_before} during={pool_during} "
          f"feed GETs during outage={gets_during} alerts expected={len(first) + len(second)} "
          f"received={len(world.slack.posts)} doubled=0 work resumed within {took:.1f} s of Redis coming back")


def test_connection_lost_while_a_task_runs_and_the_consumer_waits_keeps_the_worker(
        world_factory: Callable[..., World]) -> None:
    """One task in flight (its message delivered, unacked) while the consumer's BRPOP waits for more: the
    connection drops under both. Celery 5.7.0 closed the broken connection a second time there, and kombu's
    restore of the unacked message on the already-closed transport raised AttributeError, which the worker
    took for an unrecoverable error and exited (seen in the Sentinel failover test); hence celery<5.7."""
    first = make_items(2, FEEDS, MARKERS, seed=41, prefix="q")
    slow = make_items(1, FEEDS, MARKERS, seed=42, prefix="w")
    paths = {it.path() for it in slow}
    world = world_factory(FEEDS, page_delay=lambda p: 4.0 if p.split("?")[0] in paths else 0.0)
    world.site.publish(first)
    wk = world.worker(overrides={"visibility_timeout": 10})
    _exactly_once(world, [it.key for it in first], 60)
    world.site.publish(slow)
    wait_for(lambda: any(p in paths for p in world.site.server.in_flight.values()), 30, "the slow page in flight",
             world.logs)
    assert world.redis_server.proc is not None
    os.kill(world.redis_server.proc.pid, signal.SIGKILL)  # the connection drops at once, mid-task
    world.redis_server.proc.wait(10)
    time.sleep(1)
    world.redis_server.start()
    time.sleep(3)  # the consumer meets the lost connection and reconnects
    assert wk.alive(), f"the worker exited on the lost connection\n{wk.log_tail()}"
    # With the bug the process may still be alive for a while (shutting down, consuming nothing): what fails
    # is the slow article's alert, which never comes.
    _exactly_once(world, [it.key for it in first + slow], 60)
    wk.stop()
