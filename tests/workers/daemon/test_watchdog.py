"""The watchdog's stall rule, its liveness records in a real Redis, and `marsad up`'s restart policy."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
import redis

from workers.daemon.supervisor import MAX_RESTARTS, Supervisor, should_restart
from workers.daemon.watchdog import Watchdog
from workers.stores import liveness
from workers.stores.liveness import EX_STALLED, Progress, check_every_s, forget, prune, stall_after_s, workers


def _p(**kw: Any) -> Progress:
    base: dict[str, Any] = dict(now=1000.0, last_received=0.0, last_finished=0.0, waiting_since=500.0, active=0,
                                concurrency=2)
    return Progress(**{**base, **kw})


def test_stalled_when_work_waited_longer_than_the_window_and_nothing_was_received_or_finished() -> None:
    assert _p().stalled(300)
    assert not _p(waiting_since=800.0).stalled(300), "work has not waited long enough"


@pytest.mark.parametrize("change", [dict(last_received=900.0), dict(last_finished=900.0), dict(waiting_since=None),
                                    dict(active=2)])
def test_not_stalled_when_it_received_finished_had_no_work_or_is_busy(change: dict[str, Any]) -> None:
    assert not _p(**change).stalled(300)


def test_stall_window_defaults_to_ten_ticks_and_never_under_five_minutes() -> None:
    assert stall_after_s(15) == 300
    assert stall_after_s(60) == 600
    assert stall_after_s(15, configured=4) == 4
    assert check_every_s(300) == 30 and check_every_s(4) == pytest.approx(0.8)


def test_waiting_since_starts_with_queued_work_and_resets_when_the_queue_empties(redis_client: redis.Redis) -> None:
    dog = Watchdog(redis_client, "w1@h", ["poll"], 1, stall_after=10)
    dog.started = dog.last_received = 90.0  # on the test's clock
    assert dog.look(100.0).waiting_since is None
    redis_client.rpush("poll", b"x")
    assert dog.look(101.0).waiting_since == 101.0
    assert dog.look(150.0).stalled(10), "work waited 49 s, nothing received or finished"
    redis_client.hset(liveness.HEARTBEATS, "w1@h", f"{149.5:.3f} marsad.poll_feed")
    assert not dog.look(150.0).stalled(10), "a task finished half a second ago"
    redis_client.delete("poll")
    assert dog.look(151.0).waiting_since is None


def test_records_are_refreshed_forgotten_on_shutdown_and_pruned_when_the_worker_died(redis_client: redis.Redis) -> None:
    now = time.time()
    live = Watchdog(redis_client, "live@h", ["poll"], 2, stall_after=300)
    live.beat(now)
    dead = Watchdog(redis_client, "dead@h", ["alert"], 1, stall_after=300)
    dead.beat(now - 3600)
    redis_client.hset(liveness.HEARTBEATS, "old-without-record@h", f"{now - 7200:.3f} marsad.tick")
    redis_client.hset(liveness.HEARTBEATS, "live@h", f"{now - 5:.3f} marsad.poll_feed")
    known = workers(redis_client)
    assert known["live@h"]["queues"] == ["poll"]
    assert known["live@h"]["last_finished"] == pytest.approx(now - 5, abs=1e-3)
    assert known["live@h"]["last_task"] == "marsad.poll_feed"
    assert sorted(prune(redis_client, now, gone_after=300)) == ["dead@h", "old-without-record@h"]
    assert sorted(workers(redis_client)) == ["live@h"]
    forget(redis_client, "live@h")
    assert workers(redis_client) == {}


def test_restart_policy_restarts_stalls_and_deaths_by_signal_only() -> None:
    assert should_restart(EX_STALLED) and should_restart(-signal.SIGKILL)
    assert not should_restart(0) and not should_restart(1)


class _Child:
    def __init__(self, code: int) -> None:
        self.code = code

    def wait(self) -> int:
        return self.code

    def poll(self) -> int:
        return self.code

    def send_signal(self, sig: int) -> None:  # pragma: no cover - not reached: children exit by themselves
        raise AssertionError(sig)


def test_supervisor_restarts_a_stalled_worker_and_passes_on_a_clean_exit() -> None:
    codes = [EX_STALLED, -signal.SIGKILL, 0]
    spawned: list[list[str]] = []

    def spawn(argv: list[str], env: dict[str, str]) -> _Child:
        spawned.append(argv)
        return _Child(codes[len(spawned) - 1])

    assert Supervisor(["w"], {}, pause_s=0, spawn=spawn).run() == 0  # type: ignore[arg-type]
    assert len(spawned) == 3


def test_supervisor_gives_up_on_a_restart_loop() -> None:
    n = 0

    def spawn(argv: list[str], env: dict[str, str]) -> _Child:
        nonlocal n
        n += 1
        return _Child(EX_STALLED)

    assert Supervisor(["w"], {}, pause_s=0, spawn=spawn).run() == 1  # type: ignore[arg-type]
    assert n == MAX_RESTARTS + 1


def test_supervisor_passes_on_a_config_error_without_restarting() -> None:
    n = 0

    def spawn(argv: list[str], env: dict[str, str]) -> _Child:
        nonlocal n
        n += 1
        return _Child(1)

    assert Supervisor(["w"], {}, pause_s=0, spawn=spawn).run() == 1  # type: ignore[arg-type]
    assert n == 1


@pytest.mark.parametrize("code, expected", [(0, 0), (1, 0), (-signal.SIGKILL, -signal.SIGKILL)])
def test_supervisor_stopped_by_ctrl_c_reports_a_clean_stop(code: int, expected: int) -> None:
    sup: Supervisor

    class Stopped(_Child):
        def wait(self) -> int:
            sup._stop(signal.SIGINT, None)  # Ctrl-C arrives while the worker runs; it then exits with `code`
            return self.code

        def poll(self) -> None:  # type: ignore[override]
            return None

        def send_signal(self, sig: int) -> None:
            assert sig == signal.SIGTERM  # a warm shutdown however often it arrives, unlike a second SIGINT

    sup = Supervisor(["w"], {}, pause_s=0, spawn=lambda argv, env: Stopped(code))  # type: ignore[arg-type]
    assert sup.run() == expected
