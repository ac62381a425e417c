"""Score the classifier against the hand-labelled dev gold: P/R/F1 for countries and actors, and errors.

    .venv/bin/python bench/eval_classify.py [--labels ../shared/corpus/labels-dev.jsonl]
                                            [--corpus ../shared/corpus/ant-v2.1-dev.jsonl.gz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.evaluation.gold import run_eval  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus"


def main() -> None:
    ap = argparse.ArgumentParser(description="score the classifier against gold labels")
    ap.add_argument("--labels", type=Path, default=SHARED / "labels-dev.jsonl")
    ap.add_argument("--corpus", type=Path, default=SHARED / "ant-v2.1-dev.jsonl.gz")
    args = ap.parse_args()
    classifier = Classifier(load_gazetteer(default_gazetteer_paths()))
    print(run_eval(args.labels, args.corpus, classifier).format())


if __name__ == "__main__":
    main()
