"""Canonical URLs, fingerprints and sketches: the pure half of deduplication."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from feeds.dedup import story as dedup
from feeds.dedup.fingerprint import BANDS, BINS, candidates, shingles, similarity, sketch, text_fingerprint
from feeds.dedup.lead import LEAD_BANDS, LEAD_BITS, lead_similarity, lead_words
from feeds.dedup.story import LEAD_THRESHOLD, LEAD_VETO, LEAD_VETO_BELOW, NEAR_DUP_THRESHOLD, same_story
from feeds.dedup.urls import canonical_url
from tests.conftest import FIXTURES

BASE = "https://www.example.com/ar/news/2018/02/18/story-1"

STORY = (
    "قالت وزارة الخارجية الروسية إن الرئيس فلاديمير بوتين بحث مع نظيره التركي رجب طيب أردوغان "
    "الوضع في ليبيا وسوريا خلال اتصال هاتفي اليوم الأربعاء. وأكد الجانبان أهمية التوصل إلى وقف "
    "لإطلاق النار في ليبيا واستئناف الحوار السياسي بين الأطراف الليبية برعاية الأمم المتحدة. "
    "كما تناول الاتصال الوضع في محافظة إدلب السورية وتنفيذ الاتفاقات الروسية التركية هناك، "
    "وأشار البيان إلى أن الرئيسين اتفقا على مواصلة الاتصالات على مختلف المستويات."
)
OTHER = (
    "أعلن الجيش الإسرائيلي اليوم أنه قصف أهدافا في قطاع غزة ردا على إطلاق صواريخ من القطاع، "
    "وقال متحدث عسكري إن الطائرات استهدفت مواقع تابعة لحركة حماس في شمال القطاع وجنوبه، "
    "بينما أفادت مصادر طبية فلسطينية بإصابة عدد من المدنيين بجروح طفيفة ونقلهم إلى المستشفى."
)


@pytest.mark.parametrize("variant", [
    "HTTPS://WWW.Example.COM:443/ar/news/2018/02/18/story-1",
    "http://example.com/ar/news/2018/02/18/story-1/",
    "https://www.example.com/ar/news/2018/02/18/story-1#comments",
    "https://www.example.com/ar/news/2018/02/18/story-1?utm_source=tw&utm_medium=social&fbclid=x1",
    "https://www.example.com/ar/news/2018/02/18/story-1?gclid=1&ocid=msn&ref=home",
    "https://amp.example.com/ar/news/2018/02/18/story-1",
    "https://m.example.com/ar/news/2018/02/18/story-1",
    "https://www.example.com/ar/news/2018/02/18/story-1/amp",
    "https://www.example.com/amp/ar/news/2018/02/18/story-1",
    "https://www.example.com/ar/news/2018/02/18/story-1?amp",
    "https://www.example.com/ar/news/2018/02/18/story-1?amp=1",
])
def test_url_variants_of_one_page_share_one_canonical_form(variant: str) -> None:
    assert canonical_url(variant) == canonical_url(BASE)


def test_percent_encoding_is_normalised_for_arabic_paths() -> None:
    raw = "https://www.alarabiya.net/ar/2018/02/18/هكذا-تحالفت.html"
    upper = "https://www.alarabiya.net/ar/2018/02/18/%D9%87%D9%83%D8%B0%D8%A7-%D8%AA%D8%AD%D8%A7%D9%84%D9%81%D8%AA.html"
    lower = upper.lower().replace("https://www.alarabiya.net", "https://www.alarabiya.net")
    assert canonical_url(raw) == canonical_url(upper) == canonical_url(lower)


def test_meaningful_query_parameters_are_kept_in_sorted_order() -> None:
    a = canonical_url("https://example.com/article.php?id=12&lang=ar&utm_campaign=x")
    b = canonical_url("https://example.com/article.php?lang=ar&id=12")
    assert a == b
    assert "id=12" in a and "lang=ar" in a
    assert canonical_url("https://example.com/article.php?id=13") != a


def test_different_pages_and_ports_stay_different() -> None:
    assert canonical_url(BASE) != canonical_url(BASE.replace("story-1", "story-2"))
    assert canonical_url("https://example.com:8080/a") != canonical_url("https://example.com/a")


def test_fingerprint_ignores_diacritics_hamza_spacing_and_punctuation() -> None:
    a = "أعلنت الحكومةُ، اليوم:  وقفَ إطلاق النار!"
    b = "اعلنت الحكومه اليوم وقف اطلاق النار"
    assert text_fingerprint(a) == text_fingerprint(b)
    assert text_fingerprint(a) != text_fingerprint(b + " في إدلب")


def test_sketch_is_compact_and_deterministic() -> None:
    s = sketch(STORY)
    assert len(s.signature) == BINS
    assert len(s.bands) == BANDS and all(len(b) == 7 for b in s.bands)
    assert len(s.lead) == LEAD_BITS // 8
    assert len(s.lead_bands) == LEAD_BANDS and all(len(b) == 7 for b in s.lead_bands)
    assert s == sketch(STORY)
    assert sketch("").empty and similarity(sketch(""), sketch("")) == 0.0


def test_syndicated_copy_with_dateline_and_signoff_is_the_same_story() -> None:
    copy = "موسكو (رويترز) - " + STORY + " (إعداد محمد علي للنشرة العربية)"
    assert similarity(sketch(STORY), sketch(copy)) >= 0.6
    assert same_story(sketch(STORY), sketch(copy))


def test_unrelated_story_is_not_the_same_story() -> None:
    assert similarity(sketch(STORY), sketch(OTHER)) < 0.1
    assert not same_story(sketch(STORY), sketch(OTHER))


def test_similarity_tracks_the_true_jaccard_of_shingles() -> None:
    words = STORY.split()
    half = " ".join(words[: len(words) // 2]) + " " + OTHER
    a, b = shingles(STORY), shingles(half)
    true_j = len(a & b) / len(a | b)
    assert abs(similarity(sketch(STORY), sketch(half)) - true_j) < 0.2


def test_same_outlet_needs_more_overlap_than_cross_outlet() -> None:
    words = STORY.split()
    # keep ~60% of the sentences: a rewrite that crosses the cross-outlet bar, not the same-outlet one
    partial = " ".join(words[: int(len(words) * 0.62)]) + " " + OTHER[:80]
    s = similarity(sketch(STORY), sketch(partial))
    assert 0.35 <= s < 0.6
    assert same_story(sketch(STORY), sketch(partial))
    assert not same_story(sketch(STORY), sketch(partial), same_outlet=True)


# --- on the real evaluation set (tests/fixtures/dedup, ANT corpus v2.1; see its README) -------------

def _eval_set() -> dict[str, Any]:
    with gzip.open(FIXTURES / "dedup" / "pairs.json.gz", "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _doc(d: dict[str, str]) -> str:
    return f"{d['title']}\n\n{d['text']}"


def _store_says_same(a: str, b: str, same_outlet: bool) -> bool:
    """The store's decision for one pair: a shared LSH band, then the signature threshold."""
    sa, sb = sketch(a), sketch(b)
    return bool(set(sa.bands) & set(sb.bands)) and same_story(sa, sb, same_outlet)


