"""A worker SIGKILLed mid-article or mid-alert: the task comes back and completes; no alert lost or doubled."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.harness import HTTPServer, alert_keys, make_items, wait_for
from tests.reliability.conftest import MARKERS, World

pytestmark = pytest.mark.reliability

SLOW_S = 4.0  # long enough for the test to see the request in flight and kill its sender


def _slow_first(path_of: str) -> Callable[[str], float]:
    seen: list[str] = []

    def delay(path: str) -> float:
        if path.split("?")[0] == path_of and path_of not in seen:
            seen.append(path_of)
            return SLOW_S
        return 0.0

    return delay


def _kill_sender(world: World, server: HTTPServer, path: str | None = None) -> int:
    """SIGKILL the pool process whose request (to `path`, or any) `server` is answering; returns its pid."""
    wk = world.workers[0]
    proc = None

    def found() -> bool:
        nonlocal proc
        ports = [c for c, p in list(server.in_flight.items()) if path is None or p.split("?")[0] == path]
        proc = wk.process_talking_to(server.port, ports[0]) if ports else None
        return proc is not None

    wait_for(found, 10, f"the worker process talking to port {server.port}", world.logs)
    assert proc is not None
    assert proc.pid != wk.pid, "the request came from the main process, not a pool child"
    proc.send_signal(signal.SIGKILL)
    return int(proc.pid)


def _assert_once_each(world: World, keys: list[str], settle_s: float = 3.0) -> list[str]:
    wait_for(lambda: len(world.slack.posts) >= len(keys), 60, f"{len(keys)} alerts", world.logs)
    time.sleep(settle_s)  # a doubled alert would arrive now
    got = alert_keys(world.slack.posts)
    doubled = {k: n for k, n in Counter(got).items() if n > 1}
    assert sorted(got) == sorted(keys), f"alerts expected={sorted(keys)} received={got} doubled={doubled}"
    return got


def test_pool_child_killed_mid_article_redelivers_and_alerts_once(world_factory: Callable[..., World]) -> None:
    items = make_items(2, ["f0"], MARKERS, seed=11)
    slow = items[0].path()
    world = world_factory(["f0"], page_delay=_slow_first(slow))
    world.site.publish(items)
    world.worker()
    wait_for(lambda: slow in world.site.server.in_flight.values(), 60, "the slow page fetch", world.logs)
    pid = _kill_sender(world, world.site.server, slow)
    got = _assert_once_each(world, [it.key for it in items])
    fetches = world.site.server.count(slow)
    assert fetches == 2, f"the killed article's page was fetched {fetches} times (expected: once more after the kill)"
    assert world.workers[0].alive()
    world.workers[0].stop()
    print(f"\nkill pool child pid={pid} mid-article: tasks redelivered={fetches - 1} "
          f"alerts expected={len(items)} received={len(got)} doubled=0")


def test_pool_child_killed_mid_alert_redelivers_and_alerts_once(world_factory: Callable[..., World]) -> None:
    items = make_items(2, ["f0"], MARKERS, seed=12)
    # The first webhook POST is held open; the kill lands while it waits for the answer.
    world = world_factory(["f0"], post_hold=lambda n: SLOW_S if n == 0 else 0.0)
    world.site.publish(items)
    # The killed send left its (watch, story, sink) claim "sending:<task id>" for ALERT_CLAIM_TTL_S (240 s,
    # unchanged here): the redelivered task has the same id and takes the claim back at once, instead of
    # retrying "busy" until it expires.
    world.worker()
    wait_for(lambda: bool(world.slack.in_flight), 60, "a webhook POST in flight", world.logs)
    t_kill = time.monotonic()
    pid = _kill_sender(world, world.slack)
    got = _assert_once_each(world, [it.key for it in items])
    took = time.monotonic() - t_kill
    assert len(world.slack.aborted) == 1, f"aborted sends={len(world.slack.aborted)}"
    retries = [e for e in _events(world, "alert_sent") if e.get("outcome") == "retry"]
    assert not [e for e in retries if "another worker" in str(e.get("reason"))], retries
    assert took < 120, f"the redelivered alert waited {took:.0f} s"
    world.workers[0].stop()
    print(f"\nkill pool child pid={pid} mid-alert: aborted sends={len(world.slack.aborted)} "
          f"busy retries={len(retries)} redelivered alert after {took:.1f} s "
          f"alerts expected={len(items)} received={len(got)} doubled=0")


def test_whole_worker_killed_mid_article_new_worker_finishes_it(world_factory: Callable[..., World]) -> None:
    items = make_items(2, ["f0"], MARKERS, seed=13)
    slow = items[0].path()
    world = world_factory(["f0"], page_delay=_slow_first(slow))
    world.site.publish(items)
    first = world.worker()
    wait_for(lambda: slow in world.site.server.in_flight.values(), 60, "the slow page fetch", world.logs)
    first.kill()  # the whole process group: nothing acks, nothing rejects, the message stays "unacked"
    t_kill = time.monotonic()
    # The unacked message comes back after the visibility timeout (600 s in production): 8 s here.
    world.worker(overrides={"visibility_timeout": 8})
    got = _assert_once_each(world, [it.key for it in items])
    took = time.monotonic() - t_kill
    fetches = world.site.server.count(slow)
    assert fetches == 2, f"page fetched {fetches} times"
    world.workers[1].stop()
    print(f"\nkill whole worker mid-article: tasks redelivered={fetches - 1} after {took:.1f} s "
          f"alerts expected={len(items)} received={len(got)} doubled=0")


def _events(world: World, name: str) -> list[dict[str, object]]:
    from tests.harness import log_events

    return [e for log in world.logs for e in log_events(log, name)]
