"""Dry-run the configured classifier and watches over an archive of JSON-lines articles and tally the matches."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from feeds.evaluation.gold import corpus_article
from feeds.models import Article, Classification, Watch, WatchMatch

# Accepted spellings of each corpus field, first present non-empty one wins: the ANT corpus keys, then
# the names users' own exports tend to use.
ALIASES: dict[str, tuple[str, ...]] = {
    "docno": ("docno", "id"), "time": ("time", "published", "date"), "src": ("src", "outlet"),
    "url": ("url",), "title": ("title",), "abstract": ("abstract",), "text": ("text",),
}
# Per matched article, this many distinct matched terms and entities are kept: enough to see why it matched.
MAX_TERMS = 10
MAX_ENTITIES = 8


class _Classifier(Protocol):
    def classify(self, article: Article) -> Classification: ...


class _Matcher(Protocol):
    def match(self, article: Article, classification: Classification) -> list[WatchMatch]: ...


@dataclass(frozen=True)
class BadLine:
    """A line that could not be used, and why; `line` 0 means the file as a whole."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Hit:
    """One archived article a watch would have matched."""

    id: str
    url: str
    title: str
    outlet: str
    date: datetime | None
    regions: tuple[str, ...]
    actors: tuple[str, ...]
    terms: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "title": self.title, "outlet": self.outlet,
                "date": self.date.isoformat() if self.date else None, "regions": list(self.regions),
                "actors": list(self.actors), "terms": list(self.terms)}


def _order(h: Hit) -> tuple[bool, datetime]:
    return h.date is None, h.date or datetime.min.replace(tzinfo=UTC)


@dataclass
class Tally:
    """One watch's matches over the archive."""

    watch: Watch
    hits: list[Hit] = field(default_factory=list)

    def dated(self) -> list[Hit]:
        return sorted((h for h in self.hits if h.date), key=_order)

    @property
    def first(self) -> datetime | None:
        d = self.dated()
        return d[0].date if d else None

    @property
    def last(self) -> datetime | None:
        d = self.dated()
        return d[-1].date if d else None

    def chronological(self) -> list[Hit]:
        return sorted(self.hits, key=_order)


@dataclass
class Report:
    """What a backfill found: per-watch tallies plus what was read, skipped and rejected."""

    tallies: list[Tally]
    files: list[str]
    articles: int = 0  # scanned: parsed and inside the date range
    outside_dates: int = 0
    undated: int = 0  # scanned although they carry no usable date
    bad_dates: int = 0  # of those, how many carry a date that does not parse
    bad: list[BadLine] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    def share(self, t: Tally) -> float:
        return len(t.hits) / self.articles if self.articles else 0.0

    def to_dict(self, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "dry_run": True, "files": self.files, "since": iso(since), "until": iso(until),
            "articles": self.articles, "outside_dates": self.outside_dates, "undated": self.undated,
            "bad_dates": self.bad_dates,
            "bad_lines": len(self.bad), "bad": [{"file": b.file, "line": b.line, "reason": b.reason}
                                                for b in self.bad],
            "interrupted": self.interrupted, "seconds": round(self.seconds, 3),
            "watches": [{"id": t.watch.id, "name": t.watch.name, "matched": len(t.hits),
                         "share": round(self.share(t), 6), "first": iso(t.first), "last": iso(t.last),
                         "articles": [h.to_dict() for h in t.chronological()]} for t in self.tallies],
        }


