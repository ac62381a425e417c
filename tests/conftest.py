"""Shared fixtures: a real Redis server (the embedded one the product ships) and fixture paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from workers.daemon.embedded import EmbeddedRedis

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def event_fixtures() -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The labelled cross-outlet articles (by docno) and pairs of tests/fixtures/events."""
    lines = (FIXTURES / "events" / "articles.jsonl").read_text("utf-8").splitlines()
    docs = {d["docno"]: d for d in map(json.loads, lines)}
    return docs, json.loads((FIXTURES / "events" / "pairs.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the test session (AOF on, as in production)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client on a freshly flushed database of the session's server."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for the session (tests/services/postgres.py), or a skip saying how to get one."""
    from tests.services import postgres

    try:
        with postgres.server(tmp_path_factory.mktemp("postgres")) as url:
            yield url
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