def test_different_stories_on_one_topic_are_kept_apart_on_real_pairs() -> None:
    data = _eval_set()
    docs = data["docs"]
    pairs = data["different"] + data["random"]
    wrong = [(a, b) for a, b in pairs
             if _store_says_same(_doc(docs[a]), _doc(docs[b]), docs[a]["src"] == docs[b]["src"])]
    assert len(wrong) <= 0.02 * len(pairs), wrong


def test_republished_and_syndicated_copies_are_found_on_real_articles() -> None:
    data = _eval_set()
    docs = data["docs"]
    found = [_store_says_same(_doc(docs[a]), _doc(docs[b]), True) for a, b in data["republished"]]
    assert all(found)
    hits = total = 0
    for key in data["synthetic_bases"]:
        d = docs[key]
        paras = [p for p in d["text"].split("\n") if p.strip()]
        copies = [
            "بيروت - أ ف ب: " + d["text"],  # dateline
            "\n".join(paras[:-1]),  # last paragraph dropped
            d["text"] + "\nتابعونا على تويتر وفيسبوك.\nجميع الحقوق محفوظة.",  # boilerplate
        ]
        for text in copies:
            hits += _store_says_same(_doc(d), f"{d['title']}\n\n{text}", False)
            total += 1
    assert hits >= 0.9 * total


