"""Cost of learned relevance per article per watch, with 100 example-trained watches over >= 2,000 articles.

Run:  .venv/bin/python bench/relevance_bench.py [--articles 3000] [--watches 100] [--runs 5]
      (needs ../shared/corpus for the articles; the models train on config/watchlists/examples/)

The topic watches' models are trained on their shipped examples through the gates bench/relevance_eval.py chose
(CHOSEN there). With the default training few topic models are active on these examples (the queries decide
the others, and cost nothing more), so the models here are trained as first designed
(relevance_eval.FIRST_DESIGN), which activates more: scoring costs the same however a model was let in.
The 100 watches cycle over the active topic models, each copy with its own weights (the trained ones
times U(0.8, 1.2), seeded). `--lexical` trains on the lexical features too (words and pairs: thousands
per article), to measure that path. Classification runs once before timing (both paths need it). Each run
times, over the same articles: (a) query only, WatchSet.match with all 100 watches; (b) the same, then for the watches
that matched and have a model, `prepare` once per article and features + score per watch. Printed: medians
over the runs, per article per watch (a), per (article, watch) reaching the model ((b - a) / pairs: the
article-level preparation amortised over the watches that reached the model), and the ratio (b) / (a).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.relevance_eval import CANDIDATES, CHOSEN, FIRST_DESIGN  # noqa: E402
from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.evaluation.topics import TOPICS, topic_watch_id  # noqa: E402
from feeds.models import Article, Classification, Watch  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from feeds.query.load import load_watches  # noqa: E402
from feeds.query.watchset import WatchSet  # noqa: E402
from feeds.relevance.examples import examples_hash, load_examples  # noqa: E402
from feeds.relevance.features import WatchView, prepare  # noqa: E402
from feeds.relevance.learn import train  # noqa: E402
from feeds.relevance.model import RelevanceModel  # noqa: E402
from feeds.relevance.train import gate_rows, label_examples, relevant, watch_view  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus"


def gate_query(topic: str, current: dict[str, str]) -> str:
    q = dict(CANDIDATES[topic])[CHOSEN[topic]]
    return q or current[topic_watch_id(topic)]


def build(classifier: Classifier, n_watches: int, examples_dir: Path, watches_file: Path, lexical: bool
          ) -> tuple[WatchSet, dict[str, RelevanceModel], dict[str, WatchView]]:
    current = {w.id: w.query for w in load_watches([watches_file])}
    trained: list[tuple[str, RelevanceModel]] = []
    for t in TOPICS:
        q = gate_query(t, current)
        ws = WatchSet.compile([Watch(id="w", name=t, query=q)], classifier.g.ids)
        exs = load_examples(examples_dir / f"{t.replace('_', '-')}.jsonl")
        labs = label_examples(exs, classifier, lexical)
        rows, groups, _ = gate_rows(ws, "w", labs)
        m = train(rows, examples_hash(exs), groups, feature_sets=("all",) if lexical else ("structural",),
                  **FIRST_DESIGN)
        print(f"  {t:<22} {'active' if m.active else 'keeps query'}: {m.note}")
        if m.active:
            trained.append((q, m))
    if not trained:
        raise SystemExit("no topic model is active: nothing to measure")
    rng = random.Random(20180701)
    watches, models = [], {}
    for i in range(n_watches):
        q, m = trained[i % len(trained)]
        wid = f"w{i:03d}"
        watches.append(Watch(id=wid, name=wid, query=q))
        models[wid] = replace(m, weights={k: v * rng.uniform(0.8, 1.2) for k, v in m.weights.items()})
    ws = WatchSet.compile(watches, classifier.g.ids)
    return ws, models, {w.id: watch_view(ws, w.id) for w in watches}


def run(ws: WatchSet, models: dict[str, RelevanceModel], views: dict[str, WatchView],
        docs: list[tuple[Article, Classification]], lexical: bool) -> tuple[float, float, int, float]:
    """(query-only seconds, with-model seconds, pairs reaching a model, seconds in prepare)."""
    t0 = time.perf_counter()
    for art, c in docs:
        ws.match(art, c)
    query_only = time.perf_counter() - t0
    pairs, prep = 0, 0.0
    t0 = time.perf_counter()
    for art, c in docs:
        hits = [m for m in ws.match(art, c) if m.watch_id in models]
        if hits:
            tp = time.perf_counter()
            p = prepare(art, c, lexical)
            prep += time.perf_counter() - tp
            for m in hits:
                relevant(models[m.watch_id], p, m, views[m.watch_id])
            pairs += len(hits)
    return query_only, time.perf_counter() - t0, pairs, prep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=SHARED / "ant-v2.1-dev.jsonl.gz")
    ap.add_argument("--examples-dir", type=Path, default=ROOT / "config" / "watchlists" / "examples")
    ap.add_argument("--watches-file", type=Path, default=ROOT / "config" / "watchlists" / "topics.yaml")
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--watches", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lexical", action="store_true", help="models on the lexical features too")
    args = ap.parse_args()
    classifier = Classifier(load_gazetteer(default_gazetteer_paths()))
    print("training the topic models on their examples files:")
    ws, models, views = build(classifier, args.watches, args.examples_dir, args.watches_file, args.lexical)
    # The news sections where the topic watches fire (so many articles reach the models), in corpus order.
    docs: list[tuple[Article, Classification]] = []
    for doc in read_jsonl(args.corpus):
        if "middleEast" in str(doc.get("docno")) or "internationalNews" in str(doc.get("docno")):
            art = corpus_article(doc)
            docs.append((art, classifier.classify(art)))
            if len(docs) >= args.articles:
                break
    runs = [run(ws, models, views, docs, args.lexical) for _ in range(args.runs)]
    n, w = len(docs), len(ws)
    pairs = runs[0][2]
    q_us = statistics.median(r[0] for r in runs) / (n * w) * 1e6
    extra = statistics.median((r[1] - r[0]) / r[2] for r in runs) * 1e6
    prep = statistics.median(r[3] for r in runs) / max(1, sum(1 for _ in docs)) * 1e6
    ratio = statistics.median(r[1] / r[0] for r in runs)
    print(f"{n} articles x {w} watches, {len({m.note for m in models.values()})} trained models perturbed, "
          f"{'lexical' if args.lexical else 'structural'} features, {args.runs} runs, medians:")
    print(f"  (article, watch) pairs reaching a model: {pairs} ({pairs / n:.1f} per article)")
    print(f"  query only:                        {q_us:8.2f} µs per article per watch")
    print(f"  model, per pair reaching it:       {extra:8.2f} µs (prepare amortised; target ≤ 200 µs)")
    print(f"  of which prepare, per article:     {prep:8.2f} µs (all articles, run only when a model watch matched)")
    print(f"  total with models / query only:    {ratio:8.3f}x")


if __name__ == "__main__":
    main()
