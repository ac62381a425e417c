"""Per-article cost of matching 100 and 1,000 watches over corpus articles, and its growth.

Usage: .venv/bin/python bench/watch_bench.py [--articles 5000] [--repeats 3]
       [--corpus ../shared/corpus/ant-v2.1-dev.jsonl.gz]

Articles are classified once (the classifier's cost is not the watchlist's); then WatchSet.match runs over
every article with 100 and with 1,000 watches, `repeats` times, timing each article. Watches are generated
from the corpus vocabulary and the gazetteer in the shapes users write (phrases NEAR entities, OR lists,
NOT, prefixes, scopes); the 100 are the first 100 of the 1,000, so both sets have the same make-up.
Also printed: the same 1,000 watches evaluated without the term index (every watch on every article).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.models import Article, Classification, Watch  # noqa: E402
from feeds.nlp.arabic import tokenize  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from feeds.query.evaluate import Doc, evaluate  # noqa: E402
from feeds.query.watchset import WatchSet  # noqa: E402


def make_watches(n: int, vocab: list[str], regions: list[str], places: list[str], actors: list[str],
                 seed: int = 4) -> list[Watch]:
    rnd = random.Random(seed)

    def w() -> str:
        return rnd.choice(vocab)

    templates = [
        lambda: f'"{w()} {w()}" NEAR/15 (region:{rnd.choice(regions)} OR actor:{rnd.choice(actors)})',
        lambda: f"({w()} OR {w()} OR {w()}) AND place:{rnd.choice(places)}",
        lambda: f"{w()} NEAR/10 {w()}",
        lambda: f"{w()} {w()} NOT {w()}",
        lambda: f"title:({w()} OR {w()}) region:{rnd.choice(regions)}",
        lambda: f"{w()[:4]}* NEAR/5 actor:{rnd.choice(actors)}",
        lambda: f'("{w()} {w()}" OR {w()}) NEAR/20 NOT {w()}',
    ]
    return [Watch(id=f"w{i}", name=f"w{i}", query=templates[i % len(templates)]()) for i in range(n)]


def time_match(ws: WatchSet, items: list[tuple[Article, Classification]],
               repeats: int) -> tuple[float, float, int]:
    """Median over repeats of (median, mean) per-article seconds, and the number of matches."""
    medians, means, matches = [], [], 0
    for _ in range(repeats):
        per: list[float] = []
        matches = 0
        for art, c in items:
            t0 = time.perf_counter()
            matches += len(ws.match(art, c))
            per.append(time.perf_counter() - t0)
        medians.append(statistics.median(per))
        means.append(statistics.fmean(per))
    return statistics.median(medians), statistics.median(means), matches


def time_brute(ws: WatchSet, items: list[tuple[Article, Classification]]) -> tuple[float, int]:
    per: list[float] = []
    fired = 0
    roots = [c.root for c in ws._compiled]
    for art, c in items:
        t0 = time.perf_counter()
        doc = Doc(art, c)
        fired += sum(1 for r in roots if evaluate(r, doc).value)
        per.append(time.perf_counter() - t0)
    return statistics.median(per), fired


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz")
    args = ap.parse_args()

    gaz = load_gazetteer(default_gazetteer_paths())
    classifier = Classifier(gaz)
    docs = []
    vocab_docs = []
    for i, d in enumerate(read_jsonl(args.corpus)):
        # Every 5th article builds the watch vocabulary; the others are matched, so watch terms are
        # realistic without being copied from the very articles they run on.
        (vocab_docs if i % 5 == 4 else docs).append(d)
        if len(docs) >= args.articles and len(vocab_docs) >= 500:
            break
    t0 = time.perf_counter()
    items = [(a, classifier.classify(a)) for a in (corpus_article(d) for d in docs[: args.articles])]
    print(f"{len(items)} articles classified in {time.perf_counter() - t0:.1f}s (not part of the figures)")

    counts: Counter[str] = Counter()
    for d in vocab_docs[:500]:
        counts.update(t.norm for t in tokenize(str(d.get("text", "")))
                      if len(t.norm) >= 4 and not t.norm.isdigit())
    # Skip the 150 most frequent words (function words any real watch would not lead with).
    vocab = [w for w, _ in counts.most_common(6000)[150:]]
    regions = sorted(gaz.ids("region"))
    places = sorted(gaz.ids("place"))
    actors = sorted(gaz.ids("actor"))
    watches = make_watches(1000, vocab, regions, places, actors)
    ws100 = WatchSet.compile(watches[:100], gaz.ids)
    ws1000 = WatchSet.compile(watches, gaz.ids)

    time_match(ws100, items[:200], 1)  # warm caches (stem candidates) before timing
    m100, mean100, n100 = time_match(ws100, items, args.repeats)
    m1000, mean1000, n1000 = time_match(ws1000, items, args.repeats)
    brute, nbrute = time_brute(ws1000, items)
    print(f"{'watches':>8} {'median µs/article':>18} {'mean µs/article':>16} {'matches':>8}")
    print(f"{100:>8} {m100 * 1e6:>18.1f} {mean100 * 1e6:>16.1f} {n100:>8}")
    print(f"{1000:>8} {m1000 * 1e6:>18.1f} {mean1000 * 1e6:>16.1f} {n1000:>8}")
    print(f"ratio 1000/100: median {m1000 / m100:.2f}x, mean {mean1000 / mean100:.2f}x (target ≤ 2x)")
    print(f"1000 watches without the term index: median {brute * 1e6:.1f} µs/article "
          f"({brute / m1000:.1f}x the indexed cost); {nbrute} matches "
          f"({'the same as' if nbrute == n1000 else 'DIFFERENT FROM'} the indexed run)")


if __name__ == "__main__":
    main()