def test_real_cross_outlet_pairs_sharing_agency_text_are_mostly_found() -> None:
    data = _eval_set()
    docs = data["docs"]
    strong = [(a, b) for a, b in data["same"]
              if _jaccard(_doc(docs[a]), _doc(docs[b])) >= 0.5]
    assert len(strong) >= 10
    found = sum(_store_says_same(_doc(docs[a]), _doc(docs[b]), docs[a]["src"] == docs[b]["src"])
                for a, b in strong)
    assert found >= 0.9 * len(strong)


def _jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / max(1, len(sa | sb))


# --- the title/lead signal: rewrites of one report merge, a materially changed story does not --------

_BG1 = ("وتشهد الغوطة الشرقية منذ أسابيع حملة عسكرية عنيفة لقوات النظام السوري أسفرت عن مقتل مئات المدنيين "
        "وفق حصيلة المرصد السوري لحقوق الإنسان، وتحاصر القوات الحكومية المنطقة منذ عام 2013.")
_BG2 = ("وكان مجلس الأمن الدولي قد تبنى بالإجماع قرارا يطالب بهدنة إنسانية لمدة ثلاثين يوما في كل أنحاء سوريا "
        "للسماح بإيصال المساعدات وإجلاء الجرحى والمرضى، لكن القرار لم يطبق على الأرض.")
_BG3 = ("ويعيش نحو أربعمئة ألف شخص في الغوطة في ظروف إنسانية صعبة مع نقص حاد في الغذاء والدواء، "
        "بحسب منظمات الإغاثة التابعة للأمم المتحدة.")
AGREED = ("اتفاق على وقف إطلاق النار في الغوطة الشرقية برعاية روسية\n\n"
          "توصلت فصائل المعارضة المسلحة في الغوطة الشرقية والجيش الروسي إلى اتفاق لوقف إطلاق النار يبدأ "
          "منتصف الليلة، يتضمن فتح ممرات آمنة لخروج المدنيين وإدخال قوافل المساعدات الإنسانية إلى دوما وحرستا.\n"
          "وقال متحدث باسم فيلق الرحمن إن الاتفاق جاء بعد مفاوضات استمرت ثلاثة أيام بوساطة أممية، "
          "وإن الفصائل ستلتزم به ما دامت القوات الحكومية تلتزم بدورها.\n" + "\n".join([_BG1, _BG2, _BG3]))
# Another outlet's own report of the same agreement: the facts of title and lead in its own words, one
# background paragraph in common.
REWRITE = ("وقف لإطلاق النار في الغوطة الشرقية باتفاق بين المعارضة وروسيا\n\n"
           "أعلنت فصائل المعارضة في الغوطة الشرقية التوصل مع الجيش الروسي إلى اتفاق لوقف إطلاق النار يسري "
           "اعتبارا من منتصف الليلة، ويشمل فتح ممرات آمنة للمدنيين وإدخال المساعدات الإنسانية إلى دوما وحرستا.\n"
           "وأوضح متحدث باسم فيلق الرحمن أن الاتفاق تم بعد ثلاثة أيام من المفاوضات بوساطة الأمم المتحدة، "
           "مؤكدا التزام الفصائل به طالما التزمت قوات النظام.\n"
           "وتتعرض المنطقة المحاصرة منذ خمس سنوات لقصف جوي ومدفعي مكثف خلف مئات القتلى في صفوف المدنيين.\n"
           + _BG2)
# The next day's story: the truce collapsed. New title and lead; the earlier background paragraphs reused.
COLLAPSED = ("انهيار الهدنة في الغوطة الشرقية وتجدد القصف على دوما\n\n"
             "انهار اتفاق وقف إطلاق النار في الغوطة الشرقية بعد ساعات من بدء سريانه، إذ استأنفت الطائرات الحربية "
             "قصف دوما وحرستا فجر اليوم، وتبادل الطرفان الاتهامات بخرق الهدنة، وقتل اثنا عشر مدنيا على الأقل.\n"
             "وقال الدفاع المدني إن فرق الإنقاذ تبحث عن ناجين تحت أنقاض مبان مدمرة في حي الشيفونية، "
             "فيما أغلقت الممرات التي كان يفترض أن يخرج منها المدنيون.\n" + "\n".join([_BG1, _BG2]))


