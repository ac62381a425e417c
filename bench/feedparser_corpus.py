"""Robustness run: feedparser's own test corpus (and the ANT corpus replayed as feeds) through fetch + parse_feed.

Every file is served by a local HTTP server (with the Content-Type its "Header:" comment names) and polled
through the real path, feeds.http.fetch → feeds.parse.parse_feed, as the worker does. Each file ends
ingested (with or without entries) or rejected with a reason; anything else is a crash. Also counts how often
the lxml fast path took a file and whether it then agreed with feedparser's reading.

Get the corpus first (feedparser's sdist ships it):
    .venv/bin/pip download --no-binary :all: --no-deps feedparser==6.0.14 -d /tmp/fp
    tar xzf /tmp/fp/feedparser-6.0.14.tar.gz -C /tmp/fp
    .venv/bin/python bench/feedparser_corpus.py [--tests /tmp/fp/feedparser-6.0.14/tests]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import http.server
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.errors import MarsadError
from feeds.ingest.http import FetchPolicy, fetch
from feeds.ingest.sources.rss import _plain_rss_items, parse_feed, strip_entity_declarations
from feeds.models import FeedSource

REPO = Path(__file__).resolve().parent.parent
ANT = REPO.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
DIRS = ("wellformed", "encoding", "entities", "illformed")
HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.+?)\s*$", re.M)
POLICY = FetchPolicy(timeout_s=10, allow_private_addresses=True)  # the server is on 127.0.0.1
FILES: dict[str, tuple[bytes, dict[str, str]]] = {}


class _H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a: Any) -> None:
        pass

    def do_GET(self) -> None:
        body, headers = FILES.get(unquote(self.path), (b"", {}))
        self.send_response(200 if self.path in FILES or unquote(self.path) in FILES else 404)
        for k, v in headers.items():
            if k.lower() in ("content-type", "content-language"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def poll(url: str, feed: FeedSource) -> tuple[str, str | int]:
    try:
        res = fetch(url, POLICY)
        return "ingested", len(parse_feed(res.body, feed, res.url))
    except MarsadError as e:
        return "rejected", e.reason
    except Exception as e:  # the point of the run: count anything that escapes the taxonomy
        return "crashed", f"{type(e).__name__}: {e}"[:120]


def run_feedparser_corpus(base: str, tests: Path) -> None:
    feed = FeedSource(id="fp", url=base, name="feedparser corpus")
    total_t0 = time.perf_counter()
    fast_taken = fast_agree = 0
    disagreements: list[str] = []
    for d in DIRS:
        files = sorted(p for p in (tests / d).rglob("*") if p.is_file())
        counts: collections.Counter[str] = collections.Counter()
        reasons: collections.Counter[str] = collections.Counter()
        crashes: list[str] = []
        slowest = (0.0, "")
        t0 = time.perf_counter()
        for path in files:
            rel = "/" + path.relative_to(tests).as_posix()
            body = path.read_bytes()
            FILES[rel] = (body, {k.decode(): v.decode("latin-1") for k, v in HEADER.findall(body[:2000])})
            t = time.perf_counter()
            kind, detail = poll(base + quote(rel), feed)
            took = time.perf_counter() - t
            slowest = max(slowest, (took, rel))
            if kind == "ingested":
                counts["ingested with entries" if detail else "ingested, no entries"] += 1
            else:
                counts[kind] += 1
                key = re.sub(r"<unknown>:\d+:\d+", "<pos>", str(detail))[:70]
                (reasons if kind == "rejected" else collections.Counter())[key] += 1
                if kind == "crashed":
                    crashes.append(f"{rel}: {detail}")
            try:
                if _plain_rss_items(strip_entity_declarations(body)) is not None:
                    fast_taken += 1
                    same = parse_feed(body, feed, base) == parse_feed(body, feed, base, fast=False)
                    fast_agree += same
                    if not same:
                        disagreements.append(rel)
            except MarsadError:
                pass
        print(f"{d:11s} {len(files):5d} files in {time.perf_counter() - t0:5.1f} s  " + "  ".join(
            f"{k}: {v}" for k, v in sorted(counts.items())) + f"  slowest {slowest[0] * 1000:.0f} ms ({slowest[1]})")
        for reason, n in reasons.most_common(4):
            print(f"              {n:4d} × {reason}")
        for line in crashes[:5]:
            print(f"   CRASH {line}")
    print(f"fast path took {fast_taken} files; agreed with feedparser on {fast_agree}; "
          f"differed on {len(disagreements)} {disagreements[:5]}")
    print(f"total {time.perf_counter() - total_t0:.1f} s")


def run_ant_replay(base: str, per_feed: int = 50) -> None:
    if not ANT.exists():
        print("ANT corpus replay skipped: ../shared/corpus not present")
        return
    with gzip.open(ANT, "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    t0 = time.perf_counter()
    ingested = rejected = 0
    for n in range(0, len(docs), per_feed):
        items = "".join(
            f"<item><title>{escape(d['title'] or '')}</title><link>{escape(d['url'] or '')}</link>"
            f"<guid isPermaLink=\"false\">{escape(d['docno'])}</guid><pubDate>{escape(d['time'] or '')}</pubDate>"
            f"<description>{escape(d['abstract'] or '')}</description></item>" for d in docs[n:n + per_feed])
        rel = f"/ant/{n // per_feed}.xml"
        FILES[rel] = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>ANT</title>'
                      f"{items}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})
        kind, detail = poll(base + rel, FeedSource(id="ant", url=base + rel, name="ANT"))
        if kind == "ingested" and isinstance(detail, int):
            ingested += detail
        else:
            rejected += 1
            print(f"   {rel}: {kind} {detail}")
    took = time.perf_counter() - t0
    print(f"ANT corpus replay: {len(docs)} articles as {(len(docs) + per_feed - 1) // per_feed} feeds → "
          f"{ingested} entries ingested, {rejected} feeds rejected, {took:.1f} s ({len(docs) / took:.0f} items/s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=Path, default=Path("/tmp/fp/feedparser-6.0.14/tests"))
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    if args.tests.is_dir():
        run_feedparser_corpus(base, args.tests)
    else:
        print(f"{args.tests} not found; see this script's docstring to fetch feedparser's corpus")
    run_ant_replay(base)
    srv.shutdown()


if __name__ == "__main__":
    main()
