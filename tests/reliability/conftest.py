"""The reliability world: a restartable Redis (AOF), a news site, a Slack-webhook receiver, a config folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.harness import HTTPServer, NewsSite, WatchSpec, Worker, write_config
from workers.daemon.embedded import EmbeddedRedis

# Two watches, each matching one marker word; items alternate between them (see harness.make_items).
WATCHES = (WatchSpec("quake", "زلزال"), WatchSpec("flood", "فيضان"))
MARKERS = ("زلزال", "فيضان")


@dataclass
class World:
    tmp: Path
    redis_server: EmbeddedRedis
    client: redis.Redis
    site: NewsSite
    slack: HTTPServer
    config: Path
    workers: list[Worker] = field(default_factory=list)

    def worker(self, *args: str, overrides: dict[str, Any] | None = None, config: Path | None = None) -> Worker:
        w = Worker(config or self.config, self.tmp / f"worker{len(self.workers)}.log",
                   tuple(args) or ("worker", "--beat", "-c", "2"), overrides or {})
        self.workers.append(w.start())
        return w

    @property
    def logs(self) -> list[Path]:
        return [w.log for w in self.workers]


def make_world(tmp: Path, feeds: list[str], *, page_delay: Callable[[str], float] | None = None,
               post_hold: Callable[[int], float] | None = None, interval: str = "2s") -> World:
    server = EmbeddedRedis(tmp / "redis").start()
    client = redis.Redis.from_url(server.url, socket_timeout=5)
    site = NewsSite(feeds, delay=page_delay)
    slack = HTTPServer(lambda p: None, post_hold=post_hold)
    cfg = write_config(tmp / "config", server.url, {f: site.feed_url(f) for f in feeds}, WATCHES,
                       slack_url=f"{slack.base}/hooks/T000/B000/XXX", interval=interval)
    return World(tmp, server, client, site, slack, cfg)


def close_world(w: World) -> None:
    for wk in w.workers:
        if wk.alive():
            wk.kill()  # tests stop their workers gracefully; this only cleans up after a failure
    w.site.close()
    w.slack.close()
    w.client.close()
    w.redis_server.stop()


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(feeds: list[str] | None = None, **kw: object) -> World:
        w = make_world(tmp_path / f"w{len(made)}", feeds or ["f0"], **kw)  # type: ignore[arg-type]
        made.append(w)
        return w

    yield make
    for w in made:
        close_world(w)


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so the suite runs warning-free until pyproject.toml lists the marker.
    config.addinivalue_line("markers", "reliability: fault-tolerance tests with real Redis and workers (slow)")