def test_lead_words_drop_dateline_stopwords_and_clitics() -> None:
    words = lead_words("عنوان: روسيا تعلن الهدنة\n\nدبي، الإمارات العربية المتحدة (CNN)-- قال الجيش الروسي إن "
                       "الهدنة في سوريا بدأت اليوم.")
    assert "cnn" not in words and "دبي" not in words  # the dateline is the desk's, not the event's
    assert "قال" not in words and "في" not in words and "اليوم" not in words
    assert {"روسيا", "هدن", "جيش", "سوريا"} <= words  # الهدنة/والهدنة → هدن; الروسي → روس


def test_lead_bitmap_similarity_tracks_the_word_jaccard() -> None:
    a, b = lead_words(AGREED), lead_words(REWRITE)
    exact = len(a & b) / len(a | b)
    est = lead_similarity(sketch(AGREED).lead, sketch(REWRITE).lead)
    assert abs(est - exact) < 0.1, (est, exact)
    assert lead_similarity(sketch(STORY).lead, sketch(OTHER).lead) < 0.1
    assert lead_similarity(sketch(STORY).lead, sketch(STORY).lead) == 1.0


def test_independent_rewrite_with_the_same_title_and_lead_facts_is_the_same_story() -> None:
    a, b = sketch(AGREED), sketch(REWRITE)
    assert similarity(a, b) < NEAR_DUP_THRESHOLD  # the text rule alone would miss it
    assert lead_similarity(a.lead, b.lead) >= LEAD_THRESHOLD
    assert candidates(a, b) and same_story(a, b)
    assert not same_story(a, b, same_outlet=True)  # the lead rule is for two outlets only


def test_follow_up_that_rewrites_the_lead_is_not_merged() -> None:
    """Ceasefire "agreed" then "collapsed": shared background paragraphs, a new title and lead."""
    a, b = sketch(AGREED), sketch(COLLAPSED)
    assert similarity(a, b) >= 0.15  # they do share text (the background)
    assert lead_similarity(a.lead, b.lead) < LEAD_VETO
    assert not same_story(a, b)


def test_follow_up_reusing_all_the_background_is_vetoed_by_its_lead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough shared background to pass the text bar alone; the rewritten lead keeps it a new story."""
    a, b = sketch(AGREED), sketch(COLLAPSED + "\n" + _BG3)
    assert NEAR_DUP_THRESHOLD <= similarity(a, b) < LEAD_VETO_BELOW
    assert not same_story(a, b)
    monkeypatch.setattr(dedup, "LEAD_VETO", 0.0)  # the veto, not the text bar, is what keeps it apart
    assert same_story(a, b)


def test_real_follow_ups_reusing_background_are_kept_apart() -> None:
    """Read pairs of the evaluation set: a follow-up under a new lead is a new story, even cross-outlet."""
    docs = _eval_set()["docs"]
    for a, b in (("SK-middleEast-2109-20180602", "CN-middleEast-1091-20180603"),  # confess → 8 released
                 ("BB-middleEast-1004-20181001", "BB-middleEast-1052-20181002")):  # vote postponed → elected
        assert not same_story(sketch(_doc(docs[a])), sketch(_doc(docs[b]))), (a, b)


def test_real_independent_rewrites_are_merged_through_the_lead() -> None:
    """Read pairs whose texts share few 3-shingles but whose titles and leads report the same facts."""
    docs = _eval_set()["docs"]
    merged_by_lead = 0
    pairs = [("AL-internationalNews-926-20180416", "SK-middleEast-1047-20180416"),  # Turkey: Macron
             ("AL-internationalNews-1742-20180623", "SK-internationalNews-2279-20180623")]  # drills suspended
    for a, b in pairs:
        sa, sb = sketch(_doc(docs[a])), sketch(_doc(docs[b]))
        merged_by_lead += similarity(sa, sb) < NEAR_DUP_THRESHOLD and candidates(sa, sb) and same_story(sa, sb)
    assert merged_by_lead == len(pairs)
