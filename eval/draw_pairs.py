"""Draw cross-outlet article pairs to hand-label for the event-clustering evaluation (eval/pairs.jsonl).

Run: .venv/bin/python eval/draw_pairs.py --out /tmp/pair-draw   (needs ../shared/corpus and scikit-learn)

Pairs are of two different outlets, published at most 72 h apart. Several methods draw them, so the set holds
more than what one signal finds (each pair's method is in `draw.jsonl`, which readers never see):
- `minhash`: shared word 3-shingles (MinHash estimate ≥ 0.3): agency copies;
- `lead`: title/lead words shared (lead similarity ≥ 0.3) with little shared text: rewrites today's store finds;
- `tfidf_hi` / `tfidf_mid`: TF-IDF cosine of normalised words ≥ 0.35 / 0.2–0.35, within 36 h;
- `title`: three or more title content words in common, within 48 h;
- `entity`: the same places and actors (classifier entities, Jaccard ≥ 0.5, at least two) within 24 h but little
  shared vocabulary (cosine < 0.2): same place and actors, likely a different event;
- `followup`: similar vocabulary (cosine ≥ 0.25) 24–72 h apart: next-day developments;
- `random`: same day and section, nothing else asked.
Pairs already in tests/fixtures/dedup (the old evaluation set) are left out. Per period (PERIOD_SPLIT, the
date of the earlier article) the quotas below are drawn with a fixed seed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

from feeds.dedup.fingerprint import similarity, sketch  # noqa: E402
from feeds.dedup.lead import lead_similarity, lead_words  # noqa: E402
from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.arabic import normalize_words  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
OLD_PAIRS = ROOT / "tests" / "fixtures" / "dedup" / "pairs.json.gz"
PERIOD_SPLIT = "2018-07-01"  # the same split as every labelled set in eval/ (see eval/draw_topics.py)
QUOTA = {"minhash": 25, "lead": 20, "tfidf_hi": 40, "tfidf_mid": 40, "title": 20, "entity": 30, "followup": 25,
         "random": 20}
SEED = 20261203
NEIGHBOURS = 15  # TF-IDF neighbours kept per article (cross-outlet, within 72 h)


def when(doc: dict[str, object]) -> datetime | None:
    try:
        d = parsedate_to_datetime(str(doc.get("time")))
    except (TypeError, ValueError):
        return None
    return d if d.year == 2018 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--batches", type=int, default=5)
    args = ap.parse_args()
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    docs: dict[str, dict[str, object]] = {}
    for d in read_jsonl(CORPUS):
        t = when(d)
        if t is not None:
            docs[str(d["docno"])] = {"doc": d, "t": t.timestamp(), "day": t.date().isoformat(), "src": d["src"]}
    keys = sorted(docs, key=lambda k: float(docs[k]["t"]))  # type: ignore[arg-type]
    texts, sks, ents, titles = [], {}, {}, {}
    for k in keys:
        art = corpus_article(docs[k]["doc"])  # type: ignore[arg-type]
        texts.append(normalize_words(art.document))
        sks[k] = sketch(art.document)
        c = clf.classify(art)
        ents[k] = {f"r:{h.id}" for h in c.regions[:5]} | {f"a:{h.id}" for h in c.actors[:5]} | \
                  {f"p:{h.id}" for h in c.places[:5]}
        titles[k] = lead_words(art.title) if art.title else set()
    vec = TfidfVectorizer(token_pattern=r"\S{3,}", sublinear_tf=True, min_df=2, max_df=0.2)
    m = vec.fit_transform(texts)
    cos: dict[tuple[str, str], float] = {}
    times = [float(docs[k]["t"]) for k in keys]  # type: ignore[arg-type]
    lo = 0
    for i, k in enumerate(keys):
        while times[lo] < times[i] - 72 * 3600:
            lo += 1
        hi = i
        while hi + 1 < len(keys) and times[hi + 1] <= times[i] + 72 * 3600:
            hi += 1
        sims = (m[lo:hi + 1] @ m[i].T).toarray().ravel()
        order = sims.argsort()[::-1]
        kept = 0
        for j in order:
            other = keys[lo + j]
            if other == k or docs[other]["src"] == docs[k]["src"]:
                continue
            a, b = sorted((k, other))
            cos[(a, b)] = float(sims[j])
            kept += 1
            if kept >= NEIGHBOURS:
                break
    old = set()
    with gzip.open(OLD_PAIRS, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    for group in ("same", "different", "random", "republished"):
        for pair in raw.get(group, []):
            old.add(tuple(sorted(pair[:2])))

    def dt(a: str, b: str) -> float:
        return abs(float(docs[a]["t"]) - float(docs[b]["t"])) / 3600  # type: ignore[arg-type]

    cands: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (a, b), c in cos.items():
        if (a, b) in old:
            continue
        text, lead = similarity(sks[a], sks[b]), lead_similarity(sks[a].lead, sks[b].lead)
        h = dt(a, b)
        if text >= 0.3 and h <= 48:
            cands["minhash"].append((a, b))
        if lead >= 0.3 and text < 0.35 and h <= 48:
            cands["lead"].append((a, b))
        if c >= 0.35 and h <= 36:
            cands["tfidf_hi"].append((a, b))
        elif 0.2 <= c < 0.35 and h <= 36:
            cands["tfidf_mid"].append((a, b))
        if c >= 0.25 and 24 < h <= 72:
            cands["followup"].append((a, b))
        if len(titles[a] & titles[b]) >= 3 and h <= 48:
            cands["title"].append((a, b))
    # entity and random pairs are drawn over every cross-outlet pair of a day, not only TF-IDF neighbours
    by_day: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        by_day[str(docs[k]["day"])].append(k)
    for day_keys in by_day.values():
        for i, a in enumerate(day_keys):
            for b in day_keys[i + 1:]:
                if docs[a]["src"] == docs[b]["src"]:
                    continue
                pair = tuple(sorted((a, b)))
                if pair in old:
                    continue
                ea, eb = ents[a], ents[b]
                if len(ea & eb) >= 2 and len(ea & eb) / len(ea | eb) >= 0.5 and cos.get(pair, 0.0) < 0.2:  # type: ignore[arg-type]
                    cands["entity"].append(pair)  # type: ignore[arg-type]
                if docs[a]["doc"]["cat"] == docs[b]["doc"]["cat"]:  # type: ignore[index]
                    cands["random"].append(pair)  # type: ignore[arg-type]
    rng = random.Random(SEED)
    chosen: dict[tuple[str, str], str] = {}
    for period in ("tune", "heldout"):
        for method, quota in QUOTA.items():
            pool = sorted({p for p in cands[method] if p not in chosen
                           and ((min(str(docs[p[0]]["day"]), str(docs[p[1]]["day"])) < PERIOD_SPLIT)
                                == (period == "tune"))})
            for p in rng.sample(pool, min(quota, len(pool))):
                chosen[p] = method
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for (a, b), method in sorted(chosen.items()):
        first = min(str(docs[a]["day"]), str(docs[b]["day"]))
        rows.append({"a": a, "b": b, "method": method, "period": "tune" if first < PERIOD_SPLIT else "heldout",
                     "cosine": round(cos.get((a, b), 0.0), 3), "text": round(similarity(sks[a], sks[b]), 3),
                     "lead": round(lead_similarity(sks[a].lead, sks[b].lead), 3), "hours": round(dt(a, b), 1)})
    with (args.out / "draw.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    order = list(range(len(rows)))
    rng.shuffle(order)
    size = math.ceil(len(order) / args.batches)
    for bi in range(args.batches):
        part = order[bi * size:(bi + 1) * size]
        for reader in ("a", "b"):
            mine = list(part)
            random.Random(f"{SEED}-{bi}-{reader}").shuffle(mine)
            with (args.out / f"batch{bi + 1}-{reader}.txt").open("w", encoding="utf-8") as fh:
                for n, idx in enumerate(mine, 1):
                    r = rows[idx]
                    pair = [r["a"], r["b"]]
                    random.Random(f"{r['a']}{r['b']}{reader}").shuffle(pair)  # which is shown first varies
                    fh.write(f"##### PAIR {n}/{len(mine)} pair_id: {r['a']}|{r['b']}\n")
                    for label, k in zip(("FIRST", "SECOND"), pair, strict=True):
                        d = docs[k]["doc"]
                        text = re.sub(r"\n{3,}", "\n\n", str(d.get("text") or ""))  # type: ignore[union-attr]
                        fh.write(f"--- {label}: {k} | outlet: {d['src']} | published: {d['time']}\n"  # type: ignore[index]
                                 f"TITLE: {d.get('title') or ''}\nABSTRACT: {d.get('abstract') or ''}\n"  # type: ignore[union-attr]
                                 f"TEXT:\n{text}\n")
                    fh.write("\n")
    print(Counter(chosen.values()), len(chosen))
    print(Counter(r["period"] for r in rows))


if __name__ == "__main__":
    main()
