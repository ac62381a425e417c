"""Two beats running at once: each feed is still polled once per interval (the per-feed due claim in Redis)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import wait_for, write_config
from tests.reliability.conftest import WATCHES, World

pytestmark = pytest.mark.reliability

FEEDS = ["f0", "f1", "f2"]
INTERVAL_S = 3
WINDOW_S = 15.0


def test_two_beats_poll_each_feed_once_per_interval(world_factory: Callable[..., World]) -> None:
    world = world_factory(FEEDS, interval=f"{INTERVAL_S}s")
    # Same cluster, second beat with its own schedule file (as on another machine).
    other = write_config(world.tmp / "config2", world.redis_server.url,
                         {f: world.site.feed_url(f) for f in FEEDS}, WATCHES, interval=f"{INTERVAL_S}s",
                         slack_url=f"{world.slack.base}/hooks/x", data_dir="../var2")
    world.worker("worker", "-c", "2")
    # DEBUG: beat's "Sending due task" lines, quiet at INFO, are what this test counts.
    beats = [world.worker("beat", "--loglevel", "DEBUG"), world.worker("beat", "--loglevel", "DEBUG", config=other)]
    server = world.site.server
    wait_for(lambda: all(server.count(f"/feeds/{f}.xml") >= 2 for f in FEEDS), 60, "every feed polled twice",
             world.logs)
    sent_before = [_ticks_sent(b.log) for b in beats]
    t0 = time.monotonic()
    time.sleep(WINDOW_S)
    t1 = time.monotonic()
    ticks = [_ticks_sent(b.log) - n for b, n in zip(beats, sent_before, strict=True)]
    figures = []
    for f in FEEDS:
        times = [t for p, t in list(server.get_times) if p == f"/feeds/{f}.xml" and t0 <= t < t1]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        figures.append((f, len(times), min(gaps) if gaps else float("inf")))
    for w in world.workers:
        w.stop()
    most = int(WINDOW_S / INTERVAL_S) + 1  # polls that fit in the window at one per interval
    # Each beat ticks once a second (tick_s: 1): both must really be ticking for the test to mean anything.
    assert all(n >= 0.7 * WINDOW_S for n in ticks), f"ticks sent per beat={ticks} in {WINDOW_S:g} s"
    for f, n, gap in figures:
        assert 2 <= n <= most, f"feed {f}: {n} GETs in {WINDOW_S:g} s (interval {INTERVAL_S} s, at most {most})"
        # A double poll shows as two GETs close together; a due claim keeps them about an interval apart.
        assert gap >= 0.5 * INTERVAL_S, f"feed {f}: two polls {gap:.2f} s apart (interval {INTERVAL_S} s)"
    print(f"\ntwo beats for {WINDOW_S:g} s: ticks sent per beat={ticks} polls per feed="
          f"{[n for _, n, _ in figures]} (at most {most}) min gap between polls="
          f"{min(g for _, _, g in figures):.2f} s (interval {INTERVAL_S} s)")


def _ticks_sent(log: Path) -> int:
    return log.read_text(errors="replace").count("Sending due task marsad-tick")
