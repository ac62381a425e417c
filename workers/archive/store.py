"""Writing the archive: articles (with their entities, matches and story), alert deliveries, and retention;
every write an upsert by key, so a redelivered task writes nothing twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workers.archive import engine as dbengine
from workers.archive.schema import alerts, articles, entities, matches, stories, story_outlets

# Rows deleted per statement when pruning: each is one short transaction, so writers never wait long.
PRUNE_BATCH = 2_000
_ARTICLE_COLUMNS = ("key", "url", "feed_id", "title", "text", "lang", "source", "published", "fetched", "at",
                    "story_id", "outcome", "classification", "search")


class Archive:
    """The database behind the console: one engine per process (built after fork), upserts only."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = dbengine.create(url)
        self._write = dbengine.writer(self.engine)
        if migrate:
            dbengine.migrate(self.engine)
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        # Statements built once: composing an upsert costs more than executing it.
        self._ins_article = insert(articles).on_conflict_do_nothing(index_elements=["key"]).returning(articles.c.pk)
        self._ins_outlet = insert(story_outlets).on_conflict_do_nothing().returning(story_outlets.c.story_id)
        ins, old = insert(stories), stories.c
        earlier = old.first_seen > ins.excluded.first_seen  # a late feed's article that came first
        self._upsert_story = ins.on_conflict_do_update(index_elements=["story_id"], set_={
            "size": old.size + 1,
            "outlets": old.outlets + sa.bindparam("new_outlet", type_=sa.Integer),
            "last_seen": sa.case((old.last_seen < ins.excluded.last_seen, ins.excluded.last_seen),
                                 else_=old.last_seen),
            "title": sa.case((earlier, ins.excluded.title), else_=old.title),
            "first_article_pk": sa.case((earlier, ins.excluded.first_article_pk), else_=old.first_article_pk),
            "first_seen": sa.case((earlier, ins.excluded.first_seen), else_=old.first_seen),
        })
        ins, old = insert(alerts), alerts.c
        tried = sa.bindparam("tried", type_=sa.Integer)
        # Several articles of one story can each have an alert in flight for one sink (their own retry chains
        # while the sink is down); the ledger lets exactly one be sent. Once a row says "sent" it keeps that
        # alert (its id, article, title and payload): a later answer from another chain ("already sent", or a
        # "retry" that raced the send) never hides what went out, or names another article as sent.
        sent = old.status == "sent"

        def unless_sent(column: str) -> Any:
            return sa.case((sent, getattr(old, column)), else_=getattr(ins.excluded, column))

        self._upsert_alert = ins.on_conflict_do_update(index_elements=["key"], set_={
            **{c: unless_sent(c) for c in ("status", "error", "alert_id", "article_key", "title", "url", "kind",
                                           "payload")},
            "attempts": old.attempts + tried, "updated": ins.excluded.updated})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def write_articles(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Insert the articles not archived yet, in one transaction; the number inserted."""
        n = 0
        with self._write.begin() as conn:
            for rec in records:
                n += self._article(conn, rec)
        return n

    def _article(self, conn: sa.Connection, rec: Mapping[str, Any]) -> int:
        pk = conn.execute(self._ins_article, {k: rec[k] for k in _ARTICLE_COLUMNS}).scalar()
        if pk is None:
            return 0  # archived before (a redelivered task): its entities, matches and story count are there
        base = {"article_pk": pk, "at": rec["at"], "day": rec["day"], "story_id": rec["story_id"]}
        if rec["entities"]:
            conn.execute(entities.insert(), [{**base, **e} for e in rec["entities"]])
        if rec["matches"]:
            conn.execute(matches.insert(), [{**base, **m} for m in rec["matches"]])
        if rec["story_id"]:
            sid, at = rec["story_id"], rec["at"]
            new_outlet = conn.execute(self._ins_outlet, {"story_id": sid, "feed_id": rec["feed_id"],
                                                         "first_seen": at}).first() is not None
            conn.execute(self._upsert_story, {"story_id": sid, "first_seen": at, "last_seen": at, "size": 1,
                                              "outlets": 1, "title": rec["title"][:500], "first_article_pk": pk,
                                              "new_outlet": int(new_outlet)})
        return 1

    def write_alert(self, rec: Mapping[str, Any]) -> None:
        """The latest status of one (watch, story, sink); attempts counts the sends tried."""
        tried = 1 if rec["status"] in ("sent", "retry", "dead_letter") else 0
        row = {k: rec[k] for k in ("key", "alert_id", "watch_id", "story_id", "sink", "article_key", "title",
                                   "url", "kind", "status", "error", "payload")}
        with self._write.begin() as conn:
            conn.execute(self._upsert_alert, {**row, "attempts": tried, "created": rec["at"], "updated": rec["at"],
                                              "tried": tried})

    def prune(self, cutoff: float, limit: int = 20 * PRUNE_BATCH) -> int:
        """Delete up to `limit` articles fetched before `cutoff` (their entities and matches go with them),
        stories last seen before it that no article is left in, and alerts last updated before it; the number
        of articles deleted (the limit keeps one call inside a task's time limit; call again while it returns
        `limit`)."""
        total = 0
        while total < limit:
            with self._write.begin() as conn:
                pks = [r[0] for r in conn.execute(sa.select(articles.c.pk).where(articles.c.fetched < cutoff)
                                                  .limit(min(PRUNE_BATCH, limit - total)))]
                if not pks:
                    break
                # Explicit child deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on, which
                # a connection opened by another tool may not have.
                conn.execute(entities.delete().where(entities.c.article_pk.in_(pks)))
                conn.execute(matches.delete().where(matches.c.article_pk.in_(pks)))
                conn.execute(articles.delete().where(articles.c.pk.in_(pks)))
                total += len(pks)
        with self._write.begin() as conn:
            # A story goes with its last article, not by its own clock: last_seen is a publication time, and
            # an article fetched today may be dated last year (a backfill, a late feed), which left its
            # story pruned while the article stayed.
            kept = sa.select(articles.c.pk).where(articles.c.story_id == stories.c.story_id).exists()
            gone = sa.select(stories.c.story_id).where(stories.c.last_seen < cutoff, ~kept)
            ids = [r[0] for r in conn.execute(gone)]
            for i in range(0, len(ids), PRUNE_BATCH):
                chunk = ids[i:i + PRUNE_BATCH]
                conn.execute(story_outlets.delete().where(story_outlets.c.story_id.in_(chunk)))
                conn.execute(stories.delete().where(stories.c.story_id.in_(chunk)))
            conn.execute(alerts.delete().where(alerts.c.updated < cutoff))
        return total
