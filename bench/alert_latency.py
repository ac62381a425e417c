"""Latency from "article classified and matched" to "webhook receiver has the alert", through real parts.

Usage: .venv/bin/python bench/alert_latency.py [--alerts 200] [--batch 10] [--every 1.0] [--alert-worker]

A real `marsad worker --beat` (2 processes, all queues) polls a local news site; items are published in
batches (`--batch` every `--every` seconds, a steady trickle rather than one burst) and each matches one
watch, so each gives one Slack-webhook alert to a local receiver. Inside the worker, `feeds.pipeline.process`
is wrapped to record the wall-clock time it returned (fetch, extract, dedup, classification and watch
matching done) per article URL in Redis; the receiver records when each alert's body arrived. The figure is
the difference: enqueueing send_alert, the broker hop, the ledger claim, rendering, the HTTP POST. With
`--alert-worker`, a second worker consumes only the "alert" queue, so alerts never wait behind articles.
The receiver answers with keep-alive and one buffered write (wbufsize = -1): unbuffered, its header lines
go out as separate packets and delayed ACK adds ~40 ms to every request on the connection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

import tests.harness as harness  # noqa: E402
from tests.harness import NewsSite, WatchSpec, Worker, make_items, wait_for, write_config  # noqa: E402
from workers.daemon.embedded import EmbeddedRedis  # noqa: E402

MARKERS = ("زلزال", "فيضان")
WATCHES = (WatchSpec("quake", "زلزال"), WatchSpec("flood", "فيضان"))
CLASSIFIED = "bench:classified"
# The harness boot plus a wrapper recording when each article finished classification and matching.
BOOT = """
import os, sys, time
import redis
import feeds.pipeline as fp
_r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
_process = fp.process
def process(entry, *a, **kw):
    res = _process(entry, *a, **kw)
    _r.hset("bench:classified", entry.url, repr(time.time()))
    return res
fp.process = process
from workers.cli.main import main
sys.argv[0] = "marsad"
main()
"""
_KEY = re.compile(r"/news/(\w+)\.html")


class Receiver:
    """Records (item key, arrival wall-clock time) of each alert POST; answers 200 with keep-alive."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one write per response: see the module docstring

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                m = _KEY.search(body.decode("utf-8", "replace"))
                outer.arrivals.setdefault(m.group(1) if m else "?", []).append(now)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/T0/B0/X"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def run(n: int, batch: int, every: float, alert_worker: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="marsad-latency-"))
    server = EmbeddedRedis(tmp / "redis").start()
    client = redis.Redis.from_url(server.url)
    site = NewsSite(["f0", "f1"], window=max(50, batch * 4))
    rx = Receiver()
    cfg = write_config(tmp / "config", server.url, {f: site.feed_url(f) for f in site.feeds}, WATCHES,
                       slack_url=rx.url, interval="1s", tick_s=0.5)
    harness._BOOT = BOOT
    os.environ["BENCH_REDIS_URL"] = server.url
    workers = [Worker(cfg, tmp / "worker.log").start()]
    if alert_worker:
        workers.append(Worker(cfg, tmp / "alerts.log", ("worker", "-Q", "alert", "-c", "1")).start())
    items = make_items(n, site.feeds, MARKERS, seed=5)
    try:
        time.sleep(4)  # worker start-up
        t0 = time.monotonic()
        for i in range(0, n, batch):
            site.publish(items[i:i + batch])
            time.sleep(every)
        wait_for(lambda: len(rx.arrivals) >= n, 120, f"{n} alerts", [w.log for w in workers])
        took = time.monotonic() - t0
        time.sleep(1)
    finally:
        for w in workers:
            w.stop()
        site.close()
        rx.httpd.shutdown()
    classified: dict[str, float] = {}
    for k, v in client.hgetall(CLASSIFIED).items():  # type: ignore[union-attr]
        m = _KEY.search(k.decode())
        if m:
            classified[m.group(1)] = float(v)
    client.close()
    server.stop()
    lat = [(min(ts) - classified[k]) * 1000 for k, ts in rx.arrivals.items() if k in classified]
    doubled = sum(len(ts) - 1 for ts in rx.arrivals.values())
    print(f"{'dedicated alert worker' if alert_worker else 'one worker, all queues, 2 processes'}: "
          f"{len(lat)} alerts in {took:.1f} s ({batch} articles every {every:g} s)")
    print(f"  classified -> webhook received: median {statistics.median(lat):.1f} ms, "
          f"p90 {percentile(lat, 90):.1f} ms, p99 {percentile(lat, 99):.1f} ms, max {max(lat):.1f} ms "
          f"(target: median < 100 ms); doubled alerts {doubled}")
    print(json.dumps({"alerts": len(lat), "median_ms": round(statistics.median(lat), 1),
                      "p99_ms": round(percentile(lat, 99), 1), "alert_worker": alert_worker}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=200)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--alert-worker", action="store_true")
    args = ap.parse_args()
    run(args.alerts, args.batch, args.every, args.alert_worker)


if __name__ == "__main__":
    main()
