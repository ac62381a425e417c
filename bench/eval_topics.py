"""Score the topic watches of config/watchlists/topics.yaml against the gold topics of labels-dev.jsonl.

Usage: .venv/bin/python bench/eval_topics.py [--labels ../shared/corpus/labels-dev.jsonl]
       [--corpus ../shared/corpus/ant-v2.1-dev.jsonl.gz] [--watches config/watchlists/topics.yaml]
Prints P/R/F1 per topic with the docnos of false positives and negatives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.evaluation.topics import evaluate_topics, format_topic_scores  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from feeds.query.load import load_watches  # noqa: E402
from feeds.query.watchset import WatchSet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=ROOT.parent / "shared" / "corpus" / "labels-dev.jsonl")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz")
    ap.add_argument("--watches", type=Path, default=ROOT / "config" / "watchlists" / "topics.yaml")
    args = ap.parse_args()
    gaz = load_gazetteer(default_gazetteer_paths())
    watchset = WatchSet.compile(load_watches([args.watches]), gaz.ids)
    classifier = Classifier(gaz)
    gold = {str(g["docno"]): g for g in read_jsonl(args.labels)}
    items = []
    for doc in read_jsonl(args.corpus):
        g = gold.get(str(doc["docno"]))
        if g is not None:
            art = corpus_article(doc)
            items.append((g, art, classifier.classify(art)))
    print(f"{len(items)} labelled articles found in the corpus (of {len(gold)} labels)")
    print(format_topic_scores(evaluate_topics(watchset, items)))


if __name__ == "__main__":
    main()
