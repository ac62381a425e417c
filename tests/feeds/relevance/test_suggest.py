"""Suggestions: relevant-example words the query lacks, query terms that fire mostly on irrelevant examples."""

from __future__ import annotations

import pytest

from feeds.models import Classification, EntityHit, Mention
from feeds.relevance.examples import Example
from feeds.relevance.suggest import suggest

REL = [Example(f"خبر {i}", f"أعلن الطرفان تهدئة شاملة في المنطقة. وقال مسؤول {i} إن الاتفاق صامد.", True)
       for i in range(4)]
IRR = [Example(f"حادث {i}", f"وقع إطلاق نار في السوق. وقال مسؤول {i} إن الشرطة تحقق.", False) for i in range(4)]


def test_adds_words_of_relevant_examples_the_query_lacks() -> None:
    s = suggest(REL + IRR, "هدنة OR نار")
    terms = [x.term for x in s.add]
    assert "تهديه" in terms and '"تهديه شامله"' in terms  # normalised (ئ → ي, ة → ه), query syntax
    assert all(x.relevant >= 2 for x in s.add)
    assert "مسوول" not in terms  # in both sets alike
    assert "نار" not in terms and "سوق" not in terms


def test_copies_of_one_story_count_once() -> None:
    copies = [Example("نص واحد", "أعلن الطرفان تهدئة شاملة.", True) for _ in range(5)]
    assert suggest(copies + IRR, "هدنة").add == ()  # one story: below MIN_SUPPORT


def test_terms_in_relevant_examples_outside_the_gate_come_first() -> None:
    extra = Example("نبأ آخر", "بدأت هدنة إنسانية.", True)
    other = Example("تقرير ثالث", "أعلن الطرفان هدنة إنسانية.", True)
    exs = [*REL, extra, other, *IRR]
    gated = [True] * 4 + [False, True] + [True] * 4
    s = suggest(exs, "شاملة", gated=gated)
    first = s.add[0]
    assert first.missed == 1 and first.term in ('"هدنه انسانيه"', "انسانيه", "هدنه")
    assert s.add[-1].missed == 0


def test_drops_query_terms_that_fire_mostly_on_irrelevant_examples() -> None:
    s = suggest(REL + IRR, '"إطلاق نار" OR تهدئة OR سوق')
    assert [(x.term, x.relevant, x.irrelevant) for x in s.drop] == [('"إطلاق نار"', 0, 4), ("سوق", 0, 4)]
    gated = [True] * 4 + [False] * 4  # nothing irrelevant gets through: nothing to drop
    assert suggest(REL + IRR, '"إطلاق نار" OR تهدئة', gated=gated).drop == ()


def c(ex: Example) -> Classification:
    """Libya recognised wherever ليبيا is written, as the classifier would."""
    doc = f"{ex.title}\n\n{ex.text}"
    at = [i for i in range(len(doc)) if doc.startswith("ليبيا", i)]
    return Classification(regions=(EntityHit("LY", "Libya", len(at)),) if at else (),
                          mentions=tuple(Mention("region", "LY", i, i + 5, "ليبيا") for i in at))


def test_entities_count_with_classifications() -> None:
    rel = [Example(f"هدنة {i}", f"هدنة بين الطرفين {i}.", True) for i in range(3)]
    irr = [Example(f"اقتصاد {i}", f"أسعار النفط في ليبيا {i}.", False) for i in range(3)]
    exs = rel + irr
    assert [x.term for x in suggest(exs, "region:LY", classifications=[c(x) for x in exs]).drop] == ["region:LY"]
    assert suggest(exs, "region:LY").drop == ()  # without classifications entities cannot be counted


def test_words_that_name_the_query_entities_are_not_suggested() -> None:
    rel = [Example(f"هدنة {i}", f"هدنة في ليبيا بين الطرفين {i}.", True) for i in range(3)]
    irr = [Example(f"اقتصاد {i}", f"أسعار النفط في مصر {i}.", False) for i in range(3)]
    exs = rel + irr
    with_c = [x.term for x in suggest(exs, "region:LY", classifications=[c(x) for x in exs]).add]
    assert "ليبيا" not in with_c and "هدنه" in with_c
    assert "ليبيا" in [x.term for x in suggest(exs, "region:LY").add]  # without them, it cannot know


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="gated"):
        suggest(REL, "هدنة", gated=[True])


def test_a_word_after_and_is_suggested_bare_when_the_examples_also_write_it_alone() -> None:
    # "Britain" mostly after "and" (وبريطانيا), twice alone: بريطانيا finds both forms, وبريطانيا only itself
    rel = [Example(f"ضربة {i}", f"شنت الولايات المتحدة وبريطانيا وفرنسا ضربات {i}.", True) for i in range(4)]
    rel += [Example(f"موقف {i}", f"قالت بريطانيا إن الضربات {i} مشروعة.", True) for i in range(2)]
    terms = [s.term for s in suggest(rel + IRR, "هدنة").add]
    assert "بريطانيا" in terms and "وبريطانيا" not in terms
    # a word the examples never write alone keeps its written form (زير is no word: وزير is "minister")
    rel = [Example(f"لقاء {i}", f"التقى وزير الخارجية نظيره {i}.", True) for i in range(4)]
    terms = [s.term for s in suggest(rel + IRR, "هدنة").add]
    assert "وزير" in terms and "زير" not in terms


def test_a_pair_with_a_query_word_or_a_year_is_not_suggested() -> None:
    rel = [Example(f"خبر {i}", f"قصف في ريف إدلب عام 2018 وأعلن الطرفان تهدئة شاملة. مسؤول {i}.", True)
           for i in range(4)]
    terms = [x.term for x in suggest(rel + IRR, "إدلب").add]
    assert "تهديه" in terms  # the new word itself still is
    assert not any("ادلب" in t for t in terms)  # "ريف ادلب" finds nothing إدلب does not
    assert not any("2018" in t for t in terms)  # the examples' date, not their matter
