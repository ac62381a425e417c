"""A third topic draw, tune period only: articles the turkey_russia_syria and chemical_syria gates pass, so that
a per-watch model has relevant and irrelevant examples to learn from (the first two draws left 19 relevant and
13 irrelevant gated turkey_russia_syria examples, and only 4 irrelevant gated chemical_syria ones).

Run: .venv/bin/python eval/draw_gated.py --out /tmp/draw3   (needs ../shared/corpus)

Methods (recorded in draw.jsonl, never shown to the readers), over tune-period articles not yet labelled (nor in
labels-dev.jsonl):
- `gated`: every article today's turkey_russia_syria query passes (all of them: the pool is small);
- `gated_weak`: articles a chemical_syria gate passes with no chemical cue in the title or abstract (the
  mentions in passing that the query cannot tell from reports);
- `gated_any`: articles a chemical_syria gate passes, at random.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))
sys.path.insert(0, str(ROOT / "bench"))

from draw_topics import CORPUS, DEV, PERIOD_SPLIT, day, topic_setup, write  # noqa: E402
from relevance_eval import CANDIDATES, compile_gate  # noqa: E402

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.evaluation.topics import topic_watch_id  # noqa: E402
from feeds.nlp.arabic import normalize  # noqa: E402

LABELS = ROOT / "eval" / "labels-topics.jsonl"
QUOTA = {"gated_weak": 30, "gated_any": 10}
SEED = 20261204
_CHEM_CUE = [normalize(w) for w in ("كيماوي", "كيميائي", "كيمياوي", "سارين", "الكلور", "غاز", "سام")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    clf, current = topic_setup()
    chem = [compile_gate(clf, "chemical_syria", q) for _, q in CANDIDATES["chemical_syria"] if q]
    taken = {str(g["docno"]) for g in read_jsonl(LABELS)} | {str(g["docno"]) for g in read_jsonl(DEV)}
    info, turkey, weak, anychem = {}, [], [], []
    for doc in read_jsonl(CORPUS):
        k = str(doc["docno"])
        d = day(doc.get("time"), k)
        if not d.startswith("2018") or d >= PERIOD_SPLIT or k in taken:
            continue
        art = corpus_article(doc)
        c = clf.classify(art)
        fired = {m.watch_id for m in current.match(art, c)}
        info[k] = {"doc": doc, "day": d}
        if topic_watch_id("turkey_russia_syria") in fired:
            turkey.append(k)
        if topic_watch_id("chemical_syria") in fired or any(g.match(art, c) for g in chem):
            anychem.append(k)
            head = normalize(f"{doc.get('title') or ''} {doc.get('abstract') or ''}")
            if not any(w in head for w in _CHEM_CUE):
                weak.append(k)
    rng = random.Random(SEED)
    chosen = {k: "gated:turkey_russia_syria" for k in sorted(turkey)}
    for method, cands in (("gated_weak", weak), ("gated_any", anychem)):
        cands = sorted(k for k in cands if k not in chosen)
        for k in rng.sample(cands, min(QUOTA[method], len(cands))):
            chosen[k] = f"{method}:chemical_syria"
    write(args.out, chosen, info, rng, batches=3)


if __name__ == "__main__":
    main()
