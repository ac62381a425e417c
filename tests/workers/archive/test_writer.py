"""While the database is away the tasks keep going: records wait in Redis (bounded), and the tick writes them
once it is back, in order and exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from feeds.models import Alert
from tests.workers.archive.conftest import classified, record
from workers.archive import queries, writer
from workers.archive.records import alert_record
from workers.archive.store import Archive
from workers.archive.writer import ArchiveWriter


def test_records_wait_in_redis_while_the_database_is_down(tmp_path: Path, redis_client: redis.Redis) -> None:
    down = Archive("postgresql://nobody@127.0.0.1:9/none", migrate=False)  # nothing listens on port 9
    up = Archive(f"sqlite:///{tmp_path / 'a.db'}")
    current = {"archive": down}
    w = ArchiveWriter(lambda: current["archive"], redis_client)
    recs = [record(d, a, c) for d, a, c in classified(12)]
    for r in recs:
        w.article(r)  # never raises: kept
    alert = Alert(watch_id="w", watch_name="W", severity="low", story_id=recs[0]["story_id"], url=recs[0]["url"],
                  title="t", feed_id="f", feed_name="F", published=None)
    w.alert(alert_record(alert, "slack", "sent"))
    assert w.backlog() == 13
    assert w.drain() == 0 and w.backlog() == 13  # still down: nothing lost
    current["archive"] = up
    assert w.drain(limit=5) >= 5
    w.drain()
    assert w.backlog() == 0
    assert queries.size(up)["articles"] == len({r["key"] for r in recs})
    assert [r["status"] for r in queries.alert_rows(up)] == ["sent"]
    assert w.drain() == 0


def test_the_backlog_is_bounded(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "BACKLOG_MAX", 5)
    down = Archive("postgresql://nobody@127.0.0.1:9/none", migrate=False)
    w = ArchiveWriter(lambda: down, redis_client)
    recs = [record(d, a, c) for d, a, c in classified(8)]
    for r in recs:
        w.article(r)
    assert w.backlog() == 5  # the oldest dropped (and counted, logged)
    kept: list[bytes] = redis_client.lrange(writer.BACKLOG, 0, -1)  # type: ignore[assignment]
    assert recs[-1]["key"].encode() in kept[-1] and recs[0]["key"].encode() not in b"".join(kept)
