"""A console served for real (uvicorn on 127.0.0.1) over an archive of real corpus articles, filed into stories by
the real story store on the session's Redis, with the watches of a test watchlist matched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import uvicorn

from feeds.dedup.event import event_terms
from feeds.dedup.fingerprint import sketch, text_fingerprint
from feeds.pipeline import article_id
from tests.harness import WatchSpec, write_config
from tests.workers.archive.conftest import classified
from workers.archive.records import article_record
from workers.config.load import load_settings
from workers.runtime import Runtime
from workers.web.app import create_app
from workers.web.common import Console
from workers.web.server import bind, url_of

WATCHES = [WatchSpec("chemical", "كيماوي* AND region:SY", ("console",)),
           WatchSpec("libya", "region:LY", ("console",))]


@dataclass
class Served:
    url: str
    rt: Runtime
    rows: list[tuple[dict[str, Any], Any, Any]]
    results: dict[str, dict[str, Any]]  # article key → its archive record

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kw)


def archive_rows(rt: Runtime, limit: int | None = None) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    """The fixture's articles through the story store and the watches, into the archive (publication order)."""
    rows = sorted(classified(limit), key=lambda r: r[1].published.timestamp())
    out: dict[str, dict[str, Any]] = {}
    for d, a, c in rows:
        t = a.published.timestamp()
        key = article_id(a.url)
        story = rt.stories.assign(key, d["src"], text_fingerprint(a.document), sketch(a.document), t,
                                  event_terms(a, c), t)
        matches = tuple(rt.settings.watchset.match(a, c))
        rec = article_record(key, a, d["src"], story.outcome, story.story_id, c, matches, fetched=t + 60)
        rt.archive().write_articles([rec])
        out[key] = rec
    return rows, out


def serve(rt: Runtime) -> Iterator[str]:
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(Console(lambda: rt, clock=lambda: 1523491200.0)),
                                           log_config=None, access_log=False, proxy_headers=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield url_of(sock)
    server.should_exit = True
    thread.join(10)


def make_runtime(folder: Path, redis_url: str, extra: str = "") -> Runtime:
    path = write_config(folder, redis_url, {"skynews": "http://127.0.0.1:9/a.xml", "alarabia": "http://127.0.0.1:9/b.xml"},
                        WATCHES, extra=f"archive_url: sqlite:///{folder / 'archive.db'}\n" + extra)
    return Runtime(load_settings(str(path)))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Served]:
    """The console over the 300 fixture articles (the clock stands at 2018-04-12, after them)."""
    redis.Redis.from_url(redis_server.url).flushdb()
    rt = make_runtime(tmp_path_factory.mktemp("console"), redis_server.url)
    rows, results = archive_rows(rt)
    for url in serve(rt):
        yield Served(url, rt, rows, results)
