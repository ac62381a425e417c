"""Dedup evaluation: precision/recall of "same story" on real pairs, syndicated variants, hard negatives.

Run: .venv/bin/python bench/dedup_eval.py           (reads tests/fixtures/dedup/pairs.json.gz)
     .venv/bin/python bench/dedup_eval.py --build   (rebuilds that fixture from ../shared/corpus)
The labelled pairs below were found by shared 3-shingles within 36 h (cross-outlet) or on the same day,
sampled across similarity levels, and judged by reading titles and leads. Text: ANT corpus v2.1
(Chouigui, Ben Khiroun, Elayeb, AICCSA 2017); news text © the outlets.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feeds.dedup.fingerprint as dfp
import feeds.dedup.lead as dl
import feeds.dedup.story as dd

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "dedup" / "pairs.json.gz"
CORPUS = REPO.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"

# Same story, read and judged by title and lead (cross-outlet unless both ids share a prefix).
SAME = [
    ("SK-sport-1709-20180617", "FR-internationalNews-1871-20180617"),
    ("AL-internationalNews-1059-20180508", "FR-middleEast-424-20180508"),
    ("SK-middleEast-557-20180325", "CN-middleEast-373-20180325"),
    ("AL-economy-951-20180706", "FR-internationalNews-2186-20180706"),
    ("BB-culture-181-20180530", "FR-culture-89-20180530"),
    ("SK-internationalNews-44-20180220", "FR-middleEast-25-20180220"),
    ("AL-internationalNews-926-20180416", "SK-middleEast-1047-20180416"),
    ("AL-internationalNews-1032-20180507", "FR-middleEast-417-20180507"),
    ("AL-internationalNews-1515-20180608", "FR-internationalNews-1710-20180608"),
    ("AL-culture-130-20180305", "FR-culture-22-20180305"),
    ("BB-middleEast-457-20180506", "FR-middleEast-411-20180506"),
    ("AL-internationalNews-1250-20180520", "SK-middleEast-1830-20180520"),
    ("SK-middleEast-265-20180313", "FR-internationalNews-394-20180312"),
    ("SK-middleEast-2109-20180602", "CN-middleEast-1085-20180603"),
    ("AL-internationalNews-1937-20180715", "SK-technology-1101-20180715"),
    ("FR-internationalNews-1361-20180521", "CN-middleEast-989-20180521"),
    ("SK-middleEast-1680-20180509", "FR-middleEast-432-20180509"),
    ("AL-internationalNews-1742-20180623", "SK-internationalNews-2279-20180623"),
    ("AL-internationalNews-1581-20180612", "FR-internationalNews-1785-20180613"),
    ("SK-economy-1399-20181008", "CN-economy-375-20181008"),
    ("SK-technology-406-20180413", "FR-internationalNews-718-20180413"),
    ("AL-technology-243-20180514", "SK-technology-675-20180514"),
    ("AL-internationalNews-1038-20180507", "SK-internationalNews-1414-20180507"),
    ("AL-economy-776-20180608", "SK-economy-748-20180608"),
    ("SK-middleEast-1798-20180518", "FR-internationalNews-1315-20180518"),
    ("AL-sport-2016-20180617", "SK-sport-1706-20180617"),
    ("AL-internationalNews-703-20180331", "SK-middleEast-683-20180331"),
    ("SK-sport-2431-20180809", "FR-internationalNews-2639-20180809"),
    ("AL-technology-192-20180426", "FR-internationalNews-937-20180426"),
    ("SK-sport-2431-20180809", "FR-sport-291-20180809"),
    ("SK-internationalNews-246-20180309", "FR-middleEast-129-20180310"),
    ("AL-internationalNews-978-20180502", "SK-internationalNews-1308-20180502"),
    ("AL-sport-1573-20180516", "SK-sport-1203-20180516"),
    ("SK-economy-605-20180520", "FR-economy-37-20180520"),
    ("AL-sport-690-20180317", "SK-sport-314-20180317"),
    ("SK-sport-2275-20180720", "FR-internationalNews-2403-20180720"),
    ("SK-internationalNews-2505-20180706", "FR-internationalNews-2183-20180706"),
    ("AL-internationalNews-404-20180309", "SK-internationalNews-232-20180309"),
    ("AL-internationalNews-1299-20180524", "FR-internationalNews-1409-20180524"),
    ("AL-sport-158-20180221", "SK-sport-61-20180221"),
    ("AL-internationalNews-814-20180405", "SK-internationalNews-808-20180405"),
    ("SK-sport-1483-20180605", "FR-sport-135-20180605"),
    ("SK-technology-755-20180525", "FR-internationalNews-1445-20180525"),
    ("AL-internationalNews-1109-20180511", "SK-internationalNews-1520-20180511"),
    ("SK-economy-417-20180424", "CN-economy-85-20180425"),
    ("AL-internationalNews-2019-20180722", "FR-internationalNews-2441-20180722"),
    ("AL-economy-691-20180530", "SK-economy-675-20180530"),
    ("SK-internationalNews-3056-20180817", "FR-internationalNews-2752-20180817"),
    ("AL-internationalNews-716-20180331", "SK-internationalNews-702-20180331"),
    ("AL-sport-1079-20180404", "SK-sport-564-20180404"),
    ("SK-middleEast-2731-20180703", "FR-middleEast-724-20180703"),
    ("SK-middleEast-1319-20180429", "FR-internationalNews-993-20180429"),
    ("AL-economy-785-20180610", "SK-economy-757-20180610"),
    ("AL-internationalNews-1905-20180712", "SK-middleEast-2860-20180712"),
    ("AL-internationalNews-964-20180503", "SK-internationalNews-1322-20180502"),
    ("AL-internationalNews-183-20180224", "SK-internationalNews-119-20180224"),
    ("SK-sport-299-20180316", "FR-sport-42-20180316"),
    ("AL-sport-307-20180228", "SK-sport-170-20180228"),
    ("AL-sport-1585-20180517", "SK-sport-1214-20180517"),
    ("AL-sport-283-20180227", "SK-sport-138-20180227"),
    ("AL-sport-589-20180313", "SK-sport-246-20180313"),
    ("AL-sport-756-20180320", "SK-sport-342-20180320"),
    ("AL-economy-300-20180324", "SK-internationalNews-558-20180324"),
    ("AL-internationalNews-730-20180401", "SK-internationalNews-712-20180331"),
    ("AL-economy-424-20180411", "SK-economy-334-20180411"),
    ("AL-economy-468-20180503", "SK-internationalNews-1325-20180503"),
    ("AL-sport-1420-20180505", "SK-sport-1004-20180505"),
    ("AL-internationalNews-800-20180405", "SK-internationalNews-807-20180405"),
    ("AL-internationalNews-852-20180409", "SK-internationalNews-865-20180409"),
    ("AL-economy-709-20180602", "FR-internationalNews-1583-20180602"),
    ("AL-internationalNews-1510-20180608", "FR-internationalNews-1701-20180608"),
    ("AL-internationalNews-154-20180222", "SK-internationalNews-91-20180222"),
    ("AL-sport-1326-20180415", "SK-sport-725-20180415"),
    ("BB-middleEast-880-20180812", "FR-internationalNews-2683-20180812"),
    ("SK-middleEast-35-20180223", "BB-middleEast-83-20180223"),
    ("SK-middleEast-35-20180223", "SK-middleEast-39-20180223"),
]
# Different stories on the same topic within a day or two (Idlib, Ghouta truce, CNN same-day).
DIFFERENT = [
    ("SK-internationalNews-1256-20180429", "FR-internationalNews-998-20180429"),
    ("SK-middleEast-1378-20180501", "CN-middleEast-782-20180502"),
    ("AL-internationalNews-1223-20180518", "SK-internationalNews-1632-20180518"),
    ("AL-internationalNews-609-20180325", "SK-internationalNews-569-20180325"),
    ("SK-internationalNews-1918-20180602", "FR-internationalNews-1579-20180601"),
    ("SK-middleEast-2109-20180602", "CN-middleEast-1091-20180603"),
    ("CN-internationalNews-490-20180814", "CN-internationalNews-503-20180814"),
    ("BB-middleEast-1004-20181001", "BB-middleEast-1052-20181002"),
    ("CN-economy-258-20180903", "CN-economy-260-20180903"),
    ("CN-middleEast-1231-20180816", "CN-middleEast-1232-20180816"),
    ("SK-middleEast-572-20180326", "SK-middleEast-574-20180326"),
    ("CN-internationalNews-615-20181002", "CN-internationalNews-637-20181003"),
    ("CN-middleEast-1512-20181013", "CN-middleEast-1513-20181013"),
    ("CN-middleEast-1522-20181014", "CN-middleEast-1525-20181014"),
    ("CN-internationalNews-496-20180815", "CN-internationalNews-500-20180814"),
    ("SK-middleEast-1798-20180518", "SK-middleEast-1802-20180518"),
    ("CN-middleEast-1361-20180912", "CN-middleEast-1362-20180912"),
    ("CN-internationalNews-490-20180814", "CN-internationalNews-496-20180815"),
    ("CN-economy-166-20180812", "CN-economy-168-20180812"),
    ("CN-middleEast-1592-20181017", "CN-middleEast-1595-20181018"),
    ("SK-middleEast-2240-20180608", "SK-middleEast-2242-20180608"),
    ("SK-middleEast-2288-20180610", "SK-middleEast-2301-20180610"),
    ("SK-middleEast-3352-20180812", "BB-middleEast-880-20180812"),
    ("SK-middleEast-3352-20180812", "FR-internationalNews-2683-20180812"),
    ("SK-middleEast-3403-20180814", "FR-middleEast-929-20180814"),
    ("SK-middleEast-3403-20180814", "CN-middleEast-1194-20180814"),
    ("FR-middleEast-929-20180814", "CN-middleEast-1194-20180814"),
    ("SK-middleEast-11-20180222", "SK-middleEast-25-20180222"),
    ("SK-middleEast-35-20180223", "BB-middleEast-78-20180223"),
    ("SK-middleEast-35-20180223", "CN-middleEast-76-20180223"),
    ("BB-middleEast-78-20180223", "BB-middleEast-83-20180223"),
    ("BB-middleEast-78-20180223", "CN-middleEast-76-20180223"),
    ("SK-middleEast-14-20180222", "CN-middleEast-62-20180222"),
    ("SK-middleEast-62-20180225", "CN-middleEast-92-20180225"),
]
# The same outlet publishing one article under two section URLs (exact/near-exact copies).
REPUBLISHED = [
    ("FR-internationalNews-2364-20180718", "FR-economy-67-20180718"),
    ("SK-internationalNews-1451-20180508", "SK-internationalNews-1474-20180508"),
    ("FR-internationalNews-2465-20180727", "FR-economy-68-20180727"),
    ("FR-internationalNews-2353-20180717", "FR-sport-269-20180717"),
    ("FR-middleEast-615-20180611", "FR-internationalNews-1752-20180611"),
    ("FR-middleEast-603-20180607", "FR-internationalNews-1694-20180607"),
]
# "Random" negatives were drawn unread; the ones the lead signature ranked highest (lead similarity
# ≥ 0.15: 5 of 60) were read, and these 3 turned out to report one event: labelled same story.
RANDOM_READ_SAME = {
    ("SK-economy-914-20180705", "AL-economy-955-20180705"),  # Egypt's first primary surplus in 15 years
    ("AL-culture-436-20180531", "BB-culture-183-20180531"),  # Weinstein indicted for rape in Manhattan
    ("FR-culture-33-20180324", "AL-culture-194-20180324"),  # singer Reem Banna dies
}
# Unseen corpus pairs where the lead rule and the text rule alone disagree, read and judged (True = same
# story). Found by `--mine`: cross-outlet pairs ≤ 36 h apart meeting on an LSH band, the rule at
# text ≥ 0.15 / lead ≥ 0.30 / veto 0.20; random samples (seed 7) of 30 of the 223 merged only through the
# lead rule and 15 of the 23 vetoed; the 4 already in the fixture left out. Scored by `--mined`.
MINED_LEAD = {  # merged only through the lead rule
    ("AL-economy-455-20180415", "FR-economy-28-20180414"): True,  # Algeria: economy to improve
    ("AL-economy-764-20180606", "CN-middleEast-1130-20180606"): True,  # Razzaz: fair tax system
    ("AL-economy-804-20180611", "SK-internationalNews-2068-20180610"): True,  # summit costs Singapore $20M
    ("AL-economy-945-20180707", "SK-economy-932-20180707"): True,  # IMF tranche for Tunisia
    ("AL-economy-970-20180703", "SK-economy-898-20180703"): True,  # Turkish inflation above 15 %
    ("AL-internationalNews-1077-20180509", "SK-internationalNews-1449-20180508"): True,  # Turkey warns
    ("AL-internationalNews-1093-20180510", "SK-internationalNews-1491-20180509"): True,  # Somalia market blast
    ("AL-internationalNews-1257-20180521", "SK-internationalNews-1686-20180521"): True,  # Maduro re-elected
    ("AL-internationalNews-1496-20180606", "SK-internationalNews-1993-20180606"): True,  # Macron "sausages"
    ("AL-internationalNews-1822-20180709", "FR-internationalNews-2202-20180709"): True,  # Davis resigns
    ("AL-internationalNews-1888-20180711", "SK-economy-948-20180711"): False,  # US list; China's reply
    ("AL-internationalNews-255-20180227", "SK-middleEast-115-20180227"): True,  # church taxes frozen
    ("AL-internationalNews-814-20180405", "FR-internationalNews-556-20180405"): True,  # Puigdemont freed
    ("AL-internationalNews-905-20180413", "SK-middleEast-1010-20180413"): True,  # drone carried explosives
    ("AL-sport-1511-20180511", "SK-sport-1123-20180511"): True,  # Alves out of the World Cup
    ("AL-sport-2034-20180618", "SK-sport-1735-20180618"): True,  # Saudi complaint about beIN
    ("AL-sport-2133-20180625", "SK-sport-1864-20180625"): True,  # El Hadary oldest player
    ("AL-sport-248-20180225", "SK-sport-98-20180225"): True,  # Semedo out five weeks
    ("BB-middleEast-484-20180510", "FR-middleEast-437-20180510"): True,  # Iraqi forces vote early
    ("CN-middleEast-1130-20180606", "SK-middleEast-2191-20180606"): True,  # Razzaz: fair tax system
    ("CN-middleEast-255-20180313", "SK-middleEast-253-20180312"): True,  # crown prince to meet Trump
    ("CN-middleEast-421-20180330", "SK-middleEast-686-20180331"): False,  # two different interceptions
    ("CN-middleEast-864-20180510", "SK-middleEast-1570-20180510"): True,  # bin Suhaim on Qatar
    ("FR-internationalNews-1247-20180515", "SK-internationalNews-1581-20180515"): True,  # test site images
    ("FR-internationalNews-1312-20180518", "SK-middleEast-1797-20180518"): True,  # Hama airport blasts
    ("FR-internationalNews-1478-20180527", "SK-middleEast-1982-20180527"): True,  # Deir ez-Zor attack
    ("FR-middleEast-538-20180527", "SK-middleEast-1982-20180527"): True,  # Deir ez-Zor attack
    ("FR-middleEast-616-20180611", "SK-middleEast-2300-20180610"): True,  # 28 referred to trial
}
MINED_VETO = {  # text ≥ 0.35 but kept apart by the lead veto
    ("AL-internationalNews-1365-20180528", "FR-internationalNews-1506-20180529"): False,  # killed; mortars
    ("AL-internationalNews-1668-20180618", "SK-technology-926-20180618"): True,  # Osaka earthquake
    ("AL-internationalNews-424-20180311", "SK-internationalNews-258-20180310"): False,  # Hammond; Rudd
    ("AL-internationalNews-439-20180312", "SK-internationalNews-269-20180312"): False,  # MP; May's meeting
    ("AL-internationalNews-652-20180327", "SK-internationalNews-614-20180327"): True,  # Kemerovo fire
    ("AL-internationalNews-823-20180406", "SK-internationalNews-833-20180406"): True,  # Moscow to respond
    ("AL-sport-607-20180314", "SK-sport-248-20180313"): True,  # Sevilla knock out United
    ("CN-middleEast-1126-20180606", "SK-middleEast-2153-20180605"): False,  # Saudi statement; Qatar's reply
    ("CN-middleEast-701-20180423", "SK-middleEast-1183-20180422"): False,  # Egypt regrets; UNESCO awards
    ("CN-middleEast-815-20180506", "SK-middleEast-1449-20180506"): True,  # Beirut clashes
    ("FR-internationalNews-350-20180310", "SK-internationalNews-246-20180309"): True,  # embassy storming
    ("FR-internationalNews-650-20180410", "SK-internationalNews-877-20180410"): False,  # raid; Trump's reaction
    ("FR-middleEast-906-20180810", "SK-middleEast-3331-20180811"): False,  # recount; constitutional deadlines
}
N_SYNTHETIC = 25  # base articles for the syndication variants
N_RANDOM = 60  # unread same-day, same-section pairs from different outlets (volume negatives)

DATELINES = ["القاهرة (رويترز) - ", "بيروت - أ ف ب: ", "أنقرة (الأناضول) -- ", "عاجل | ", "دمشق - سانا: "]
BOILER = [
    "تابعونا على تويتر وفيسبوك للاطلاع على آخر الأخبار.",
    "جميع الحقوق محفوظة. يمنع النسخ أو إعادة النشر دون إذن مسبق.",
    "اقرأ أيضا: أسعار الذهب اليوم | حالة الطقس غدا | نتائج مباريات الدوري",
]


def build() -> None:
    """Copy the labelled articles and the synthetic bases out of the corpus into the fixture."""
    rows = {}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            rows[d["docno"]] = {k: d[k] for k in ("docno", "src", "cat", "url", "title", "time", "text")}
    rng = random.Random(11)
    labelled = {x for pair in SAME + DIFFERENT + REPUBLISHED for x in pair}
    pool = [r for r in rows.values() if r["docno"] not in labelled and 150 <= len(r["text"].split()) <= 600
            and r["text"].count("\n") >= 3 and r["src"] != "CNN"]
    bases = [r["docno"] for r in rng.sample(pool, N_SYNTHETIC)]
    # Volume negatives: random different-outlet pairs of one section and day.
    by_day: dict[tuple[str, str], list[str]] = {}
    for r in rows.values():
        by_day.setdefault((r["cat"], (r["time"] or "")[:16]), []).append(r["docno"])
    groups = [g for g in by_day.values() if len({rows[x]["src"] for x in g}) > 1]
    randoms: list[tuple[str, str]] = []
    while len(randoms) < N_RANDOM:
        g = rng.choice(groups)
        a, b = rng.sample(g, 2)
        if rows[a]["src"] != rows[b]["src"] and (a, b) not in randoms:
            randoms.append((a, b))
    need = labelled | set(bases) | {x for p in randoms for x in p}
    out = {
        "attribution": "ANT corpus v2.1 (Chouigui, Ben Khiroun, Elayeb, AICCSA 2017); "
                       "news text © the outlets",
        "docs": {k: rows[k] for k in sorted(need)},
        "same": SAME, "different": DIFFERENT, "republished": REPUBLISHED, "random": randoms,
        "synthetic_bases": bases,
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(FIXTURE, "wt", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size // 1024} KB, {len(need)} articles)")


def document(d: dict[str, str]) -> str:
    return f"{d['title']}\n\n{d['text']}" if d["title"] else d["text"]


def variants(d: dict[str, str], other: dict[str, str], rng: random.Random) -> dict[str, tuple[str, str]]:
    """The edits agencies and outlets make when republishing: (title, text) per kind."""
    paras = [p for p in d["text"].split("\n") if p.strip()]
    extra = [p for p in other["text"].split("\n") if len(p.split()) > 15][:1] or [other["text"][:300]]
    drop = rng.randrange(1, len(paras)) if len(paras) > 1 else 0
    title_words = d["title"].split()
    half = len(title_words) // 2
    headline = " ".join([*title_words[half:], "..", "مصادر:", *title_words[:half]])
    return {
        "dateline": (d["title"], rng.choice(DATELINES) + d["text"]),
        "headline": (headline, d["text"]),
        "para_dropped": (d["title"], "\n".join(paras[:drop] + paras[drop + 1:])),
        "para_added": (d["title"], "\n".join([*paras, *extra])),
        "boilerplate": (d["title"], d["text"] + "\n" + "\n".join(BOILER)),
        "combined": (headline, rng.choice(DATELINES) + "\n".join(paras[:-1]) + "\n" + BOILER[0]),
    }


Pair = tuple[str, str, bool, str, bool, str]  # text a, text b, same story?, group, same outlet?, half
SPLIT_SEED = 2026  # fixed: which half of every labelled list is "tune" and which "held-out"


def halves(n: int, salt: str) -> list[str]:
    """Half of n items (chosen with a fixed seed) is "tune", the other "held-out"."""
    order = list(range(n))
    random.Random(f"{SPLIT_SEED}:{salt}").shuffle(order)
    tune = set(order[: n // 2])
    return ["tune" if i in tune else "held-out" for i in range(n)]


def load_pairs() -> tuple[list[Pair], dict[str, float]]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        fx = json.load(f)
    docs = fx["docs"]
    pairs: list[Pair] = []
    jac: dict[str, float] = {}

    def add(ta: str, tb: str, label: bool, group: str, same_outlet: bool, half: str) -> None:
        pairs.append((ta, tb, label, group, same_outlet, half))
        sa, sb = dfp.shingles(ta), dfp.shingles(tb)
        jac[ta + "\0" + tb] = len(sa & sb) / max(1, len(sa | sb))

    for name, label, group in (("same", True, "real_same"), ("republished", True, "republished"),
                               ("different", False, "hard_negative"), ("random", False, "random_negative")):
        for (a, b), half in zip(fx[name], halves(len(fx[name]), name), strict=True):
            read_same = name == "random" and (a, b) in RANDOM_READ_SAME
            add(document(docs[a]), document(docs[b]), label or read_same, "real_same" if read_same else group,
                docs[a]["src"] == docs[b]["src"], half)
    rng = random.Random(3)
    bases = fx["synthetic_bases"]
    for i, (key, half) in enumerate(zip(bases, halves(len(bases), "synthetic"), strict=True)):
        d = docs[key]
        for kind, (title, text) in variants(d, docs[bases[(i + 1) % len(bases)]], rng).items():
            # syndication crosses outlets: the copy is another outlet's
            add(document(d), document({"title": title, "text": text}), True, f"synthetic_{kind}", False, half)
    return pairs, jac


def detect(sa: dfp.Sketch, sb: dfp.Sketch, same_outlet: bool) -> bool:
    """What the store decides: a shared LSH band (text or lead) makes a candidate, the signatures decide."""
    return dfp.candidates(sa, sb) and dd.same_story(sa, sb, same_outlet)


Score = tuple[float, float, dict[str, tuple[int, int]]]


def score(pairs: list[Pair], decide: Callable[[int], bool]) -> Score:
    tp = fp = fn = 0
    groups: dict[str, tuple[int, int]] = {}
    for i, (_, _, label, group, *_) in enumerate(pairs):
        yes = decide(i)
        hit, total = groups.get(group, (0, 0))
        groups[group] = (hit + (yes == label), total + 1)
        tp += yes and label
        fp += yes and not label
        fn += (not yes) and label
    return tp / max(1, tp + fp), tp / max(1, tp + fn), groups


def simhash(text: str) -> int:
    acc = [0] * 64
    for g in dfp.shingles(text):
        h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
        for k in range(64):
            acc[k] += 1 if h >> k & 1 else -1
    return sum(1 << k for k in range(64) if acc[k] > 0)


def corpus_docs() -> dict[str, dict[str, str]]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        return {d["docno"]: d for d in map(json.loads, f)}


def mine(rows: dict[str, dict[str, str]]) -> None:
    """Print samples of corpus pairs where the lead rule and the text rule alone disagree, for reading."""
    from collections import defaultdict
    from email.utils import parsedate_to_datetime

    def when(t: str) -> float | None:
        try:
            return parsedate_to_datetime(t).timestamp()
        except (TypeError, ValueError):
            return None

    sks = {k: dfp.sketch(document(r)) for k, r in rows.items()}
    at = {k: when(r["time"]) for k, r in rows.items()}
    buckets: dict[bytes, list[str]] = defaultdict(list)
    for k, s in sks.items():
        for band in s.bands + s.lead_bands:
            buckets[band].append(k)
    pairs: set[tuple[str, str]] = set()
    for ks in buckets.values():
        if len(ks) > 50:  # a band key shared by 50+ articles is boilerplate, not a story
            continue
        for i, x in enumerate(ks):
            for y in ks[i + 1:]:
                a, b = sorted((x, y))
                ta, tb = at[a], at[b]
                if rows[a]["src"] != rows[b]["src"] and ta and tb and abs(ta - tb) <= 36 * 3600:
                    pairs.add((a, b))
    lead_only, vetoed = [], []
    for a, b in sorted(pairs):
        text, lead = dfp.similarity(sks[a], sks[b]), dl.lead_similarity(sks[a].lead, sks[b].lead)
        if text < dd.NEAR_DUP_THRESHOLD and dd.same_story(sks[a], sks[b]):
            lead_only.append((a, b, text, lead))
        elif text >= dd.NEAR_DUP_THRESHOLD and not dd.same_story(sks[a], sks[b]):
            vetoed.append((a, b, text, lead))
    print(f"{len(pairs)} candidate pairs; merged only through the lead rule {len(lead_only)}; vetoed {len(vetoed)}")
    rng = random.Random(7)
    for name, found, n in (("LEAD", lead_only, 30), ("VETO", vetoed, 15)):
        for a, b, text, lead in sorted(rng.sample(found, min(n, len(found)))):
            print(f"### {name} {a} {b} text {text:.2f} lead {lead:.2f}")
            for k in (a, b):
                print(f"  T: {rows[k]['title']}\n  L: {rows[k]['text'][:260]}")


def mined(rows: dict[str, dict[str, str]]) -> None:
    """Score the rule and the text rule alone on the judged unseen pairs (where they disagree)."""
    judged = {**MINED_LEAD, **MINED_VETO}
    saved = dd.LEAD_THRESHOLD, dd.LEAD_VETO
    for name in ("this rule", "text rule alone"):
        right = {True: 0, False: 0}
        for (a, b), same in judged.items():
            sa, sb = dfp.sketch(document(rows[a])), dfp.sketch(document(rows[b]))
            says = dfp.candidates(sa, sb) and dd.same_story(sa, sb, rows[a]["src"] == rows[b]["src"])
            right[same] += says == same
        total = {v: sum(x == v for x in judged.values()) for v in (True, False)}
        print(f"  {name:16s} right on {right[True] + right[False]}/{len(judged)}: same story merged "
              f"{right[True]}/{total[True]}, different stories kept apart {right[False]}/{total[False]}")
        dd.LEAD_THRESHOLD, dd.LEAD_VETO = 2.0, 0.0
    dd.LEAD_THRESHOLD, dd.LEAD_VETO = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--quick", action="store_true", help="main figures only (no sweeps)")
    ap.add_argument("--mine", action="store_true", help="list corpus pairs where the rules disagree (~1 min)")
    ap.add_argument("--mined", action="store_true", help="score the judged unseen pairs (needs the corpus)")
    args = ap.parse_args()
    if args.build:
        build()
    if args.mine or args.mined:
        rows = corpus_docs()
        if args.mine:
            mine(rows)
        else:
            print("judged unseen corpus pairs where the lead rule and the text rule alone disagree:")
            mined(rows)
        return
    pairs, jac = load_pairs()
    js = [jac[a + "\0" + b] for a, b, *_ in pairs]
    sk = [(dfp.sketch(a), dfp.sketch(b)) for a, b, *_ in pairs]
    halves_n = {h: sum(p[5] == h for p in pairs) for h in ("tune", "held-out")}
    print(f"{len(pairs)} pairs (tune {halves_n['tune']}, held-out {halves_n['held-out']}, split seed "
          f"{SPLIT_SEED}); shingle = {dfp.SHINGLE} words, {dfp.BINS} bins, {dfp.BANDS} text bands, "
          f"{dl.LEAD_BANDS} lead bands, lead = title + {dl.LEAD_WORDS} content words in {dl.LEAD_BITS} bits")
    print(f"rule: same outlet text ≥ {dd.SAME_OUTLET_THRESHOLD}; cross-outlet text ≥ {dd.NEAR_DUP_THRESHOLD} "
          f"(and lead ≥ {dd.LEAD_VETO} while text < {dd.LEAD_VETO_BELOW}) "
          f"or (text ≥ {dd.LEAD_TEXT_THRESHOLD} and lead ≥ {dd.LEAD_THRESHOLD})\n")

    print("exact Jaccard of 3-shingles per group: min / median / max")
    for g in sorted({p[3] for p in pairs}):
        v = sorted(j for j, p in zip(js, pairs, strict=True) if p[3] == g)
        print(f"  {g:28s} n={len(v):3d}  {v[0]:.2f} / {v[len(v) // 2]:.2f} / {v[-1]:.2f}")

    hard = [i for i, q in enumerate(pairs) if q[3] == "hard_negative"]

    def by_half(decide: Callable[[int], bool]) -> str:
        # Follow-up guard: hard negatives (follow-ups, same-day reports) merged when judged as if they came
        # from two outlets (the same-outlet bar is what keeps one outlet's follow-ups apart otherwise).
        guard = sum(detect(*sk[i], False) for i in hard if pairs[i][5] == "tune")
        guard_all = sum(detect(*sk[i], False) for i in hard)
        out = []
        for name, sel in (("whole", range(len(pairs))),
                          ("tune", [i for i, q in enumerate(pairs) if q[5] == "tune"]),
                          ("held-out", [i for i, q in enumerate(pairs) if q[5] == "held-out"])):
            idx = list(sel)
            p, r, _ = score([pairs[i] for i in idx], lambda k, idx=idx: decide(idx[k]))  # type: ignore[misc]
            out.append(f"{name} P {p:.3f} R {r:.3f}")
        return " | ".join(out) + f" | hard negatives merged as if cross-outlet: tune {guard}, all {guard_all}"

    def store(i: int) -> bool:
        return detect(*sk[i], pairs[i][4])

    p, r, groups = score(pairs, store)
    print(f"\nSAME STORY (store decision: LSH candidate + signatures): precision {p:.3f}  recall {r:.3f}")
    print(f"  {by_half(store)}")
    for g, (ok, n) in sorted(groups.items()):
        print(f"  {g:28s} {'recall' if pairs[[q[3] for q in pairs].index(g)][2] else 'specificity'} "
              f"{ok / n:.3f} ({ok}/{n})")
    real = [i for i, q in enumerate(pairs) if q[3] == "real_same"]
    for name, sel in (("real, shared agency text (J≥0.3)", [i for i in real if js[i] >= 0.3]),
                      ("real, independent rewrites (J<0.3)", [i for i in real if js[i] < 0.3])):
        hits = sum(store(i) for i in sel)
        print(f"  {name:36s} recall {hits / max(1, len(sel)):.3f} ({hits}/{len(sel)})")
    syn = [i for i, q in enumerate(pairs)
           if (q[2] and q[3] != "real_same") or (q[3] == "real_same" and js[i] >= 0.3)]
    neg = [i for i, q in enumerate(pairs) if not q[2]]
    sub = [pairs[i] for i in syn + neg]
    p2, r2, _ = score(sub, lambda k: store((syn + neg)[k]))
    print(f"  copies only (synthetic + republished + real J≥0.3) vs all negatives: "
          f"precision {p2:.3f} recall {r2:.3f}")
    wrong = [i for i in range(len(pairs)) if store(i) and not pairs[i][2]]
    for i in wrong:
        print(f"  false positive: {pairs[i][3]} {pairs[i][0][:60]!r} / {pairs[i][1][:60]!r}")

    saved = dd.LEAD_THRESHOLD, dd.LEAD_VETO
    dd.LEAD_THRESHOLD, dd.LEAD_VETO = 2.0, 0.0
    print(f"\ntext signature only (no lead rule, no lead veto), for comparison: {by_half(store)}")
    dd.LEAD_THRESHOLD = saved[0]
    print(f"lead rule without the lead veto: {by_half(store)}")
    dd.LEAD_THRESHOLD, dd.LEAD_VETO = saved
    if args.quick:
        return

    print("\nselection on the tune half only (grid of text gate × lead threshold × lead veto): the best tuning")
    print("recall with tuning precision 1.0 and no more tuning hard negatives merged as if cross-outlet than")
    print("the text rule alone; ties go to the stricter setting (higher text gate, lead threshold and veto).")
    print("Held-out figures are not looked at.")
    tune = [i for i, q in enumerate(pairs) if q[5] == "tune"]
    tune_hard = [i for i in hard if pairs[i][5] == "tune"]
    current = dd.LEAD_TEXT_THRESHOLD, dd.LEAD_THRESHOLD, dd.LEAD_VETO
    dd.LEAD_THRESHOLD, dd.LEAD_VETO = 2.0, 0.0
    base_guard = sum(detect(*sk[i], False) for i in tune_hard)
    grid = []
    for tt in (0.06, 0.1, 0.15, 0.2):
        for lt in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
            for veto in (0.0, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2):
                dd.LEAD_TEXT_THRESHOLD, dd.LEAD_THRESHOLD, dd.LEAD_VETO = tt, lt, veto
                p, r, _ = score([pairs[i] for i in tune], lambda k: store(tune[k]))
                guard = sum(detect(*sk[i], False) for i in tune_hard)
                if p >= 1.0 and guard <= base_guard:
                    grid.append((r, tt, lt, veto))
    best = max(grid)
    print(f"  chosen: text ≥ {best[1]}, lead ≥ {best[2]}, veto {best[3]} (tuning recall {best[0]:.3f}); "
          f"in code: text ≥ {current[0]}, lead ≥ {current[1]}, veto {current[2]}")
    dd.LEAD_TEXT_THRESHOLD, dd.LEAD_THRESHOLD, dd.LEAD_VETO = current

    print("\nlead veto sweep (text in [0.35, ceiling) needs lead ≥ veto):")
    ceiling = dd.LEAD_VETO_BELOW
    for veto, below in ((0.0, 0.5), (0.08, 0.5), (0.1, 0.5), (0.12, 0.5), (0.15, 0.5), (0.2, 0.5), (0.1, 0.6)):
        dd.LEAD_VETO, dd.LEAD_VETO_BELOW = veto, below
        print(f"  veto {veto:.2f} below {below:.2f}: {by_half(store)}")
    dd.LEAD_VETO, dd.LEAD_VETO_BELOW = saved[1], ceiling

    print("\nlead rule sweep (chosen on the tune half; held-out shown beside it):")
    saved2 = dd.LEAD_TEXT_THRESHOLD, dd.LEAD_THRESHOLD
    for tt in (0.0, 0.06, 0.1, 0.15, 0.2):
        for lt in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
            dd.LEAD_TEXT_THRESHOLD, dd.LEAD_THRESHOLD = tt, lt
            print(f"  text ≥ {tt:.2f} and lead ≥ {lt:.2f}: {by_half(store)}")
    dd.LEAD_TEXT_THRESHOLD, dd.LEAD_THRESHOLD = saved2

    print("\nlead definition (title + N content words, bitmap bits), at the chosen thresholds:")
    saved3 = dl.LEAD_WORDS, dl.LEAD_BITS
    for words, bits in ((20, 128), (30, 128), (40, 128), (60, 128), (40, 64), (40, 256)):
        dl.LEAD_WORDS, dl.LEAD_BITS = words, bits
        s2 = [(dfp.sketch(a), dfp.sketch(b)) for a, b, *_ in pairs]
        print(f"  words={words:2d} bits={bits:3d}: "
              + by_half(lambda i, s2=s2: detect(s2[i][0], s2[i][1], pairs[i][4])))  # type: ignore[misc]
    dl.LEAD_WORDS, dl.LEAD_BITS = saved3
    exact_lead = [len(dl.lead_words(a) & dl.lead_words(b)) / max(1, len(dl.lead_words(a) | dl.lead_words(b)))
                  for a, b, *_ in pairs]
    err = sorted(abs(dl.lead_similarity(x.lead, y.lead) - e) for (x, y), e in zip(sk, exact_lead, strict=True))
    print(f"  lead bitmap estimate vs exact lead Jaccard: median |error| {err[len(err) // 2]:.3f}, "
          f"90th percentile {err[int(len(err) * 0.9)]:.3f}")

    print("\nLSH bands (text, lead): recall lost to the candidate step (whole set):")
    saved4 = dfp.BANDS, dl.LEAD_BANDS
    for tb, lb in ((8, 0), (6, 2), (7, 2), (8, 2), (6, 3), (5, 3)):
        dfp.BANDS, dl.LEAD_BANDS = tb, lb
        s2 = [(dfp.sketch(a), dfp.sketch(b)) for a, b, *_ in pairs]
        lost = sum(1 for i, q in enumerate(pairs)
                   if q[2] and dd.same_story(s2[i][0], s2[i][1], q[4]) and not dfp.candidates(*s2[i]))
        p, r, _ = score(pairs, lambda i, s2=s2: detect(s2[i][0], s2[i][1], pairs[i][4]))  # type: ignore[misc]
        print(f"  text {tb} + lead {lb}: true pairs lost to LSH {lost}; precision {p:.3f} recall {r:.3f}")
    dfp.BANDS, dl.LEAD_BANDS = saved4

    print("\nthreshold sweep (cross-outlet text threshold; same-outlet kept at max(t, 0.6)) — sketch estimate:")
    thresholds = dd.NEAR_DUP_THRESHOLD, dd.SAME_OUTLET_THRESHOLD
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6):
        dd.NEAR_DUP_THRESHOLD, dd.SAME_OUTLET_THRESHOLD = t, max(t, 0.6)
        print(f"  t={t:.2f}  {by_half(store)}")
    dd.NEAR_DUP_THRESHOLD, dd.SAME_OUTLET_THRESHOLD = thresholds[0], 0.0
    print(f"  t={thresholds[0]:.2f} with no same-outlet bar  {by_half(store)}")
    dd.NEAR_DUP_THRESHOLD, dd.SAME_OUTLET_THRESHOLD = thresholds

    print("\nsignature size (bins) at the chosen thresholds:")
    for bins in (16, 32, 48, 64):
        dfp.BINS = bins
        s2 = [(dfp.sketch(a), dfp.sketch(b)) for a, b, *_ in pairs]
        p, r, _ = score(pairs, lambda i, s2=s2: detect(s2[i][0], s2[i][1], pairs[i][4]))  # type: ignore[misc]
        print(f"  bins={bins:3d}  precision {p:.3f}  recall {r:.3f}")
    dfp.BINS = 32

    print("\nexact Jaccards (no sketch error) at the chosen thresholds:")
    def exact(i: int) -> bool:
        if pairs[i][4]:
            return js[i] >= dd.SAME_OUTLET_THRESHOLD
        return js[i] >= dd.NEAR_DUP_THRESHOLD or (js[i] >= dd.LEAD_TEXT_THRESHOLD
                                                  and exact_lead[i] >= dd.LEAD_THRESHOLD)

    print(f"  {by_half(exact)}")

    print("\nSimHash-64 over the same shingles (Hamming distance ≤ k), for comparison:")
    sh = [(simhash(a), simhash(b)) for a, b, *_ in pairs]
    for k in (3, 6, 10, 14, 18):
        p, r, _ = score(pairs, lambda i, k=k: bin(sh[i][0] ^ sh[i][1]).count("1") <= k)  # type: ignore[misc]
        print(f"  k={k:2d}  precision {p:.3f}  recall {r:.3f}")


if __name__ == "__main__":
    main()
