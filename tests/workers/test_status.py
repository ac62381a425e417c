"""`marsad status` on a real Redis: worker states (ok, idle, stale, gone) and untrusted text printed literally."""

from __future__ import annotations

import io
import time
from pathlib import Path

import redis
from rich.console import Console

from tests.harness import WatchSpec, write_config
from workers.cli.state import render
from workers.config.load import load_settings
from workers.daemon.watchdog import Watchdog
from workers.status import collect
from workers.stores import liveness
from workers.stores.feedstate import FeedStateStore


def test_status_tells_live_idle_stale_and_dead_workers_apart_and_prints_errors_literally(
        tmp_path: Path, redis_client: redis.Redis, redis_server: object) -> None:
    url = redis_server.url  # type: ignore[attr-defined]
    cfg = write_config(tmp_path, url, {"f0": "http://127.0.0.1:9/feed.xml"}, [WatchSpec("w", "إدلب", ("console",))])
    settings = load_settings(cfg, env={})
    now = time.time()
    redis_client.rpush("poll", b"waiting")

    def worker(name: str, queues: list[str], started: float, looks: list[float], finished: float | None) -> None:
        """A worker's watchdog record as its looks at these times left it (the last one refreshes it)."""
        dog = Watchdog(redis_client, name, queues, 1, stall_after=300)
        dog.started = dog.last_received = started
        if finished:
            redis_client.hset(liveness.HEARTBEATS, name, f"{finished:.3f} marsad.poll_feed")
        for t in looks:
            p = dog.look(t)
        dog.beat(looks[-1], p)

    worker("busy@h", ["poll"], now - 60, [now], finished=now - 2)
    worker("idle@h", ["alert"], now - 60, [now], finished=None)
    worker("stuck@h", ["poll"], now - 1000, [now - 400, now], finished=now - 900)  # work waits since now-400
    worker("dead@h", ["poll"], now - 9999, [now - 9000], finished=None)
    FeedStateStore(redis_client).update("f0", last_poll=now, last_error="[bold red]pwned[/bold red]", failures=1)
    data = collect(settings, redis_client)
    f0 = next(f for f in data["feeds"] if f["id"] == "f0")
    assert f0["last_poll"] == now and f0["last_success"] is None  # numbers, as the other times (JSON output)
    states = {w["worker"]: w["state"] for w in data["workers"]}
    assert states == {"busy@h": "ok", "idle@h": "idle", "stuck@h": "stale", "dead@h": "gone"}
    assert data["queues"]["poll"] == 1
    buf = io.StringIO()
    render(data, Console(file=buf, width=250))
    out = buf.getvalue()
    assert "[bold red]pwned" in out, out
    assert "stale" in out and "gone" in out
