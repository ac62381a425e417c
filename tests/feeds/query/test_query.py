"""Query cases on real ANT corpus sentences: every form of the language and its traps."""

from __future__ import annotations

import json

import pytest

from feeds.models import Article, Classification, EntityHit, Mention
from feeds.query.evaluate import Doc, Hit, evaluate
from feeds.query.syntax import parse_query
from tests.conftest import FIXTURES

_DATA = json.loads((FIXTURES / "query" / "sentences.json").read_text("utf-8"))
S: dict[str, str] = {k: v["text"] for k, v in _DATA["sentences"].items()}


def classification(doc: str, mentions: list[tuple[str, str, str]],
                   places: dict[str, str] | None = None) -> Classification:
    """A hand-built classification: (kind, id, surface) at each occurrence of `surface` in `doc`."""
    out: list[Mention] = []
    for kind, eid, surface in mentions:
        start = doc.find(surface)
        assert start >= 0, surface
        while start >= 0:
            out.append(Mention(kind, eid, start, start + len(surface), surface))  # type: ignore[arg-type]
            start = doc.find(surface, start + 1)
    hits = tuple(EntityHit(p, p, 1, country=c) for p, c in (places or {}).items())
    return Classification(places=hits, mentions=tuple(out))


def holds(query: str, text: str, title: str = "", c: Classification | None = None, feed: str = "") -> bool:
    art = Article(url="u", title=title, text=text, feed_id=feed)
    return evaluate(parse_query(query), Doc(art, c or Classification())).value


# (query, sentence key, expected): words and phrases with clitics, article, Latin, prefixes, operators, NEAR.
CASES = [
    # clitics on a single word: ب، لل، ال
    ("هدنة", "hudna_b", True),
    ("هدنة", "hudna_l", True),
    ("هدنة", "hudna_al", True),
    ("الهدنة", "hudna_b", True),  # the article written in the query is optional too
    ("تهدئة", "hudna_l", True),  # والتهدئة: و + ال
    ("هدنة", "opcw", False),
    # no suffix stripping: مدنا is not مدن, الغارات is not غارة
    ("مدن", "bwaqf", False),
    ("غارة", "idlib_w", False),
    # phrases: clitic on the first word, article optional on inner words, adjacency required
    ('"وقف إطلاق النار"', "lwaqf", True),  # لوقف
    ('"وقف إطلاق النار"', "nar", True),  # نار without the article
    ('"وقف إطلاق النار"', "bwaqf", True),  # بوقف ... نار
    ('"وقف اطلاق نار"', "libya", True),  # query without the article, text with it
    ('"إطلاق النار"', "lwaqf", True),
    ('"وقف النار"', "lwaqf", False),  # not adjacent
    ('"الأمم المتحدة"', "libya", True),  # للأمم: ل + ال on the first word
    ('"وقف الأعمال العدائية"', "libya", True),
    ('"حقنا الدماء"', "hudna_b", False),  # للدماء: only the article may vary inside a phrase
    ('"وقف إطلاق النار"', "gaza", False),
    # Latin, case-insensitive, mixed with Arabic
    ("opcw", "opcw", True),
    ("OPCW AND دوما", "opcw", True),
    ("Cnn", "cnn", True),
    ('"سي إن إن CNN"', "cnn", True),
    ('"سي إن إن BBC"', "cnn", False),
    ("OPCW NEAR/1 الكيميائية", "opcw", True),
    # prefixes
    ("كيميا*", "opcw", True),
    ("كيماو*", "opcw", False),
    ("هدن*", "hudna_l", True),  # للهدنة
    ("OPC*", "opcw", True),
    # boolean operators, adjacency = AND, precedence (NOT > AND > OR), parentheses
    ('هدنة OR "وقف إطلاق النار"', "lwaqf", True),
    ('هدنة OR "وقف إطلاق النار"', "opcw", False),
    ("غارات إدلب", "idlib_ru", True),
    ("غارات حلب", "idlib_ru", False),
    ("إدلب", "idlib_w", True),  # وإدلب
    ("ادلب", "idlib_ru", True),  # spelled without hamza
    ("غزة OR الحرب AND الكورية", "korea", True),
    ("(غزة OR الحرب) AND طالبان", "korea", False),
    ("NOT غزة هدنة", "korea", True),
    ("هدنة AND NOT غزة", "gaza", False),
    # NEAR: either order, distance in words, overlapping hits are one occurrence
    ("وقف NEAR/1 النار", "lwaqf", False),
    ("وقف NEAR/2 النار", "lwaqf", True),
    ('ليبيا NEAR/3 "وقف الأعمال العدائية"', "libya", True),  # reverse order of the text
    ('ليبيا NEAR/2 "وقف الأعمال العدائية"', "libya", False),
    ('"وقف إطلاق" NEAR/3 "إطلاق النار"', "lwaqf", False),  # overlapping phrases share إطلاق
    ('"وقف إطلاق" AND "إطلاق النار"', "lwaqf", True),
    ('"إطلاق النار" NEAR/3 نار', "nar", False),  # the only نار is inside the phrase
    # negation inside NEAR: no B within n words of A (غزة is 6 words before الهدنة)
    ("هدنة NEAR/5 NOT غزة", "gaza", True),
    ("هدنة NEAR/8 NOT غزة", "gaza", False),
    ("(NOT غزة) NEAR/5 هدنة", "gaza", True),  # a NOT on the left of NEAR needs parentheses
    ("(NOT غزة) NEAR/8 هدنة", "gaza", False),
    ("NOT غزة NEAR/8 هدنة", "gaza", False),  # = NOT (غزة NEAR/8 هدنة)
    ("(هدنة OR تهدئة) NEAR/4 NOT أرواح", "hudna_l", False),  # both within 4 words of أرواح
    ("(هدنة OR تهدئة) NEAR/3 NOT أرواح", "hudna_l", True),  # للهدنة is 4 words away: it survives
]


