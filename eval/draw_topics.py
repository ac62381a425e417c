"""Draw the articles to hand-label for the topic gold (eval/labels-topics.jsonl), by several methods.

Run: .venv/bin/python eval/draw_topics.py --out /tmp/topic-draw   (needs ../shared/corpus)

Methods, so the set is not only what today's queries find (each draw is recorded in `draw.jsonl`, which the
readers never see):
- `watch`: a topic watch of config/watchlists/topics.yaml fires;
- `near`: a relaxed rule fires (the topic's cue words and its country anywhere in the text, both states
  named for Turkey–Russia, north-west Syrian places for Idlib) but the watch does not: near misses;
- `neighbour`: among the 60 articles of the period closest (TF-IDF cosine of normalised words) to the
  centroid of the topic's positives in labels-dev.jsonl, one the watch does not fire on: the matter in other
  words, found without any query;
- `place`: Syria or Libya is among the article's top three regions, and no method above drew it: same places
  without the topic;
- `random`: uniform over the period.
Per period (tune: published before PERIOD_SPLIT; held-out: from it), quotas below; seed fixed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.arabic import normalize, normalize_words  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from feeds.query.load import load_watches  # noqa: E402
from feeds.query.watchset import WatchSet  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
DEV = ROOT.parent / "shared" / "corpus" / "labels-dev.jsonl"
# The date split of every labelled set in eval/: the tune part is published before it, the held-out part on
# or after it. July 2018 leaves each part with reports of every topic (Ghouta, Douma and Afrin before;
# Daraa, the Idlib offensive, the Sochi memorandum and the Tripoli truce after).
PERIOD_SPLIT = "2018-07-01"
TOPICS = ("idlib", "libya_ceasefire", "syria_ceasefire", "chemical_syria", "turkey_russia_syria")
QUOTA = {"watch": 15, "near": 11, "neighbour": 7}
PLACE_QUOTA, RANDOM_QUOTA = 45, 30
SEED = 20261202

_CEASE = [normalize(w) for w in (
    "وقف إطلاق النار", "لإطلاق النار", "هدنة", "الهدنة", "وقف القتال", "تهدئة", "التهدئة", "وقف الأعمال العدائية",
    "خفض التصعيد", "تخفيف التصعيد", "منزوعة السلاح", "منطقة عازلة", "اتفاق", "تسوية", "مصالحة", "ضامنة",
    "سوتشي", "أستانا", "أستانة")]
_CHEM = [normalize(w) for w in ("كيم", "كيماوي", "سام", "غاز", "الكلور", "سارين", "حظر الأسلحة", "دوما")]
_NORTHWEST = [normalize(w) for w in ("جسر الشغور", "معرة النعمان", "سراقب", "ريف حماة", "خان شيخون",
                                     "ريف حلب", "شمال سوريا", "شمال غرب سوريا", "الشمال السوري")]


def topic_setup() -> tuple[Classifier, WatchSet]:
    """The shipped gazetteer's classifier and today's topic watches (config/watchlists/topics.yaml), as every
    topic draw uses them."""
    gaz = load_gazetteer(default_gazetteer_paths())
    return Classifier(gaz), WatchSet.compile(load_watches([ROOT / "config" / "watchlists" / "topics.yaml"]), gaz.ids)


def day(article_time: str | None, docno: str) -> str:
    d = docno.rsplit("-", 1)[-1]
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}"


def near_rule(topic: str, text: str, regions: set[str]) -> bool:
    if topic == "libya_ceasefire":
        return "LY" in regions and any(c in text for c in _CEASE)
    if topic == "syria_ceasefire":
        return "SY" in regions and any(c in text for c in _CEASE)
    if topic == "chemical_syria":
        return any(c in text for c in _CHEM) and ("SY" in regions or "سوري" in text)
    if topic == "turkey_russia_syria":
        return {"TR", "RU", "SY"} <= regions
    return "SY" in regions and any(c in text for c in _NORTHWEST)


def tfidf(docs: dict[str, str]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    df: Counter[str] = Counter()
    tf: dict[str, Counter[str]] = {}
    for k, t in docs.items():
        c = Counter(w for w in t.split() if len(w) > 2)
        tf[k] = c
        df.update(c.keys())
    n = len(docs)
    idf = {w: math.log(n / d) for w, d in df.items()}
    vecs = {}
    for k, c in tf.items():
        v = {w: (1 + math.log(x)) * idf[w] for w, x in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vecs[k] = {w: x / norm for w, x in v.items()}
    return vecs, idf


_TRUCE = [normalize(w) for w in ("هدنة", "الهدنة", "وقف إطلاق النار", "لإطلاق النار", "وقف القتال", "وقف الاقتتال")]
_LIBYA = [normalize(w) for w in ("ليبيا", "الليبي", "طرابلس", "بنغازي", "حفتر", "السراج", "مصراتة", "الوفاق")]


def libya_supplement(info: dict[str, dict[str, Any]], taken: set[str], rng: random.Random) -> dict[str, str]:
    """The first draw held no libya_ceasefire positive outside labels-dev.jsonl: the topic is rare (the
    Tripoli clashes and truce of late Aug-Sep 2018 are thinly covered). So a second draw adds every Libya
    article (Libya among the top three regions) of 2018-08-25..2018-09-30, every article with a truce word
    within 25 words of a Libyan name, and 20 random Libya articles of each period."""
    out: dict[str, str] = {}
    for k, v in sorted(info.items()):
        if k in taken or not v["day"].startswith("2018"):
            continue
        words = v["text"].split()
        near = any(any(t.split()[0] in w for t in _TRUCE) and any(x in " ".join(words[max(0, i - 25):i + 25])
                                                                    for x in _LIBYA) for i, w in enumerate(words))
        libya = "LY" in v["regions"][:3]
        if libya and "2018-08-25" <= v["day"] <= "2018-09-30":
            out[k] = "supplement:libya_period"
        elif near and libya:
            out[k] = "supplement:libya_truce_word"
    for period in ("tune", "heldout"):
        pool = sorted(k for k, v in info.items() if k not in taken and k not in out and "LY" in v["regions"][:3]
                      and v["day"].startswith("2018") and ((v["day"] < PERIOD_SPLIT) == (period == "tune")))
        for k in rng.sample(pool, min(20, len(pool))):
            out[k] = "supplement:libya_random"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--supplement", type=Path, default=None,
                    help="draw the Libya supplement instead, leaving out the docnos of this draw.jsonl")
    args = ap.parse_args()
    clf, ws = topic_setup()
    dev = {str(g["docno"]): g for g in read_jsonl(DEV)}
    docs, info = {}, {}
    for doc in read_jsonl(CORPUS):
        docno = str(doc["docno"])
        art = corpus_article(doc)
        c = clf.classify(art)
        fired = {m.watch_id for m in ws.match(art, c)}
        regions = [h.id for h in c.regions]
        info[docno] = {"doc": doc, "day": day(doc.get("time"), docno), "regions": regions,
                       "fired": {t for t in TOPICS if "topic-" + t.replace("_", "-") in fired},
                       "text": normalize(art.document)}
        docs[docno] = normalize_words(art.document)
    rng = random.Random(SEED)
    chosen: dict[str, str] = {}
    if args.supplement is not None:
        taken = {json.loads(x)["docno"] for x in args.supplement.read_text(encoding="utf-8").splitlines()}
        chosen = libya_supplement(info, taken | set(dev), rng)
        write(args.out, chosen, info, rng, batches=1)
        return
    vecs, _ = tfidf(docs)
    for period in ("tune", "heldout"):
        pool = sorted(k for k, v in info.items() if k not in dev and v["day"].startswith("2018")
                      and ((v["day"] < PERIOD_SPLIT) == (period == "tune")))
        for topic in TOPICS:
            watch = [k for k in pool if topic in info[k]["fired"]]
            near = [k for k in pool if topic not in info[k]["fired"]
                    and near_rule(topic, info[k]["text"], set(info[k]["regions"]))]
            pos = [vecs[k] for k, g in dev.items() if g["topics"].get(topic) and k in vecs]
            centroid: Counter[str] = Counter()
            for v in pos:
                centroid.update(v)
            ranked = sorted(pool, key=lambda k: -sum(x * centroid.get(w, 0.0) for w, x in vecs[k].items()))[:60]
            neigh = [k for k in ranked if topic not in info[k]["fired"]]
            for method, cands in (("watch", watch), ("near", near), ("neighbour", neigh)):
                cands = [k for k in cands if k not in chosen]
                for k in rng.sample(cands, min(QUOTA[method], len(cands))):
                    chosen[k] = f"{method}:{topic}"
        place = [k for k in pool if k not in chosen and {"SY", "LY"} & set(info[k]["regions"][:3])]
        for k in rng.sample(place, min(PLACE_QUOTA, len(place))):
            chosen[k] = "place"
        rest = [k for k in pool if k not in chosen]
        for k in rng.sample(rest, RANDOM_QUOTA):
            chosen[k] = "random"
    write(args.out, chosen, info, rng, args.batches)


def write(out: Path, chosen: dict[str, str], info: dict[str, dict[str, Any]], rng: random.Random,
          batches: int) -> None:
    """draw.jsonl (method per docno, never shown to readers) and one file per batch and reader."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "draw.jsonl").open("w", encoding="utf-8") as fh:
        for k in sorted(chosen):
            fh.write(json.dumps({"docno": k, "method": chosen[k], "day": info[k]["day"],
                                 "period": "tune" if info[k]["day"] < PERIOD_SPLIT else "heldout"}) + "\n")
    keys = sorted(chosen)
    rng.shuffle(keys)
    size = math.ceil(len(keys) / batches)
    for b in range(batches):
        part = keys[b * size:(b + 1) * size]
        for reader in ("a", "b"):
            order = list(part)
            random.Random(f"{SEED}-{b}-{reader}").shuffle(order)
            with (out / f"batch{b + 1}-{reader}.txt").open("w", encoding="utf-8") as fh:
                for i, k in enumerate(order, 1):
                    d = info[k]["doc"]
                    text = re.sub(r"\n{3,}", "\n\n", str(d.get("text") or ""))
                    fh.write(f"=== ARTICLE {i}/{len(order)} docno: {k}\nTITLE: {d.get('title') or ''}\n"
                             f"ABSTRACT: {d.get('abstract') or ''}\nTEXT:\n{text}\n\n")
    print(Counter(v.split(":")[0] for v in chosen.values()), len(chosen))
    print(Counter(v for v in chosen.values()))


if __name__ == "__main__":
    main()
