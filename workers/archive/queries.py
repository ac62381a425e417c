"""Reading the archive for the console and the CLI: recent stories, one story or article, trends per entity or
watch, alert deliveries, a watch's recent matches."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from workers.archive.records import DAY_S
from workers.archive.schema import alerts, articles, entities, matches, stories, story_outlets
from workers.archive.search import Filters, where_clauses
from workers.archive.store import Archive

# An entity counts towards a trend when it is one of an article's first three of its kind (the classifier's
# ranking): a passing mention in the 40th paragraph is not what the story is about. The same cut as the
# surge rule's (workers.alerts.spikes.SURGE_ENTITIES).
TREND_RANK = 3


def story_rows(archive: Archive, f: Filters, limit: int = 100) -> list[dict[str, Any]]:
    """Stories seen within the filters' dates, newest activity first, with their outlets; the other filters
    keep a story when any of its articles passes them."""
    s = stories.c
    sel = sa.select(s.story_id, s.first_seen, s.last_seen, s.size, s.outlets, s.title)
    if f.since is not None:
        sel = sel.where(s.last_seen >= f.since)
    if f.until is not None:
        sel = sel.where(s.first_seen <= f.until)
    inner = where_clauses(archive, Filters(feeds=f.feeds, regions=f.regions, places=f.places, actors=f.actors,
                                    watch=f.watch), None)
    if inner:
        sel = sel.where(sa.exists().where(articles.c.story_id == s.story_id, *inner))
    with archive.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sel.order_by(s.last_seen.desc()).limit(limit))]
        ids = [r["story_id"] for r in rows]
        outlets: dict[str, list[str]] = defaultdict(list)
        if ids:
            q = (sa.select(story_outlets.c.story_id, story_outlets.c.feed_id)
                 .where(story_outlets.c.story_id.in_(ids)).order_by(story_outlets.c.first_seen))
            for sid, feed in conn.execute(q):
                outlets[sid].append(feed)
    for r in rows:
        r["outlet_ids"] = outlets.get(r["story_id"], [])
    return rows


# A story's page lists at most this many of its articles (the first ones): a story syndicated for days can
# hold thousands, and the page is read by a person.
STORY_ARTICLES = 500


def story_articles(archive: Archive, story_id: str) -> list[dict[str, Any]]:
    a = articles.c
    with archive.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(a.key, a.url, a.feed_id, a.title, a.at, a.outcome).where(a.story_id == story_id)
            .order_by(a.at).limit(STORY_ARTICLES))]


@dataclass(frozen=True)
class ArchivedArticle:
    row: dict[str, Any]
    matches: list[dict[str, Any]]


def article(archive: Archive, key: str) -> ArchivedArticle | None:
    with archive.engine.connect() as conn:
        row = conn.execute(sa.select(articles).where(articles.c.key == key)).first()
        if row is None:
            return None
        ms = [{"watch_id": m.watch_id, "evidence": json.loads(m.evidence)} for m in conn.execute(
            sa.select(matches.c.watch_id, matches.c.evidence).where(matches.c.article_pk == row.pk)
            .order_by(matches.c.watch_id))]
    return ArchivedArticle(dict(row._mapping), ms)


def trends(archive: Archive, kind: str, since: float, until: float, top: int = 8) -> dict[str, Any]:
    """Stories per day for the `top` entities of a kind (region, place, actor) or watches (kind "watch") with
    the most stories in the range: {"days": [epoch day, …], "series": [{"id", "counts", "total"}, …]}."""
    first, last = int(since // DAY_S), int(until // DAY_S)
    if kind == "watch":
        t, key = matches, matches.c.watch_id
        cond = [t.c.day >= first, t.c.day <= last]
    else:
        t, key = entities, entities.c.entity_id
        cond = [t.c.kind == kind, t.c.rank < TREND_RANK, t.c.day >= first, t.c.day <= last]
    stories_n = sa.func.count(sa.distinct(sa.func.coalesce(t.c.story_id, sa.cast(t.c.article_pk, sa.String))))
    with archive.engine.connect() as conn:
        totals = conn.execute(sa.select(key, stories_n.label("n")).where(*cond).group_by(key)
                              .order_by(sa.desc("n"), key).limit(top)).all()
        ids = [r[0] for r in totals]
        counts: dict[str, dict[int, int]] = {i: {} for i in ids}
        if ids:
            for eid, day, n in conn.execute(sa.select(key, t.c.day, stories_n).where(*cond, key.in_(ids))
                                            .group_by(key, t.c.day)):
                counts[eid][int(day)] = int(n)
    days = list(range(first, last + 1))
    return {"kind": kind, "days": days,
            "series": [{"id": i, "total": int(n), "counts": [counts[i].get(d, 0) for d in days]} for i, n in totals]}


def alert_rows(archive: Archive, status: str | None = None, kinds: tuple[str, ...] = (),
               limit: int = 200) -> list[dict[str, Any]]:
    c = alerts.c
    sel = sa.select(c.key, c.alert_id, c.watch_id, c.story_id, c.sink, c.article_key, c.title, c.url, c.kind,
                    c.status, c.attempts, c.error, c.created, c.updated)
    if status:
        sel = sel.where(c.status == status)
    if kinds:
        sel = sel.where(c.kind.in_(kinds))
    with archive.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sel.order_by(c.updated.desc()).limit(limit))]


def alert_payload(archive: Archive, key: str) -> tuple[dict[str, Any], str] | None:
    """The alert as sent (to send it again) and its sink."""
    with archive.engine.connect() as conn:
        row = conn.execute(sa.select(alerts.c.payload, alerts.c.sink).where(alerts.c.key == key)).first()
    return (json.loads(row.payload), row.sink) if row else None


def alert_status(archive: Archive, key: str) -> tuple[str, float] | None:
    """The delivery's latest status and when it was recorded."""
    with archive.engine.connect() as conn:
        row = conn.execute(sa.select(alerts.c.status, alerts.c.updated).where(alerts.c.key == key)).first()
    return (str(row.status), float(row.updated)) if row else None


def alerts_by_id(archive: Archive, alert_id: str) -> list[dict[str, Any]]:
    """Every delivery of one alert id (one per sink), with the article it was about."""
    c = alerts.c
    with archive.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(c.key, c.watch_id, c.story_id, c.sink, c.article_key, c.title, c.url, c.status, c.payload)
            .where(c.alert_id == alert_id))]


def watch_counts(archive: Archive, since: float) -> dict[str, int]:
    with archive.engine.connect() as conn:
        return {w: int(n) for w, n in conn.execute(
            # `day` first: it is indexed (ix_matches_day), `at` then trims the first day to the hour
            sa.select(matches.c.watch_id, sa.func.count())
            .where(matches.c.day >= int(since // DAY_S), matches.c.at >= since)
            .group_by(matches.c.watch_id))}


def size(archive: Archive) -> dict[str, int]:
    with archive.engine.connect() as conn:
        return {name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
                for name, t in (("articles", articles), ("stories", stories), ("alerts", alerts))}
