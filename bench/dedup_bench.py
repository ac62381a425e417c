"""Story-store benchmark: Redis bytes per stored article and near-dup check throughput at 100,000 articles.

Run: .venv/bin/python bench/dedup_bench.py [--n 100000]
Starts its own redis-server (workers.embedded.EmbeddedRedis, AOF on as in production). Article ids are
real canonical URLs from the ANT corpus (../shared) when present, else synthetic URLs of similar length.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.dedup.fingerprint import BANDS, BINS, Sketch, sketch, text_fingerprint
from feeds.dedup.lead import LEAD_BANDS, LEAD_BITS
from feeds.dedup.urls import canonical_url
from workers.daemon.embedded import EmbeddedRedis
from workers.stores.stories import RedisStoryStore

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
DAY = 86400


def corpus(limit: int) -> list[dict[str, str]]:
    if not CORPUS.exists():
        return []
    out = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) >= limit:
                break
    return out


def random_sketch(rng: random.Random) -> Sketch:
    """A full-size sketch: text signature and bands, lead bitmap and lead bands, as a real article has."""
    return Sketch(rng.randbytes(BINS), tuple(rng.randbytes(7) for _ in range(BANDS)),
                  rng.randbytes(LEAD_BITS // 8), tuple(rng.randbytes(7) for _ in range(LEAD_BANDS)))


def used_memory(r: redis.Redis) -> int:
    """Redis' used_memory once no AOF rewrite / background save is running (their buffers are transient:
    an AOF rewrite started by the fill itself holds megabytes of rewrite buffer until it finishes)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        p = r.info("persistence")
        if not (int(p.get("aof_rewrite_in_progress", 0)) or int(p.get("rdb_bgsave_in_progress", 0))):
            break
        time.sleep(0.2)
    return int(r.info("memory")["used_memory"])


def fill(store: RedisStoryStore, ids: list[str], t0: float, rng: random.Random) -> float:
    """Store len(ids) unrelated articles spread evenly over the window; returns articles/s."""
    n = len(ids)
    start = time.perf_counter()
    for i, aid in enumerate(ids):
        now = t0 + store.window_s * i / n
        store.assign(aid, f"feed{i % 40}", f"{rng.getrandbits(128):032x}", random_sketch(rng), now)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--probe", type=int, default=2_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(5)
    docs = corpus(args.probe + 10_000)
    urls = [canonical_url(d["url"]) for d in docs]
    urls = urls or [f"https://www.example.com/ar/news/{i}" for i in range(5000)]
    long_ids = [f"{urls[i % len(urls)]}?n={i}" for i in range(args.n)]
    short_ids = [f"{rng.getrandbits(64):016x}" for _ in range(args.n)]
    med = statistics.median(map(len, long_ids))
    print(f"articles stored: {args.n}; ids: corpus canonical URLs (median {med} chars)"
          f" and 16-hex ids; sketch {BINS} signature bytes + {LEAD_BITS // 8} lead bytes + {BANDS} text and "
          f"{LEAD_BANDS} lead bands × 7 bytes")

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp)).start()
        try:
            r = redis.Redis.from_url(server.url)
            t0 = 1_700_000_000.0
            for label, ids in (("16-hex article ids", short_ids), ("canonical-URL article ids", long_ids)):
                r.flushall()
                base = used_memory(r)
                rate = fill(RedisStoryStore(r), ids, t0, rng)
                mem = used_memory(r) - base
                keys = r.dbsize()
                sample = rng.sample([k for k in r.scan_iter(count=1000)][:5000], min(500, keys))
                enc: dict[bytes, int] = {}
                for k in sample:
                    e = r.object("encoding", k)
                    enc[e] = enc.get(e, 0) + 1
                pipe = r.pipeline(transaction=False)
                for k in r.scan_iter(count=1000):
                    pipe.memory_usage(k, samples=0)
                usage = sum(int(x or 0) for x in pipe.execute())
                print(f"[{label}] fill: {rate:,.0f} articles/s; INFO used_memory delta {mem / 1e6:.1f} MB = "
                      f"{mem / len(ids):.0f} bytes/article; sum of MEMORY USAGE {usage / len(ids):.0f} "
                      f"bytes/article; {keys} keys; encodings in a sample {enc}")

            # Throughput of the near-dup check against the full store: real corpus texts (sketch
            # computed outside the timed loop, then timed separately), half of them sent twice
            # with a dateline so that the exact and near paths are exercised as well as "new".
            store = RedisStoryStore(r)
            now = t0 + store.window_s  # the end of the window the store was filled over
            texts = [(d["title"] or "") + "\n\n" + (d["text"] or "") for d in docs[: args.probe]] or [
                " ".join(f"كلمة{rng.randrange(5000)}" for _ in range(300)) for _ in range(args.probe)]
            t = time.perf_counter()
            probes = [(text_fingerprint(x), sketch(x)) for x in texts]
            sk_rate = len(texts) / (time.perf_counter() - t)
            rates = []
            r.config_resetstat()  # server time below is the probes' only, not the fill's
            for rep in range(args.repeats):
                start = time.perf_counter()
                for i, (fp, s) in enumerate(probes):
                    store.assign(f"probe{rep}-{i}", f"out{i % 7}", fp, s, now + rep)
                rates.append(len(probes) / (time.perf_counter() - start))
            print(f"sketch + fingerprint (pure Python, one core): {sk_rate:,.0f} articles/s")
            each = ", ".join(f"{x:,.0f}" for x in rates)
            print(f"assign() against {args.n:,} stored articles: median {statistics.median(rates):,.0f} "
                  f"articles/s over {args.repeats} repeats of {len(probes)} ({each})")
            info = r.info("commandstats").get("cmdstat_evalsha", {})
            if info:
                print(f"server time per assign() of the probes (evalsha usec_per_call): "
                      f"{info['usec_per_call']:.1f} µs over {info['calls']} calls")
        finally:
            server.stop()
    print(f"pid {os.getpid()} done")


if __name__ == "__main__":
    main()
