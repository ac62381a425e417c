"""Config hot reload: a broken watchlist keeps the last good config running; a fixed one is picked up."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.harness import WatchSpec, alert_keys, log_events, make_items, wait_for, write_watches
from tests.reliability.conftest import MARKERS, WATCHES, World

pytestmark = pytest.mark.reliability

RELOAD_S = 1  # schedule.reload_s in the test config
STORM = "عاصفة"


def test_broken_watchlist_keeps_last_good_config_and_fix_is_picked_up(world_factory: Callable[..., World]) -> None:
    world = world_factory(["f0"])
    first = make_items(2, ["f0"], MARKERS, seed=51, prefix="h")
    world.site.publish(first)
    wk = world.worker()
    wait_for(lambda: len(world.slack.posts) >= 2, 60, "alerts with the first config", world.logs)
    watchlist = world.config.parent / "watchlists" / "main.yaml"
    # A typo while editing: unbalanced quote in a query and a YAML error in a new file.
    watchlist.write_text(watchlist.read_text(encoding="utf-8").replace("'زلزال'", "'زلزال AND (\""),
                         encoding="utf-8")
    (watchlist.parent / "new.yaml").write_text("watches: [ {id: storm, query: \n", encoding="utf-8")
    wait_for(lambda: len(log_events(wk.log, "config_reload_failed")) >= 1, 10 * RELOAD_S + 10,
             "a config_reload_failed log line", world.logs)
    second = make_items(2, ["f0"], MARKERS, seed=52, prefix="i")
    world.site.publish(second)
    wait_for(lambda: len(world.slack.posts) >= 4, 60, "alerts with the last good config", world.logs)
    # Fixed: a storm watch is added; the worker picks it up within a few reload periods.
    (watchlist.parent / "new.yaml").unlink()
    write_watches(watchlist, [*WATCHES, WatchSpec("storm", STORM)])
    t_fix = time.monotonic()
    wait_for(lambda: len(log_events(wk.log, "config_reloaded")) >= 1, 10 * RELOAD_S + 10, "config_reloaded",
             world.logs)
    reload_s = time.monotonic() - t_fix
    third = make_items(1, ["f0"], (STORM,), seed=53, prefix="j")
    world.site.publish(third)
    wait_for(lambda: len(world.slack.posts) >= 5, 60, "the storm alert", world.logs)
    time.sleep(2)
    got = alert_keys(world.slack.posts)
    assert sorted(got) == sorted(it.key for it in first + second + third), got
    failed = len(log_events(wk.log, "config_reload_failed"))
    assert wk.alive()
    wk.stop()
    print(f"\nhot reload: broken watchlist → reload failures logged={failed}, alerts with last good config "
          f"expected={len(second)} received={len(second)}; fixed config reloaded within {reload_s:.1f} s "
          f"(reload_s={RELOAD_S}); alerts expected={len(got)} received={len(got)}")