@pytest.mark.parametrize(("query", "key", "expected"), CASES, ids=[f"{k}:{q}" for q, k, _ in CASES])
def test_query_on_corpus_sentence(query: str, key: str, expected: bool) -> None:
    assert holds(query, S[key]) is expected


def test_region_mention_inside_near_matches_ceasefire_in_libya() -> None:
    q = '("وقف إطلاق النار" OR هدنة OR "وقف القتال") NEAR/15 (region:LY OR actor:haftar)'
    c = classification(S["libya"], [("region", "LY", "ليبيا")])
    assert holds(q, S["libya"], c=c)
    assert not holds(q, S["gaza"])


def test_region_matches_through_a_place_inside_it() -> None:
    c = classification(S["idlib_ru"], [("place", "idlib", "إدلب")], places={"idlib": "SY"})
    assert holds("region:SY", S["idlib_ru"], c=c)
    assert not holds("region:LY", S["idlib_ru"], c=c)


def test_entity_near_counts_words_between_mention_and_term() -> None:
    c = classification(S["idlib_ru"], [("place", "idlib", "إدلب")], places={"idlib": "SY"})
    assert holds("place:idlib NEAR/3 غارات", S["idlib_ru"], c=c)  # غارات في محافظة إدلب
    assert not holds("place:idlib NEAR/2 غارات", S["idlib_ru"], c=c)


def test_actor_near_phrase_uses_mention_offsets() -> None:
    c = classification(S["libya"], [("actor", "guterres", "غوتيريش")])
    assert holds('actor:guterres NEAR/5 "وقف الأعمال العدائية"', S["libya"], c=c)
    assert not holds('actor:guterres NEAR/4 "وقف الأعمال العدائية"', S["libya"], c=c)


def test_title_scope_only_sees_the_title() -> None:
    assert holds("title:(الكورية)", S["gaza"], title=S["korea"])
    assert not holds("title:(غزة)", S["gaza"], title=S["korea"])
    assert holds("غزة", S["gaza"], title=S["korea"])


