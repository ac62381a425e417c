"""How the tasks write the archive without ever waiting on it: straight to the database, and, while it is away
(PostgreSQL down, SQLite locked past its busy timeout), into a bounded Redis backlog that the tick drains."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import redis
import sqlalchemy as sa

from workers.archive.store import Archive
from workers.logging import get_logger
from workers.stores import metrics
from workers.stores.keys import P

log = get_logger("marsad.archive")

BACKLOG = P + "archive:backlog"
# Records kept while the database is away: ~10 KB each, so 50,000 (a day and more of a busy install) is
# ~500 MB of Redis at worst. Beyond it the oldest are dropped, counted and logged: alerts matter more.
BACKLOG_MAX = 50_000
# Records moved per drain step: one transaction each, short enough not to hold SQLite's write lock long.
DRAIN_BATCH = 200
# What "the database is away" looks like; anything else is a bug and is raised.
UNAVAILABLE: tuple[type[BaseException], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError,
                                                sa.exc.DisconnectionError)


class ArchiveWriter:
    """Write now, or keep for later: nothing is lost while the database is down, and nothing is sent late."""

    def __init__(self, archive: Callable[[], Archive], client: redis.Redis) -> None:
        self._archive = archive
        self.r = client

    def article(self, rec: Mapping[str, Any]) -> None:
        self._write("article", rec)

    def alert(self, rec: Mapping[str, Any]) -> None:
        self._write("alert", rec)

    def _write(self, kind: str, rec: Mapping[str, Any]) -> None:
        try:
            self._apply(kind, rec)
        except UNAVAILABLE as exc:
            self._keep(kind, rec, exc)

    def _apply(self, kind: str, rec: Mapping[str, Any]) -> None:
        archive = self._archive()
        if kind == "article":
            archive.write_articles([rec])
        else:
            archive.write_alert(rec)

    def _keep(self, kind: str, rec: Mapping[str, Any], exc: BaseException) -> None:
        pipe = self.r.pipeline()
        pipe.rpush(BACKLOG, json.dumps({"kind": kind, "rec": rec}, ensure_ascii=False, separators=(",", ":")))
        pipe.llen(BACKLOG)
        _, n = pipe.execute()
        metrics.incr(self.r, "marsad_archive_backlogged_total", kind=kind)
        if n > BACKLOG_MAX:
            dropped = n - BACKLOG_MAX
            self.r.ltrim(BACKLOG, dropped, -1)
            metrics.incr(self.r, "marsad_archive_dropped_total", dropped)
            log.error("archive_backlog_full", dropped=dropped, kept=BACKLOG_MAX)
        log.warning("archive_unavailable", kind=kind, backlog=min(n, BACKLOG_MAX), error=str(exc).splitlines()[0])

    def drain(self, limit: int = 10 * DRAIN_BATCH) -> int:
        """Move up to `limit` backlogged records into the database (oldest first); stops at the first failure.
        A record is removed only after its transaction committed, so a crash in between writes it twice,
        which the upserts make harmless."""
        moved = 0
        while moved < limit:
            raw: list[bytes] = self.r.lrange(BACKLOG, 0, DRAIN_BATCH - 1)  # type: ignore[assignment]
            if not raw:
                break
            items = [json.loads(x) for x in raw]
            try:
                arts = [i["rec"] for i in items if i["kind"] == "article"]
                if arts:
                    self._archive().write_articles(arts)
                for i in items:
                    if i["kind"] == "alert":
                        self._archive().write_alert(i["rec"])
            except UNAVAILABLE as exc:
                log.warning("archive_drain_failed", backlog=self.r.llen(BACKLOG), error=str(exc).splitlines()[0])
                break
            self.r.ltrim(BACKLOG, len(raw), -1)
            moved += len(raw)
        if moved:
            log.info("archive_drained", moved=moved, backlog=self.r.llen(BACKLOG))
        return moved

    def backlog(self) -> int:
        return int(self.r.llen(BACKLOG))

