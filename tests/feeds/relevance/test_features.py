"""Features: words with every clitic reading, pairs as phrases match, entity prominence, evidence per watch."""

from __future__ import annotations

import math

import pytest

from feeds.models import Article, Classification, EntityHit, Mention, Span, WatchMatch
from feeds.relevance import features as feat_mod
from feeds.relevance.features import Features, WatchView, features, is_lexical, prepare, query_parts

TITLE = "هدنة في إدلب"
TEXT = "أعلنت روسيا والهدنة بدأت. لوقف إطلاق النار في سوريا اتفاق."


def art() -> Article:
    return Article(url="u", title=TITLE, text=TEXT)


def classification() -> Classification:
    doc = art().document
    ru, sy, idlib = doc.index("روسيا"), doc.index("سوريا"), doc.index("إدلب")
    return Classification(
        regions=(EntityHit("SY", "Syria", 2, 4.0), EntityHit("RU", "Russia", 1, 2.0)),
        places=(EntityHit("idlib", "Idlib", 1, 3.0, country="SY"),),
        mentions=(Mention("place", "idlib", idlib, idlib + 4, "إدلب"),
                  Mention("region", "SY", idlib, idlib + 4, "إدلب"),
                  Mention("region", "RU", ru, ru + 5, "روسيا"),
                  Mention("region", "SY", sy, sy + 5, "سوريا")))


def test_prepare_builds_words_pairs_and_entities_when_asked() -> None:
    assert prepare(art(), classification()).shared == {}  # structural models need none of them
    p = prepare(art(), classification(), lexical=True)
    s = p.shared
    assert s["word:هدنه"] == 1.0  # "والهدنة" read without و + ال, ة normalised
    assert s["word:والهدنه"] == 1.0
    assert s["pair:وقف اطلاق"] == 1.0 and s["pair:اطلاق نار"] == 1.0  # لوقف → وقف; النار → نار
    assert s["entity_top:region:SY"] == 1.0 and "entity_top:region:RU" not in s
    assert s["entity_title:region:SY"] == 1.0 and s["entity_title:place:idlib"] == 1.0
    assert s["entity:region:SY"] > s["entity:region:RU"] > 0
    assert p.entities[("region", "SY")].share == pytest.approx(4 / 6)
    assert all(is_lexical(k) for k in s)


def test_per_watch_features_from_the_evidence_and_the_watch_entities() -> None:
    a = art()
    doc = a.document
    start = doc.index("إطلاق النار")
    body = WatchMatch("w", (Span(start, start + 11, "إطلاق النار"),))
    p = prepare(a, classification(), lexical=True)
    f = features(p, body, WatchView((("region", "SY"),), ()))
    assert isinstance(f, Features) and f.shared is p.shared  # no copy of the article's features
    own = f.own
    assert own["evidence_in_title"] == 0.0 and own["evidence_in_lead"] == 1.0
    assert own["evidence:اطلاق نار"] > 0 and "evidence_close" not in own
    assert own["watch_entity_top"] == 1.0 and own["watch_entity_title"] == 1.0
    title = WatchMatch("w", (Span(0, 4, "هدنة"), Span(start, start + 11, "إطلاق النار")))
    f2 = features(p, title, WatchView((("region", "RU"),), ()))
    assert f2.own["evidence_in_title"] == 1.0 and f2.own["evidence_first_pos"] == 0.0
    assert 0 < f2.own["evidence_close"] < 1
    assert f2.own["watch_entity_top"] == 0.0 and f2.own["watch_entity_share"] == pytest.approx(2 / 6)
    assert f2.own["watch_entity_share:region:RU"] == pytest.approx(2 / 6) and 0 < f2.own["length"] < 1
    assert dict(f2.items()) == f2.as_dict() and len(f2.as_dict()) == len(p.shared) + len(f2.own)
    assert not any(is_lexical(k) for k in f2.own if not k.startswith("evidence:"))


def test_each_top_level_part_of_the_query_has_its_own_features() -> None:
    parts = query_parts("(هدنة OR تهدئة) AND region:RU AND NOT غزة")
    assert [p.text for p in parts] == ["(هدنة OR تهدئة)", "region:RU"]  # NOT has no occurrences
    assert [p.text for p in query_parts("هدنة")] == ["هدنة"]
    p = prepare(art(), classification())
    doc = art().document
    # the evidence the query gives (a part's occurrences are the evidence spans it recognises)
    spans = tuple(Span(doc.index(w), doc.index(w) + len(w), w) for w in ("هدنة", "والهدنة", "روسيا"))
    own = features(p, WatchMatch("w", spans), WatchView((), parts)).own
    assert own["part1_count"] == pytest.approx(math.log1p(2)) and own["part1_in_title"] == 1.0  # هدنة, والهدنة
    assert own["part2_count"] == pytest.approx(math.log1p(1)) and own["part2_in_title"] == 0.0
    assert own["part2_in_lead"] == 1.0 and 0 < own["part2_density"] <= 1


def test_no_evidence_and_no_entities_give_only_the_shared_features() -> None:
    p = prepare(art(), Classification())
    f = features(p, WatchMatch("w"), WatchView((("region", "LY"),), ()))
    assert set(f.own) == {"length"} and "entity_top:region:SY" not in p.shared


def test_per_article_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feat_mod, "MAX_TOKENS", 50)
    long = Article(url="u", title="", text=" ".join(f"كلمة{i}" for i in range(10_000)))
    p = prepare(long, Classification(), lexical=True)
    assert "word:كلمه49" in p.shared and "word:كلمه50" not in p.shared
    assert "pair:كلمه48 كلمه49" in p.shared and "pair:كلمه49 كلمه50" not in p.shared
