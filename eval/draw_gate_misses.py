"""A second topic draw, tune period only: Syria articles no syria_ceasefire gate finds, to see what the query
misses (the first draw's tune part held no such positive, so no widening or model could be chosen on tune).

Run: .venv/bin/python eval/draw_gate_misses.py --out /tmp/draw2   (needs ../shared/corpus)

Methods (recorded in draw.jsonl, never shown to the readers), over tune-period articles not yet labelled and
on which none of the syria_ceasefire candidate gates of bench/relevance_eval.py fires:
- `wide_cue`: Syria among the top three regions and a broad truce/agreement cue anywhere (wider than the
  first draw's: agreement, understanding, guarantors, violations, calm, observation points);
- `neighbour`: among the 200 articles closest (TF-IDF cosine) to the centroid of the positives of the tune part
  of labels-topics.jsonl and of all labels-dev.jsonl (as the first draw did; only the draw, never a parameter);
- `random_sy`: Syria among the top three regions.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))
sys.path.insert(0, str(ROOT / "bench"))

from draw_topics import CORPUS, DEV, PERIOD_SPLIT, day, tfidf, topic_setup, write  # noqa: E402
from relevance_eval import CANDIDATES, compile_gate  # noqa: E402

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.arabic import normalize, normalize_words  # noqa: E402

LABELS = ROOT / "eval" / "labels-topics.jsonl"
QUOTA = {"wide_cue": 30, "neighbour": 20, "random_sy": 10}
SEED = 20261203
_WIDE = [normalize(w) for w in (
    "وقف النار", "تهدئة", "التهدئة", "الضامنة", "خرق", "خروقات", "اتفاق", "الاتفاق", "تفاهم", "نقاط المراقبة",
    "هدوء", "هدنة", "الهدنة", "خفض التوتر", "تخفيف التوتر", "وقف القصف", "وقف الغارات", "المناطق الآمنة")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    clf, current = topic_setup()
    gates = [compile_gate(clf, "syria_ceasefire", q) for _, q in CANDIDATES["syria_ceasefire"] if q]
    taken = {str(g["docno"]) for g in read_jsonl(LABELS)}
    dev = {str(g["docno"]): g for g in read_jsonl(DEV)}
    taken_pos = {str(g["docno"]) for g in read_jsonl(LABELS)
                 if g["split"] == "tune" and g["topics"].get("syria_ceasefire")}
    positives = taken_pos | {k for k, g in dev.items() if g["topics"].get("syria_ceasefire")}
    docs, info = {}, {}
    for doc in read_jsonl(CORPUS):
        k = str(doc["docno"])
        d = day(doc.get("time"), k)
        if not d.startswith("2018") or d >= PERIOD_SPLIT:
            continue
        art = corpus_article(doc)
        docs[k] = normalize_words(art.document)
        if k in taken or k in dev:
            continue
        c = clf.classify(art)
        fired = any(m.watch_id == "topic-syria-ceasefire" for m in current.match(art, c))
        fired = fired or any(g.match(art, c) for g in gates)
        info[k] = {"doc": doc, "day": d, "regions": [h.id for h in c.regions], "fired": fired,
                   "text": normalize(art.document)}
    vecs, _ = tfidf(docs)
    centroid: Counter[str] = Counter()
    for k in positives:
        if k in vecs:
            centroid.update(vecs[k])
    pool = sorted(k for k, v in info.items() if not v["fired"])
    syria = [k for k in pool if "SY" in info[k]["regions"][:3]]
    rng = random.Random(SEED)
    chosen: dict[str, str] = {}
    wide = [k for k in syria if any(w in info[k]["text"] for w in _WIDE)]
    ranked = sorted(pool, key=lambda k: -sum(x * centroid.get(w, 0.0) for w, x in vecs[k].items()))[:200]
    for method, cands in (("wide_cue", wide), ("neighbour", ranked), ("random_sy", syria)):
        cands = [k for k in cands if k not in chosen]
        for k in rng.sample(cands, min(QUOTA[method], len(cands))):
            chosen[k] = f"{method}:syria_ceasefire"
    write(args.out, chosen, info, rng, batches=1)


if __name__ == "__main__":
    main()
