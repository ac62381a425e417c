"""extract_article on real Arabic news pages (tests/fixtures/pages, see its README for origins)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from feeds.ingest.extract import MIN_TEXT_CHARS, article_from_entry, canonical_link, extract_article
from feeds.models import Entry
from tests.conftest import FIXTURES

PAGES = FIXTURES / "pages"
CNN = PAGES / "newspaper__cnn_arabic_2013_syria.html"
CNN_URL = "http://arabic.cnn.com/2013/middle_east/8/3/syria.clashes/index.html"


def entry(**kw: str | None) -> Entry:
    base: dict[str, str | None] = {"feed_id": "f", "url": "http://n.example/a", "guid": "g",
                                   "title": "عنوان من الخلاصة", "summary": "ملخص الخبر كما ورد في الخلاصة",
                                   "published": "2020-03-17T10:00:00+00:00"}
    base.update(kw)
    return Entry(**base)  # type: ignore[arg-type]


def words(text: str) -> set[str]:
    return set(re.findall(r"[\u0621-\u064A]+", text))


def test_main_text_of_a_real_page_matches_the_gold_text() -> None:
    art = extract_article(CNN.read_bytes(), {"Content-Type": "text/html"}, CNN_URL)
    gold = (PAGES / "newspaper__cnn_arabic_2013_syria.expected.txt").read_text()
    assert art.source == "page" and art.title == "معارضون يسيطرون على مخازن للصواريخ بريف دمشق"
    recall = len(words(gold) & words(art.text)) / len(words(gold))
    precision = len(words(gold) & words(art.text)) / len(words(art.text))
    assert recall > 0.9 and precision > 0.8, (recall, precision)
    assert art.url == CNN_URL  # its own canonical link


def test_a_windows_1256_copy_declared_utf8_extracts_the_same_text() -> None:
    html = CNN.read_text(encoding="utf-8")
    legacy = html.encode("cp1256", errors="xmlcharrefreplace")
    plain = extract_article(CNN.read_bytes(), {}, CNN_URL)
    assert extract_article(legacy, {"Content-Type": "text/html; charset=utf-8"}, CNN_URL).text == plain.text


@pytest.mark.parametrize(("name", "gold"), [
    ("htmldate__1550981615_sputnikarabic.html", "2020-03-17"),
    ("htmldate__1691196862_youm7.html", "2020-08-24"),
    ("htmldate__1764731404_beirutobserver.html", "2020-11-09"),
])
def test_publication_date_from_the_page(name: str, gold: str) -> None:
    art = extract_article((PAGES / name).read_bytes(), {}, "https://news.example/a/1")
    assert art.published is not None and art.published.tzinfo is not None
    assert art.published.date().isoformat() == gold
    assert len(art.text) >= MIN_TEXT_CHARS


def test_feed_time_wins_over_a_date_only_guess_from_the_page() -> None:
    page = PAGES / "rsscrawler__JA-politic-1-20170302.html"
    gold = (PAGES / "rsscrawler__JA-politic-1-20170302.txt").read_text()
    first_sentence = gold.split("<TEXT>")[1].strip().split("  ")[0]
    art = extract_article(page.read_bytes(), {}, "http://www.jawharafm.net/ar/article/x/92/79209",
                          entry(published="2017-03-02T12:44:00+00:00"))
    assert art.published == datetime(2017, 3, 2, 12, 44, tzinfo=UTC)
    assert first_sentence[:60] in art.text


def test_page_date_used_when_the_feed_has_none_and_feed_date_when_the_page_has_none() -> None:
    art = extract_article((PAGES / "htmldate__1764731404_beirutobserver.html").read_bytes(), {},
                          "https://www.beirutobserver.com/2020/11/2338761/", entry(published=None))
    assert art.published is not None and art.published.date().isoformat() == "2020-11-09"
    bare = ("<html><body><article><p>" + "نص الخبر الكامل بلا تاريخ. " * 20 + "</p></article></body></html>").encode()
    art = extract_article(bare, {}, "http://n.example/a", entry())
    assert art.published == datetime(2020, 3, 17, 10, 0, tzinfo=UTC)


def test_empty_page_falls_back_to_the_feed_description_and_says_why() -> None:
    art = extract_article(b"<html><body></body></html>", {}, "http://n.example/a", entry())
    assert (art.source, art.note) == ("feed_description", "no main text found on the page")
    assert art.title == "عنوان من الخلاصة" and art.text == "ملخص الخبر كما ورد في الخلاصة"


def test_short_page_text_falls_back_with_its_length_in_the_note() -> None:
    html = "<html><body><article><p>اشترك الآن لقراءة المقال كاملا</p></article></body></html>".encode()
    long_summary = "ملخص طويل " * 10
    art = extract_article(html, {}, "http://n.example/a", entry(summary=long_summary))
    assert art.source == "feed_description" and art.note.startswith("page text too short (")
    assert art.text == long_summary.strip() or art.text == long_summary


def test_article_from_entry_keeps_the_feed_record() -> None:
    art = article_from_entry(entry(), "fetch_pages is off for this feed")
    assert (art.url, art.feed_id, art.source, art.note) == ("http://n.example/a", "f", "feed_description",
                                                           "fetch_pages is off for this feed")
    assert art.published == datetime(2020, 3, 17, 10, 0, tzinfo=UTC)
    assert article_from_entry(entry(published=None), "x").published is None


@pytest.mark.parametrize(("head", "expected"), [
    ('<link rel="canonical" href="/news/2020/1.html">', "https://www.site.example/news/2020/1.html"),
    ("<link href='https://site.example/news/1?id=4' rel='canonical'>", "https://site.example/news/1?id=4"),
    ('<link rel="canonical" href="https://other.example/news/1">', None),  # another outlet's record
    ('<link rel="canonical" href="https://www.site.example/">', None),  # every page "is" the home page
    ('<link rel="canonical" href="javascript:void(0)">', None),
    ('<link rel="amphtml" href="https://www.site.example/amp/1">', None),
])
def test_canonical_link(head: str, expected: str | None) -> None:
    html = f"<html><head>{head}</head><body></body></html>"
    assert canonical_link(html, "https://www.site.example/news/2020/1.html?utm_source=rss") == expected


def test_a_non_html_page_is_not_extracted_and_the_note_says_what_it_was() -> None:
    art = extract_article(b"%PDF-1.7 \x00\x01binary", {"Content-Type": "application/pdf"}, "http://n.example/a.pdf",
                          entry())
    assert (art.source, art.note) == ("feed_description", "page is application/pdf, not HTML")
    assert art.text == "ملخص الخبر كما ورد في الخلاصة"


def test_a_page_with_too_many_tags_is_not_extracted() -> None:
    html = b"<html><body>" + b"<p>\xd9\x86\xd8\xb5</p>" * 40_000 + b"</body></html>"
    art = extract_article(html, {"Content-Type": "text/html"}, "http://n.example/a", entry())
    assert art.source == "feed_description"
    assert art.note == f"page too complex to extract ({html.count(b'<')} tags)"


def test_the_h1_that_repeats_the_title_is_not_counted_twice() -> None:
    from feeds.models import Classification
    from feeds.query.evaluate import Doc, evaluate
    from feeds.query.syntax import parse_query

    body = ("<html><head><title>غارة على إدلب</title></head><body><article><h1>غارة على إدلب</h1>"
            "<p>" + "قالت مصادر محلية إن الطائرات الحربية قصفت مواقع في الريف الجنوبي صباح اليوم. " * 4 + "</p>"
            "</article></body></html>").encode()
    art = extract_article(body, {"Content-Type": "text/html; charset=utf-8"}, "https://example.org/a")
    assert art.title == "غارة على إدلب" and not art.text.startswith("غارة على إدلب")
    assert len(evaluate(parse_query("إدلب"), Doc(art, Classification())).hits) == 1  # min_mentions: 2 stays false


@pytest.mark.parametrize(("text", "kept"), [
    ("غارة على إدلب\nنص الخبر", "نص الخبر"),
    ("غارة على ادلب.\n\nنص الخبر", "نص الخبر"),       # normalised: hamza, punctuation, blank line
    ("غارة على إدلب وريفها\nنص الخبر", None),          # a longer first line is text
    ("غارة على إدلب", None),                          # nothing after it: kept as the text
])
def test_without_title(text: str, kept: str | None) -> None:
    from feeds.ingest.extract import without_title

    assert without_title(text, "غارة على إدلب") == (text if kept is None else kept)
