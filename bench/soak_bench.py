"""Soak/throughput benchmark: the corpus replayed from a local news site through real Celery workers.

Measures, in one run on one Redis:
  1. the floor: the same stages (poll → fetch page → extract → dedup → classify → match → deliver to the
     webhook) called directly in `--concurrency` plain processes, no Celery, the same Redis stores;
  2. the burst: every article appears at once; a `marsad worker --beat -c N` drains it: articles/s end to end,
     peak Redis memory and worker RSS; ratio to the floor (target ≥ 0.8);
  3. the soak: new articles appear at a steady `--rate`; publication-to-alert latency p50/p99 (the time from
     an article appearing in its feed to its webhook POST arriving; the feed poll interval is part of it).

Usage: .venv/bin/python bench/soak_bench.py [--articles 2000] [--feeds 50] [--concurrency 2] [--paced 300]
The issue's full size: --articles 20000 --feeds 200. Reads ../shared/corpus when present, else synthetic text.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from tests.harness import (  # noqa: E402
    HTTPServer,
    Item,
    NewsSite,
    WatchSpec,
    Worker,
    alert_keys,
    make_items,
    queue_depths,
    write_config,
)
from workers.daemon.embedded import EmbeddedRedis  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
# Watches a desk would plausibly run; on the ANT corpus they match about a third of the articles.
WATCHES = (WatchSpec("syria", "region:SY"), WatchSpec("libya", "region:LY OR ليبيا"),
           WatchSpec("oil", "النفط OR اقتصاد"), WatchSpec("egypt", "region:EG"),
           WatchSpec("gulf", "region:SA OR region:AE OR region:QA"))
PROCESSED = "marsad_articles_processed_total|"


def corpus_items(n: int, feeds: list[str], offset: int = 0, prefix: str = "c") -> list[Item]:
    """n corpus articles (from `offset`), round-robin over feeds; synthetic ones when the corpus is absent."""
    if not CORPUS.exists():
        return make_items(n, feeds, ("اقتصاد", "ليبيا", "سوريا", ""), seed=offset + 7, prefix=prefix)
    out: list[Item] = []
    now = datetime.now(UTC)
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < offset:
                continue
            if len(out) >= n:
                break
            rec = json.loads(line)
            key = prefix + re.sub(r"\W", "_", rec["docno"])
            out.append(Item(key, feeds[len(out) % len(feeds)], rec["title"], rec["text"], now))
    if len(out) < n:
        raise SystemExit(f"the corpus has {len(out)} articles after offset {offset}, {n} asked")
    return out


def doubled(posts: list[bytes]) -> int:
    """Webhook POSTs beyond the first for one (article, watch): an alert sent twice."""
    pairs = []
    posts = list(posts)  # the receiver may still be appending
    for key, body in zip(alert_keys(posts), posts, strict=True):
        text = str(json.loads(body).get("text", ""))  # "[severity] watch name: title (feed)"
        pairs.append((key, text.partition("] ")[2].partition(":")[0]))
    return len(pairs) - len(set(pairs))


def processed(client: redis.Redis) -> int:
    raw: dict[bytes, bytes] = client.hgetall("marsad:metrics:counters")  # type: ignore[assignment]
    return sum(int(v) for k, v in raw.items() if k.decode().startswith(PROCESSED))


# ------------------------------------------------------------------ the floor: no Celery

def _floor_worker(config: str, feed_ids: list[str], barrier: Any, out: Any, log: str) -> None:
    from workers import flows
    from workers.alerts import deliver
    from workers.logging import setup_logging

    # The same JSON outcome lines as a worker, to a file as a worker's go: logging costs the same on both sides.
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 2)
    os.dup2(fd, 1)
    setup_logging("INFO", "json")
    from workers.config.load import load_settings
    from workers.runtime import Runtime

    rt = Runtime(load_settings(config))
    rt.classifier.classify  # noqa: B018 - built before the clock starts, as a warm worker's is
    barrier.wait()
    t0 = time.monotonic()
    n = 0
    for fid in feed_ids:
        feed = rt.feed(fid)
        assert feed is not None
        entries: list[Any] = []
        flows.poll_feed(rt, feed, entries.append)
        for entry in entries:
            pending: list[tuple[Any, str]] = []

            def enqueue_alert(alert: Any, sink: str, p: list[tuple[Any, str]] = pending) -> None:
                p.append((alert, sink))

            flows.process_entry(rt, entry, enqueue_alert)
            for alert, sink in pending:
                deliver.deliver(rt, alert, sink)
            n += 1
    out.put((n, time.monotonic() - t0))


def run_floor(config: Path, feeds: list[str], procs: int, log: Path) -> tuple[int, float]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs + 1)
    out = ctx.Queue()
    ps = [ctx.Process(target=_floor_worker, args=(str(config), feeds[i::procs], barrier, out, str(log)))
          for i in range(procs)]
    for p in ps:
        p.start()
    barrier.wait()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    return sum(n for n, _ in results), max(t for _, t in results)


# ------------------------------------------------------------------ Celery

class Sampler(threading.Thread):
    """Peak worker RSS (whole process tree) and Redis used_memory, every half second."""

    def __init__(self, worker: Worker, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.worker, self.client = worker, client
        self.rss, self.mem, self.depth = 0, 0, 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.rss = max(self.rss, self.worker.rss_bytes())
                self.mem = max(self.mem, int(self.client.info("memory")["used_memory"]))
                self.depth = max(self.depth, sum(queue_depths(self.client).values()))
            except Exception:
                pass  # a missed sample only lowers a peak
            self.halt.wait(0.5)


def wait(cond: Any, timeout: float, what: str, worker: Worker) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}\n{worker.log_tail()}")


def settle(slack: HTTPServer, quiet_s: float = 1.5) -> None:
    """Wait until no webhook POST arrived for `quiet_s`."""
    n = -1
    while n != len(slack.posts):
        n = len(slack.posts)
        time.sleep(quiet_s)


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=2000, help="articles in the burst (issue: 20000)")
    ap.add_argument("--feeds", type=int, default=50, help="feeds they are spread over (issue: 200)")
    ap.add_argument("--concurrency", type=int, default=2, help="worker processes (and floor processes)")
    ap.add_argument("--interval", default="10s", help="feed poll interval")
    ap.add_argument("--paced", type=int, default=300, help="articles in the steady phase (0: skip it)")
    ap.add_argument("--rate", type=float, default=10.0, help="articles per second in the steady phase")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, AOF) for inspection")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="marsad-soak-"))
    server = EmbeddedRedis(tmp / "redis").start()
    feeds = [f"feed{i:03d}" for i in range(args.feeds)]
    per_feed = -(-args.articles // args.feeds)
    items = corpus_items(args.articles, feeds)
    paced = corpus_items(args.paced, feeds, offset=args.articles, prefix="p") if args.paced else []
    slack = HTTPServer(lambda p: None)
    print(f"corpus: {'ANT v2.1 (Chouigui et al., AICCSA 2017)' if CORPUS.exists() else 'synthetic'}; "
          f"{args.articles} articles over {args.feeds} feeds, concurrency {args.concurrency}, "
          f"interval {args.interval}; cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}", flush=True)

    # 1. The floor, on its own site and Redis database 1.
    floor_site = NewsSite(feeds, window=per_feed)
    floor_site.publish(items)
    floor_cfg = write_config(tmp / "floor", server.url.replace("/0", "/1"),
                             {f: floor_site.feed_url(f) for f in feeds}, WATCHES,
                             slack_url=f"{slack.base}/hooks/floor", interval=args.interval)
    n_floor, t_floor = run_floor(floor_cfg, feeds, args.concurrency, tmp / "floor.log")
    floor_alerts = len(slack.posts)
    floor_rate = n_floor / t_floor
    print(f"floor (no Celery, {args.concurrency} processes): {n_floor} articles in {t_floor:.1f} s = "
          f"{floor_rate:.1f} articles/s, {floor_alerts} alerts ({doubled(slack.posts)} doubled)", flush=True)
    floor_site.close()
    redis.Redis.from_url(server.url.replace("/0", "/1")).flushdb()
    slack.posts.clear()
    slack.post_times.clear()

    # 2. The burst through Celery: the articles are waiting when the worker starts (the backlog after a
    # restart), so its first tick finds every feed due at once, as the floor polls them all at once. The
    # clock runs from the first article processed to the last alert sent: worker start-up is not counted.
    site = NewsSite(feeds, window=max(per_feed, 50))
    site.publish(items)
    cfg = write_config(tmp / "celery", server.url, {f: site.feed_url(f) for f in feeds}, WATCHES,
                       slack_url=f"{slack.base}/hooks/celery", interval=args.interval)
    client = redis.Redis.from_url(server.url)
    worker = Worker(cfg, tmp / "worker.log", ("worker", "--beat", "-c", str(args.concurrency))).start()
    try:
        sampler = Sampler(worker, client)
        sampler.start()
        t_first = None
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            n = processed(client)
            if n and t_first is None:
                t_first = time.monotonic() - 0.05  # sampled every 0.1 s: half a period earlier on average
            if n >= args.articles and sum(queue_depths(client).values()) == 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"the burst did not drain\n{worker.log_tail()}")
        assert t_first is not None
        t_done = time.monotonic()
        settle(slack)  # alert tasks taken off the queue may still be sending
        t_burst = max(t_done, slack.post_times[-1] if slack.post_times else t_done) - t_first
        burst_rate = args.articles / t_burst
        burst_alerts = len(slack.posts)
        print(f"celery burst: {args.articles} articles in {t_burst:.1f} s = {burst_rate:.1f} articles/s end to end "
              f"({burst_alerts} alerts, {doubled(slack.posts)} doubled), "
              f"ratio to floor = {burst_rate / floor_rate:.2f} (target ≥ 0.8); "
              f"peak queue depth {sampler.depth}", flush=True)

        # 3. The soak: steady arrivals, latency from appearing in the feed to the webhook POST.
        lat: list[float] = []
        if paced:
            published: dict[str, float] = {}
            base_posts = len(slack.posts)
            t_start = time.monotonic()
            for i, it in enumerate(paced):
                delay = t_start + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                stamped = Item(it.key, it.feed, it.title, it.text, datetime.now(UTC))
                published[it.key] = time.monotonic()
                site.publish([stamped])
            wait(lambda: processed(client) >= args.articles + len(paced), 600, "the steady phase", worker)
            wait(lambda: sum(queue_depths(client).values()) == 0, 600, "the alert queue to drain", worker)
            time.sleep(2)
            keys = alert_keys(slack.posts[base_posts:])
            times = slack.post_times[base_posts:]
            first: dict[str, float] = {}
            for k, t in zip(keys, times, strict=False):
                first.setdefault(k, t)
            lat = [t - published[k] for k, t in first.items() if k in published]
            print(f"celery steady {args.rate:g} articles/s × {len(paced)}: {len(lat)} alerted articles, "
                  f"publication-to-alert p50 = {pct(lat, 0.5):.1f} s, p99 = {pct(lat, 0.99):.1f} s "
                  f"(feeds polled every {args.interval}, beat tick 1 s)", flush=True)
        sampler.halt.set()
        sampler.join()
        info = client.info("memory")
        print(f"memory: Redis used_memory peak {sampler.mem / 2**20:.1f} MiB, "
              f"end {int(info['used_memory']) / 2**20:.1f} MiB (for {args.articles + len(paced)} articles' state); "
              f"worker tree RSS peak {sampler.rss / 2**20:.0f} MiB "
              f"({args.concurrency} pool processes + beat + main)", flush=True)
        print(json.dumps({"articles": args.articles, "feeds": args.feeds, "concurrency": args.concurrency,
                          "floor_articles_per_s": round(floor_rate, 2), "celery_articles_per_s": round(burst_rate, 2),
                          "ratio": round(burst_rate / floor_rate, 3), "p50_s": round(pct(lat, 0.5), 2) if lat else None,
                          "p99_s": round(pct(lat, 0.99), 2) if lat else None,
                          "redis_peak_mib": round(sampler.mem / 2**20, 1),
                          "worker_peak_rss_mib": round(sampler.rss / 2**20), "floor_alerts": floor_alerts,
                          "celery_burst_alerts": burst_alerts}))
    finally:
        worker.stop()
        site.close()
        slack.close()
        server.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
