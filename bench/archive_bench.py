"""Archive cost: write time per article, search latency over 100,000 archived corpus articles, size per article.

Run:  .venv/bin/python bench/archive_bench.py [--n 100000] [--probe 1000] [--postgres URL]
Reads ../shared/corpus (ANT v2.1). The corpus holds 25,310 articles: the archive is filled with each used
several times under other URLs and dates (spread over --days days, so date filters select a real share), in
batches (not timed). Then timed, as a worker writes them: --probe further articles, one transaction each
(write_articles([record])), median and p95 ms/article; then every query of QUERIES with a 7-day and a 30-day
date filter, --runs times each: p50/p95 ms over all of them (each search asks for the newest 50 hits, as the
console does). Size: the database file(s) per article (SQLite: the file with its WAL checkpointed).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from feeds.pipeline import article_id  # noqa: E402
from workers.archive.records import article_record  # noqa: E402
from workers.archive.search import Filters, search  # noqa: E402
from workers.archive.store import Archive  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
DAY = 86400.0
# Watch-language queries of the kinds the topic watches use: words with clitics, phrases, NEAR, entity
# scopes, prefixes, NOT; from narrow (a city) to broad (a country).
QUERIES = [
    "place:idlib OR إدلب",
    '("وقف إطلاق النار" OR هدنة) NEAR/20 region:LY',
    "كيماوي* AND region:SY",
    "(region:TR OR actor:erdogan) NEAR/15 (region:RU OR actor:putin)",
    '"مجلس الأمن" AND NOT region:US',
    "title:(ترامب OR actor:trump)",
    "region:SY",
]


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="articles archived before timing")
    ap.add_argument("--probe", type=int, default=1_000, help="articles written one transaction each, timed")
    ap.add_argument("--days", type=int, default=180, help="days the archive spans (archive_keep's default)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--postgres", help="postgresql://… to measure on PostgreSQL instead of SQLite")
    args = ap.parse_args()
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    t = time.perf_counter()
    base = []
    for _, d in zip(range(args.n + args.probe), read_jsonl(CORPUS), strict=False):
        a = corpus_article(d)
        base.append((a, clf.classify(a), str(d.get("src") or "feed")))
    print(f"{len(base):,} corpus articles classified in {time.perf_counter() - t:.0f} s (not timed below)")
    end = datetime(2026, 12, 1, tzinfo=UTC).timestamp()

    def rec(i: int) -> dict[str, object]:
        a, c, feed = base[i % len(base)]
        at = end - args.days * DAY * (1 - i / (args.n + args.probe))  # in order of arrival, oldest first
        a = replace(a, url=f"{a.url.rstrip('/')}/copy{i}", published=datetime.fromtimestamp(at, UTC))
        return article_record(article_id(a.url), a, feed, "new", f"s{i:015x}", c, (), fetched=at)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.db"
        archive = Archive(args.postgres or f"sqlite:///{db}")
        if args.postgres:
            with archive.engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE articles, article_entities, matches, stories, story_outlets, alerts"))
        t = time.perf_counter()
        for lo in range(0, args.n, 500):
            archive.write_articles([rec(i) for i in range(lo, min(args.n, lo + 500))])
        print(f"filled {args.n:,} articles in {time.perf_counter() - t:.0f} s (batches of 500, not timed below)")
        per = []
        for i in range(args.n, args.n + args.probe):
            r = rec(i)
            t = time.perf_counter()
            archive.write_articles([r])
            per.append((time.perf_counter() - t) * 1000)
        print(f"write, one transaction per article (as the article task does), {args.probe:,} articles at "
              f"{args.n:,} archived: median {statistics.median(per):.2f} ms, p95 {pct(per, 0.95):.2f} ms")
        lat: list[float] = []
        for q in QUERIES:
            for days in (7, 30):
                f = Filters(since=end - days * DAY, until=end)
                ms = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    res = search(archive, q, clf.g.ids, f, limit=50)
                    ms.append((time.perf_counter() - t) * 1000)
                lat += ms
                print(f"  {q[:60]:<60} last {days:>2} d: {len(res.hits):>2} hits, {res.scanned:>4} read, "
                      f"median {statistics.median(ms):6.1f} ms")
        print(f"search, {len(QUERIES)} watch-language queries x 2 date filters x {args.runs} runs over "
              f"{args.n + args.probe:,} archived articles: p50 {pct(lat, 0.5):.1f} ms, p95 {pct(lat, 0.95):.1f} ms")
        if args.postgres:
            with archive.engine.connect() as conn:
                size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
        archive.close()
        if not args.postgres:
            with sqlite3.connect(db) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = sum(p.stat().st_size for p in Path(tmp).glob("archive.db*"))
        print(f"size: {size / 1e6:.0f} MB, {size / (args.n + args.probe) / 1024:.1f} KB per article "
              f"(text, classification, entities, search index)")


if __name__ == "__main__":
    main()