def test_lead_scope_is_title_and_first_paragraph() -> None:
    text = S["gaza"] + "\n" + S["libya"]
    assert holds("lead:(غزة)", text, title=S["korea"])
    assert holds('lead:"الحرب الكورية"', text, title=S["korea"])
    assert not holds("lead:(ليبيا)", text, title=S["korea"])
    assert holds("ليبيا", text, title=S["korea"])


def test_feed_and_lang_filters() -> None:
    assert holds("هدنة feed:bbc-arabic lang:ar", S["gaza"], feed="bbc-arabic")
    assert not holds("هدنة feed:bbc-arabic", S["gaza"], feed="skynews")
    assert holds("هدنة NOT feed:skynews", S["gaza"], feed="bbc-arabic")


def test_near_hit_spans_are_the_two_words_not_the_gap() -> None:
    art = Article(url="u", title="", text=S["lwaqf"])
    res = evaluate(parse_query("وقف NEAR/2 النار"), Doc(art, Classification()))
    spans = [art.document[a:b] for h in res.hits for a, b in h.spans]
    assert spans == ["لوقف", "النار"]


def test_weights_sum_per_occurrence() -> None:
    art = Article(url="u", title="", text=S["libya"])
    res = evaluate(parse_query('ليبيا^3 OR "الأمم المتحدة"^2'), Doc(art, Classification()))
    assert res.score == 3 * 1 + 2 * 2  # ليبيا once, الأمم المتحدة twice


def _brute_near(a_hits: list[Hit], b_hits: list[Hit], n: int) -> tuple[list[Hit], list[Hit]]:
    """NEAR/n and NEAR/n NOT by comparing every pair (the definition; the evaluator must agree with it)."""
    def gap(x: Hit, y: Hit) -> int | None:
        if x.last < y.first:
            return y.first - x.last
        if y.last < x.first:
            return x.first - y.last
        return None

    bs = sorted(b_hits, key=lambda h: (h.first, h.last, h.spans))
    pairs, kept = [], []
    for x in a_hits:
        best: tuple[int, Hit] | None = None
        for y in bs:
            g = gap(x, y)
            if g is not None and g <= n and (best is None or g < best[0]):
                best = (g, y)
        if best is not None:
            y = best[1]
            pairs.append(Hit(min(x.first, y.first), max(x.last, y.last), tuple(sorted({*x.spans, *y.spans}))))
        if not any((g := gap(x, y)) is None or g <= n for y in bs):
            kept.append(x)
    return sorted(set(pairs), key=lambda h: (h.first, h.last, h.spans)), kept


def test_near_by_bisection_agrees_with_every_pair_compared() -> None:
    import random

    from feeds.query import evaluate as ev

    rng = random.Random(7)
    for _ in range(400):
        def hits(k: int) -> list[Hit]:
            out = []
            for _ in range(k):
                first = rng.randrange(60)
                last = first + rng.choice((0, 0, 0, 1, 2))
                out.append(Hit(first, last, ((first * 10, last * 10 + 5),)))
            return sorted(set(out), key=lambda h: (h.first, h.last, h.spans))
        xs, ys, n = hits(rng.randrange(1, 12)), hits(rng.randrange(1, 12)), rng.randrange(1, 8)
        want_pairs, want_kept = _brute_near(xs, ys, n)
        nearest = ev._Nearest(tuple(ys))
        got_pairs = []
        for x in xs:
            best = nearest.nearest(x)
            if best is not None and best[0] <= n:
                y = best[1]
                got_pairs.append(Hit(min(x.first, y.first), max(x.last, y.last), tuple(sorted({*x.spans, *y.spans}))))
        got_kept = [x for x in xs if not nearest.overlaps(x) and ((b := nearest.nearest(x)) is None or b[0] > n)]
        assert sorted(set(got_pairs), key=lambda h: (h.first, h.last, h.spans)) == want_pairs
        assert got_kept == want_kept