def parse_date(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch seconds as an aware datetime (naive ones are taken as UTC); else None."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value.strip():
            d = datetime.fromisoformat(value.strip())
            return d if d.tzinfo else d.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def to_article(doc: Any) -> tuple[str, str, Article]:
    """(id, outlet, Article) from one JSON record; ValueError says why the record is unusable."""
    if not isinstance(doc, Mapping):
        raise ValueError(f"not a JSON object but {type(doc).__name__}")
    norm = {key: next((doc[k] for k in names if doc.get(k) not in (None, "")), None)
            for key, names in ALIASES.items()}
    for key in ("text", "abstract", "title", "url"):
        if norm[key] is not None and not isinstance(norm[key], str):
            raise ValueError(f"{key}: expected a string, got {type(norm[key]).__name__}")
    if not any(isinstance(v := norm[k], str) and v.strip() for k in ("text", "abstract")):
        raise ValueError("no text (and no abstract)")
    article = corpus_article(norm)  # the same Article `marsad eval` builds: abstract folded in, RFC 2822 date
    published = article.published or parse_date(norm["time"])
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)  # RFC 2822 "-0000" parses naive: it means UTC
    return str(norm["docno"] or ""), str(norm["src"] or ""), replace(article, published=published)


Line = tuple[str, int, Any]  # (file, line number, parsed JSON or a BadLine)


def read_lines(paths: Iterable[Path]) -> Iterator[Line | None]:
    """Every line of the files (gzipped when *.gz) as parsed JSON or a BadLine; None for a blank line.

    Lines are decoded one by one, so a broken byte spoils its line, not the file; a file that cannot be
    read further (truncated gzip) yields one BadLine and the next file is read.
    """
    for path in paths:
        name = str(path)
        n = 0
        try:
            with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
                for n, raw in enumerate(fh, 1):  # n is kept: a read error names the line after it
                    if not raw.strip():
                        yield None
                        continue
                    try:
                        yield name, n, json.loads(raw.decode("utf-8"))
                    except UnicodeDecodeError as exc:
                        yield name, n, BadLine(name, n, f"not UTF-8: {exc.reason} at byte {exc.start}")
                    except json.JSONDecodeError as exc:
                        yield name, n, BadLine(name, n, f"not JSON: {exc.msg} (column {exc.colno})")
        except (OSError, EOFError, zlib.error) as exc:
            yield name, n + 1, BadLine(name, n + 1, f"cannot read further: {exc}")


def hit(doc_id: str, outlet: str, article: Article, c: Classification, m: WatchMatch) -> Hit:
    terms = tuple(dict.fromkeys(" ".join(s.text.split()) for s in m.evidence))[:MAX_TERMS]
    return Hit(id=doc_id, url=article.url, title=article.title, outlet=outlet, date=article.published,
               regions=tuple(h.id for h in c.regions[:MAX_ENTITIES]),
               actors=tuple(h.id for h in c.actors[:MAX_ENTITIES]), terms=terms)


def run(paths: list[Path], watches: list[Watch], classifier: _Classifier, matcher: _Matcher, *,
        since: datetime | None = None, until: datetime | None = None, limit: int | None = None,
        advance: Callable[[int], None] | None = None) -> Report:
    """Classify and match every usable article whose date is in [since, until] (undated ones are kept),
    at most `limit` of them; `advance(1)` after each line read. Ctrl-C stops early with what was found."""
    tallies = {w.id: Tally(w) for w in watches}
    report = Report(list(tallies.values()), [str(p) for p in paths])
    started = time.monotonic()
    try:
        for item in read_lines(paths):
            if advance is not None:
                advance(1)
            if item is None:
                continue
            name, n, doc = item
            if isinstance(doc, BadLine):
                report.bad.append(doc)
                continue
            try:
                doc_id, outlet, article = to_article(doc)
            except ValueError as exc:
                report.bad.append(BadLine(name, n, str(exc)))
                continue
            date = article.published
            if date is None:
                report.undated += 1
                if any(doc.get(k) not in (None, "") for k in ALIASES["time"]):
                    report.bad_dates += 1  # kept, as undated; said, since the date filter could not apply
            elif (since and date < since) or (until and date > until):
                report.outside_dates += 1
                continue
            report.articles += 1
            c = classifier.classify(article)
            for m in matcher.match(article, c):
                if m.watch_id in tallies:
                    tallies[m.watch_id].hits.append(hit(doc_id or f"{name}:{n}", outlet, article, c, m))
            if limit is not None and report.articles >= limit:
                break
    except KeyboardInterrupt:
        report.interrupted = True
    report.seconds = time.monotonic() - started
    return report
