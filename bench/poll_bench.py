"""Poll throughput: the real fetch + parse path vs a bare requests.get loop on 2,000 local feeds.

A local server (its own process) serves 2,000 RSS feeds built from ANT corpus items (../shared/corpus when
present, else the test fixture feed). 80 % of the feeds are unchanged and answer 304 to the ETag of the
previous round; 20 % change on every request (new ETag, new body). Two client processes (like `-c 2`) poll
every feed once per round with:
  * marsad: feeds.http.fetch (guarded, deadline, capped) → body-hash check → feeds.parse.parse_feed
  * floor:  requests.get(url, headers={"If-None-Match": etag}) and nothing else
Prints feeds/s, CPU ms per poll (client processes), and the ratio marsad/floor (target ≥ 0.7), medians over
repeats, both measured in the same run against the same server.

    .venv/bin/python bench/poll_bench.py [--feeds 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from feeds.errors import MarsadError
from feeds.ingest.http import FetchPolicy, fetch
from feeds.ingest.sources.rss import parse_feed
from feeds.models import FeedSource

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
ITEMS_PER_FEED = 20
CHANGED_EVERY = 5  # feed i changes when i % 5 == 0: 20 %


def load_items(n: int) -> list[dict[str, str]]:
    if CORPUS.exists():
        out = []
        with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                out.append({k: d.get(k) or "" for k in ("title", "url", "time", "abstract", "docno")})
                if len(out) >= n:
                    break
        return out
    import xml.etree.ElementTree as ET

    root = ET.parse(REPO / "tests" / "fixtures" / "feeds" / "corpus_feed.xml").getroot()
    return [{"title": i.findtext("title") or "", "url": i.findtext("link") or "", "time": i.findtext("pubDate")
             or "", "abstract": i.findtext("description") or "", "docno": i.findtext("guid") or ""}
            for i in root.iter("item")]


def render(items: list[dict[str, str]], title: str) -> bytes:
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>']
    for d in items:
        parts.append(f"<item><title>{escape(d['title'])}</title><link>{escape(d['url'])}</link>"
                     f"<guid isPermaLink=\"false\">{escape(d['docno'])}</guid><pubDate>{escape(d['time'])}</pubDate>"
                     f"<description>{escape(d['abstract'][:600])}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def serve(port_q: Any, n_feeds: int) -> None:
    items = load_items(3000)
    bodies = [render([items[(i * 7 + k) % len(items)] for k in range(ITEMS_PER_FEED)], f"feed {i}")
              for i in range(min(n_feeds, 200))]
    counter = {"n": 0}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            i = int(self.path.rsplit("/", 1)[1])
            if i % CHANGED_EVERY == 0:
                counter["n"] += 1
                etag, body = f'"v{counter["n"]}"', bodies[(i + counter["n"]) % len(bodies)]
            else:
                etag, body = '"v0"', bodies[i % len(bodies)]
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    srv.request_queue_size = 128
    port_q.put(srv.server_port)
    srv.serve_forever()


POLICY = FetchPolicy(timeout_s=20, allow_private_addresses=True)  # the bench server is on 127.0.0.1
FAST = {"on": True}  # --feedparser turns the lxml fast path off (set before the pool forks)


def marsad_poll(job: list[tuple[str, str]]) -> tuple[float, int, int]:
    cpu0, entries, failed = time.process_time(), 0, 0
    hashes: dict[str, str] = {}
    for url, etag in job:
        feed = FeedSource(id=url.rsplit("/", 1)[1], url=url, name="bench")
        try:
            res = fetch(url, POLICY, etag=etag)
            if res.not_modified:
                continue
            digest = hashlib.sha256(res.body).hexdigest()
            if hashes.get(url) == digest:
                continue
            hashes[url] = digest
            entries += len(parse_feed(res.body, feed, res.url, fast=FAST["on"]))
        except MarsadError:
            failed += 1
    return time.process_time() - cpu0, entries, failed


def floor_poll(job: list[tuple[str, str]]) -> tuple[float, int, int]:
    cpu0, failed = time.process_time(), 0
    for url, etag in job:
        r = requests.get(url, headers={"If-None-Match": etag}, timeout=20)
        if r.status_code not in (200, 304):
            failed += 1
    return time.process_time() - cpu0, 0, failed


def run(fn: Any, pool: Any, jobs: list[list[tuple[str, str]]]) -> tuple[float, float, int, int]:
    t0 = time.perf_counter()
    results = pool.map(fn, jobs)
    wall = time.perf_counter() - t0
    return wall, sum(r[0] for r in results), sum(r[1] for r in results), sum(r[2] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--feedparser", action="store_true", help="parse every feed with feedparser (no fast path)")
    args = ap.parse_args()
    FAST["on"] = not args.feedparser
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    server = ctx.Process(target=serve, args=(q, args.feeds), daemon=True)
    server.start()
    port = q.get(timeout=60)
    urls = [f"http://127.0.0.1:{port}/feed/{i}" for i in range(args.feeds)]
    etags = {u: requests.get(u, timeout=20).headers.get("ETag", "") for u in urls}  # round 0: learn validators
    work = [(u, etags[u]) for u in urls]
    jobs = [work[k:: args.workers] for k in range(args.workers)]
    figures: dict[str, list[tuple[float, float, int, int]]] = {"marsad": [], "floor": []}
    with ctx.Pool(args.workers) as pool:
        for _ in range(args.repeats):
            for name, fn in (("floor", floor_poll), ("marsad", marsad_poll)):
                figures[name].append(run(fn, pool, jobs))
    server.terminate()
    rate: dict[str, float] = {}
    print(f"{args.feeds} feeds ({100 // CHANGED_EVERY} % changed, rest 304), {ITEMS_PER_FEED} items each, "
          f"{args.workers} client processes, {args.repeats} repeats; corpus: {CORPUS.exists()}; "
          f"parser: {'lxml fast path + feedparser' if FAST['on'] else 'feedparser only'}")
    for name, runs in figures.items():
        wall = statistics.median(r[0] for r in runs)
        cpu_ms = statistics.median(r[1] for r in runs) / args.feeds * 1000
        rate[name] = args.feeds / wall
        print(f"  {name:7s} {rate[name]:8.0f} feeds/s  wall {wall:6.2f} s  CPU {cpu_ms:5.2f} ms/poll  "
              f"entries {runs[-1][2]}  failed {runs[-1][3]}")
    print(f"  ratio marsad/floor = {rate['marsad'] / rate['floor']:.2f} (target >= 0.7)")


if __name__ == "__main__":
    main()
