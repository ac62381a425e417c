"""Event-stage cost: the clustering decision at 100,000 open articles in real Redis, and Redis bytes per
article held, against the same store without the event stage, measured in one run.

Run: .venv/bin/python bench/events_bench.py [--n 100000] [--probe 2000]
Fills the store with --n corpus articles (ANT v2.1, ../shared; each article's text is used several times
with its words shuffled, so the fill holds --n distinct articles with real vocabularies and entities) spread
over the 48-hour window, all open; then files --probe further real articles and times assign() (the Python
side: IDF lookup and vector, and the one Lua call). Medians of --repeats runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.dedup_bench import used_memory  # noqa: E402
from feeds.dedup import event as ev  # noqa: E402
from feeds.dedup.fingerprint import sketch, text_fingerprint  # noqa: E402
from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.models import Article  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from workers.daemon.embedded import EmbeddedRedis  # noqa: E402
from workers.stores.stories import RedisStoryStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"


def articles(limit: int) -> list[Article]:
    return [corpus_article(d) for _, d in zip(range(limit), read_jsonl(CORPUS), strict=False)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--probe", type=int, default=2_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(7)
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    base = articles(12_000)
    print(f"preparing {args.n:,} articles from {len(base):,} corpus texts …", flush=True)
    prepared = []
    t = time.perf_counter()
    for i in range(args.n):
        a = base[i % len(base)]
        words = a.text.split()
        if i >= len(base):  # a reuse: the same words in another order, so not a copy of the original
            rng.shuffle(words)
        art = Article(url=f"https://example.org/{i}", title=a.title, text=" ".join(words))
        prepared.append((art, ev.event_terms(art, clf.classify(art)), sketch(art.document),
                         text_fingerprint(art.document)))
    print(f"  prepared in {time.perf_counter() - t:.0f} s (classify + sketch, not timed below)")
    probes = []
    for a in articles(12_000 + args.probe)[12_000:]:
        probes.append((a, ev.event_terms(a, clf.classify(a)), sketch(a.document), text_fingerprint(a.document)))
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp)).start()
        try:
            r = redis.Redis.from_url(server.url)
            t0 = 1_700_000_000.0
            window = ev.MAX_HOURS * 3600
            results = {}
            for label, with_events in (("near-duplicate stages only", False), ("with the event stage", True)):
                r.flushall()
                store = RedisStoryStore(r)
                before = used_memory(r)
                start = time.perf_counter()
                outcomes: dict[str, int] = {}
                for i, (_art, terms, sk, fp) in enumerate(prepared):
                    now = t0 + window * i / len(prepared)
                    got = store.assign(f"{i:016x}", f"feed{i % 40}", fp, sk, now, terms if with_events else None,
                                       now)
                    outcomes[got.outcome] = outcomes.get(got.outcome, 0) + 1
                fill_rate = len(prepared) / (time.perf_counter() - start)
                mem = used_memory(r) - before
                end = t0 + window
                rates, per = [], []
                r.config_resetstat()
                for rep in range(args.repeats):
                    start = time.perf_counter()
                    for j, (_art, terms, sk, fp) in enumerate(probes):
                        store.assign(f"p{rep}-{j}", f"out{j % 7}", fp, sk, end + rep, terms if with_events else None,
                                     end + rep)
                    took = time.perf_counter() - start
                    rates.append(len(probes) / took)
                    per.append(took / len(probes) * 1000)
                evalsha = r.info("commandstats").get("cmdstat_evalsha", {})
                results[label] = statistics.median(per)
                print(f"[{label}] fill {fill_rate:,.0f} articles/s, outcomes {outcomes}; "
                      f"Redis {mem / len(prepared):.0f} bytes/article held ({mem / 1e6:.1f} MB); "
                      f"assign() at {len(prepared):,} open articles: median "
                      f"{statistics.median(per):.3f} ms/article (runs {', '.join(f'{x:.3f}' for x in per)}), "
                      f"server time {evalsha.get('usec_per_call', 0):.0f} µs per call")
            floor, full = results["near-duplicate stages only"], results["with the event stage"]
            print(f"the event stage adds {full - floor:.3f} ms per article (ratio {full / floor:.2f} in this run)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
