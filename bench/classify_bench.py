"""Classifier throughput on 5,000 corpus articles, against the normalise+tokenise floor and a 10× gazetteer.

    .venv/bin/python bench/classify_bench.py [--corpus ../shared/corpus/ant-v2.1-dev.jsonl.gz]
                                             [--articles 5000] [--repeats 3]

Prints medians over repeats, all measured in one run on one core: articles/s for the bare
tokenise pass, for classify with the shipped gazetteer and with one inflated 10× by synthetic names
(a third of them start with frequent real words, so index entries are crowded, not just bigger).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.models import Article  # noqa: E402
from feeds.nlp.arabic import tokenize  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import Gazetteer, default_gazetteer_paths, load_gazetteer  # noqa: E402

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def timed(fns: list[Callable[[Article], object]], articles: list[Article], repeats: int) -> list[float]:
    """Median seconds for one pass of each fn over all articles; the fns take turns within a repeat
    so that load from other processes on the machine hits them alike."""
    runs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            for a in articles:
                fn(a)
            runs[k].append(time.perf_counter() - t0)
    return [statistics.median(r) for r in runs]


def synthetic_gazetteer(base: Gazetteer, articles: list[Article], factor: int, tmp: Path) -> Path:
    """Write factor-1 times as many synthetic entities as `base` holds, as one extra YAML file."""
    rnd = random.Random(7)
    common = [w for w, _ in Counter(t.norm for a in articles[:500] for t in tokenize(a.document))
              .most_common(300)]
    word = lambda: "".join(rnd.choice(LETTERS) for _ in range(rnd.randint(3, 8)))  # noqa: E731
    n = len(base.entities) * (factor - 1)
    places, actors = [], []
    for k in range(n):
        words = [word() for _ in range(rnd.randint(1, 3))]
        if k % 3 == 0:
            words = [rnd.choice(common), *words[:2]]
        item = {"id": f"syn{k}", "name": f"Synthetic {k}", "name_ar": " ".join(words)}
        if k % 2:
            places.append({**item, "country": rnd.choice(sorted(base.ids("region")))})
        else:
            actors.append(item)
    path = tmp / "synthetic.yaml"
    path.write_text(yaml.safe_dump({"places": places, "actors": actors}, allow_unicode=True), "utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description="classifier throughput")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz")
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    articles = [corpus_article(d) for d in islice(read_jsonl(args.corpus), args.articles)]
    chars = sum(len(a.document) for a in articles)
    shipped = load_gazetteer(default_gazetteer_paths())
    with tempfile.TemporaryDirectory() as tmp:
        extra = synthetic_gazetteer(shipped, articles, 10, Path(tmp))
        inflated = load_gazetteer([*default_gazetteer_paths(), extra])
    small, big = Classifier(shipped), Classifier(inflated)
    # The first pass fills the per-word caches (stem candidates, typo lookups) that a long-running
    # worker keeps warm; it is reported on its own, then every variant is timed warm.
    t0 = time.perf_counter()
    for a in articles:
        small.classify(a)
    cold = time.perf_counter() - t0
    for a in articles:
        big.classify(a)
    floor, t_small, t_big = timed([lambda a: tokenize(a.document), small.classify, big.classify],
                                  articles, args.repeats)
    n = len(articles)
    print(f"articles: {n} ({chars / n:.0f} chars on average), repeats: {args.repeats}, medians, one core")
    print(f"gazetteer: shipped {len(shipped.entities)} entities / {len(shipped.index)} index keys; "
          f"inflated {len(inflated.entities)} entities / {len(inflated.index)} index keys")
    print(f"normalise+tokenise floor : {n / floor:8.0f} articles/s")
    print(f"classify, shipped        : {n / t_small:8.0f} articles/s  ({t_small / floor:.2f}x the floor)")
    print(f"classify, 10x gazetteer  : {n / t_big:8.0f} articles/s  ({t_big / floor:.2f}x the floor, "
          f"{t_big / t_small:.2f}x the shipped)")
    print(f"classify, shipped, first pass with cold word caches: {n / cold:.0f} articles/s (one run)")


if __name__ == "__main__":
    main()
