"""Searching the archive with the watchlist language: the full-text index narrows, the watch evaluator decides, so a
query finds in the archive exactly what the same watch would have alerted on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from feeds.models import Article, MentionKind, Span, Watch
from feeds.query import prefilter
from feeds.query.syntax import parse_query
from feeds.query.watchset import WatchSet
from workers.archive.records import classification_from_json
from workers.archive.schema import articles, entities, matches
from workers.archive.store import Archive

# Candidates read from the database per round trip, and at most per search: a query the index cannot narrow
# (NOT alone, a feed: filter) is evaluated on the newest SCAN_BUDGET articles of the date range and the
# result says it stopped there, rather than reading the whole archive into one worker.
PAGE = 200
SCAN_BUDGET = 5_000
SEARCH_ID = "search"


@dataclass(frozen=True)
class Filters:
    """What narrows a search besides the query; empty = no restriction."""

    since: float | None = None
    until: float | None = None
    feeds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    watch: str | None = None
    story: str | None = None


@dataclass(frozen=True)
class Found:
    pk: int
    key: str
    url: str
    feed_id: str
    title: str
    at: float
    story_id: str | None
    evidence: tuple[Span, ...] = ()
    regions: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


@dataclass
class SearchResult:
    hits: list[Found] = field(default_factory=list)
    scanned: int = 0
    complete: bool = True  # False: stopped at the scan budget before the date range was exhausted
    narrowed: bool = True  # False: the query gave the index nothing to look up
    seconds: float = 0.0


def where_clauses(archive: Archive, f: Filters, formula: prefilter.Formula) -> list[sa.ColumnElement[bool]]:
    a = articles.c
    out: list[sa.ColumnElement[bool]] = []
    if f.since is not None:
        out.append(a.at >= f.since)
    if f.until is not None:
        out.append(a.at <= f.until)
    if f.feeds:
        out.append(a.feed_id.in_(f.feeds))
    if f.story:
        out.append(a.story_id == f.story)
    for kind, ids in (("region", f.regions), ("place", f.places), ("actor", f.actors)):
        if ids:
            out.append(sa.exists().where(entities.c.article_pk == a.pk, entities.c.kind == kind,
                                         entities.c.entity_id.in_(ids)))
    if f.watch:
        out.append(sa.exists().where(matches.c.article_pk == a.pk, matches.c.watch_id == f.watch))
    if formula is not None:
        if archive.dialect == "sqlite":
            fts: sa.Select[Any] = sa.select(sa.literal_column("rowid")).select_from(sa.table("article_fts")).where(
                sa.text("article_fts MATCH :fts")).params(
                    fts=f'{prefilter.to_fts5(formula)} OR "{prefilter.CAPPED}"')
            out.append(a.pk.in_(fts))
        else:
            tsq = sa.cast(sa.bindparam("tsq", f"{prefilter.to_tsquery(formula)} | '{prefilter.CAPPED}'"),
                          postgresql.TSQUERY)
            out.append(sa.literal_column("search_tsv", postgresql.TSVECTOR).op("@@", return_type=sa.Boolean)(tsq))
    return out


def _rows(archive: Archive, where: Sequence[sa.ColumnElement[bool]], budget: int) -> Iterator[Any]:
    """Newest first, in pages (keyset on (at, pk), so a page never re-reads the rows before it)."""
    a = articles.c
    cols = [a.pk, a.key, a.url, a.feed_id, a.title, a.text, a.published, a.at, a.story_id, a.classification]
    last: tuple[float, int] | None = None
    read = 0
    with archive.engine.connect() as conn:
        while read < budget:
            sel = sa.select(*cols).where(*where)
            if last is not None:
                sel = sel.where(sa.or_(a.at < last[0], sa.and_(a.at == last[0], a.pk < last[1])))
            page = conn.execute(sel.order_by(a.at.desc(), a.pk.desc()).limit(min(PAGE, budget - read))).all()
            if not page:
                return
            yield from page
            read += len(page)
            last = (page[-1].at, page[-1].pk)
            if len(page) < PAGE:
                return


def article_of(row: Any) -> Article:
    published = datetime.fromtimestamp(row.published, UTC) if row.published is not None else None
    return Article(url=row.url, title=row.title, text=row.text, feed_id=row.feed_id, published=published)


def search(archive: Archive, query: str | None, known_ids: Callable[[MentionKind], set[str]],
           filters: Filters = Filters(), *, limit: int = 50, budget: int | None = SCAN_BUDGET,
           watch: Watch | None = None) -> SearchResult:
    """The newest `limit` archived articles the query matches (all, when no query), within the filters;
    `watch` instead of a query: that watch, with its min_mentions and threshold. `budget`: candidates read at
    most (None: all, for batch use such as `marsad backfill --archive`)."""
    t0 = time.monotonic()
    if watch is None and query and query.strip():
        watch = Watch(id=SEARCH_ID, name=SEARCH_ID, query=query)
    ws = WatchSet.compile([watch], known_ids) if watch is not None else None
    formula = prefilter.formula(parse_query(watch.query)) if watch is not None else None
    res = SearchResult(narrowed=ws is None or formula is not None)
    cap = budget if budget is not None else 2**62
    for row in _rows(archive, where_clauses(archive, filters, formula), cap):
        res.scanned += 1
        evidence: tuple[Span, ...] = ()
        c = classification_from_json(row.classification)
        if ws is not None:
            got = ws.match(article_of(row), c)
            if not got:
                continue
            evidence = got[0].evidence
        res.hits.append(Found(row.pk, row.key, row.url, row.feed_id, row.title, row.at, row.story_id, evidence,
                              tuple(h.id for h in c.regions), tuple(h.id for h in c.actors)))
        if len(res.hits) >= limit:
            break
    else:
        res.complete = res.scanned < cap
    res.seconds = time.monotonic() - t0
    return res


def count(archive: Archive, filters: Filters) -> int:
    """Archived articles within the filters (what a share of matches is out of)."""
    with archive.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(articles)
                                .where(*where_clauses(archive, filters, None))).scalar() or 0)
