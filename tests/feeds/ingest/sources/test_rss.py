"""parse_feed: real corpus items as RSS, Atom, dates, guids, links, charsets, entity stripping and rejections."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC
from email.utils import parsedate_to_datetime

import pytest

from feeds.errors import Permanent
from feeds.ingest.sources.rss import MAX_ENTRIES, _plain_rss_items, html_to_text, parse_feed, strip_entity_declarations
from feeds.models import FeedSource
from tests.conftest import FIXTURES

FEED = FeedSource(id="ant", url="http://corpus.example/rss", name="ANT sample")
CORPUS_FEED = FIXTURES / "feeds" / "corpus_feed.xml"


def test_corpus_feed_items_come_out_as_entries() -> None:
    body = CORPUS_FEED.read_bytes()
    items = ET.fromstring(body).findall("./channel/item")  # an independent reading of the same file
    entries = parse_feed(body, FEED, FEED.url)
    assert len(entries) == len(items) == 25
    for entry, item in zip(entries, items, strict=True):
        assert entry.feed_id == "ant"
        assert entry.title == " ".join((item.findtext("title") or "").split())
        assert entry.url == item.findtext("link")
        assert entry.guid == item.findtext("guid")
        abstract = (item.findtext("description") or "").removeprefix("<p>").removesuffix("</p>")
        assert " ".join(entry.summary.split()) == " ".join(abstract.split())
        assert "<p>" not in entry.summary
        expected = parsedate_to_datetime(item.findtext("pubDate") or "").astimezone(UTC).isoformat()
        assert entry.published == expected


def atom(entries: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>t</title>{entries}</feed>").encode()


def test_atom_entries_with_html_content_and_only_an_updated_date() -> None:
    body = atom('<entry><id>tag:n.example,2020:1</id><title type="html">&lt;b&gt;عاجل&lt;/b&gt;: قمة</title>'
                '<link rel="alternate" href="/2020/1"/><updated>2020-09-30T12:00:00+03:00</updated>'
                '<content type="html">&lt;p&gt;فقرة أولى&lt;br/&gt;فقرة ثانية&lt;/p&gt;'
                "&lt;script&gt;evil()&lt;/script&gt;</content></entry>")
    (entry,) = parse_feed(body, FEED, "https://n.example/feeds/all")
    assert entry.title == "عاجل: قمة"
    assert entry.url == "https://n.example/2020/1" and entry.guid == "tag:n.example,2020:1"
    assert entry.summary == "فقرة أولى\nفقرة ثانية"
    assert entry.published == "2020-09-30T09:00:00+00:00"


def rss(items: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return f'{decl}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_future_and_unparseable_dates_become_none() -> None:
    body = rss("<item><title>a</title><link>http://n.example/1</link><pubDate>Fri, 01 Jan 2100 00:00:00 GMT"
               "</pubDate></item><item><title>b</title><link>http://n.example/2</link><pubDate>أمس</pubDate></item>")
    assert [e.published for e in parse_feed(body, FEED, FEED.url)] == [None, None]


def test_only_http_links_are_kept() -> None:
    body = rss("<item><title>a</title><link>javascript:alert(1)</link></item>"
               "<item><title>b</title><link>ftp://n.example/x</link></item>")
    assert [e.url for e in parse_feed(body, FEED, FEED.url)] == ["", ""]


def test_guid_falls_back_to_link_then_to_a_content_hash_and_duplicates_collapse() -> None:
    body = rss("<item><title>a</title><link>http://n.example/1</link></item>"
               "<item><title>b</title><description>c</description></item>"
               "<item><title>b</title><description>c</description></item>"  # same content, same hash
               "<item><title>d</title><description>e</description></item>")
    entries = parse_feed(body, FEED, FEED.url)
    assert [e.title for e in entries] == ["a", "b", "d"]
    assert entries[0].guid == "http://n.example/1"
    assert entries[1].guid.startswith("sha256:") and entries[1].guid != entries[2].guid


def test_entry_count_is_capped() -> None:
    body = rss("".join(f"<item><guid>g{n}</guid><title>t{n}</title></item>" for n in range(MAX_ENTRIES + 50)))
    entries = parse_feed(body, FEED, FEED.url)
    assert len(entries) == MAX_ENTRIES and entries[-1].guid == f"g{MAX_ENTRIES - 1}"


def test_declared_legacy_encodings_and_the_charset_hint() -> None:
    title = "روسيا وتركيا تتفقان على هدنة في إدلب"
    item = f"<item><title>{title}</title><link>http://n.example/1</link></item>"
    for codec, label in (("cp1256", "windows-1256"), ("iso8859_6", "iso-8859-6")):
        declared = rss(item, f'<?xml version="1.0" encoding="{label}"?>').decode().encode(codec)
        assert parse_feed(declared, FEED, FEED.url)[0].title == title
        bare = rss(item, '<?xml version="1.0"?>').decode().encode(codec)
        assert parse_feed(bare, FEED, FEED.url, charset=label)[0].title == title


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "not a feed: empty response"),
    (b"  \n ", "not a feed: empty response"),
    (b"<!DOCTYPE html>\n<html><head><title>x</title></head><body>x</body></html>", "not a feed: text/html"),
    (b"<?xml version='1.0'?><!-- c --><html><body>x</body></html>", "not a feed: text/html"),
    (b'{"items": [{"title": "json"}]}', None),
    (b"<?xml version='1.0'?><note><to>x</to></note>", None),
])
def test_not_a_feed_is_permanent_with_a_reason(body: bytes, reason: str | None) -> None:
    with pytest.raises(Permanent) as info:
        parse_feed(body, FEED, FEED.url)
    assert info.value.reason.startswith("not a feed")
    if reason:
        assert info.value.reason == reason


def test_entity_declarations_are_stripped_before_parsing() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "XXXXXXXX"><!ENTITY y "&x;&x;">]>'
            b'<rss version="2.0"><channel><item><title>a&y;b</title><guid>g</guid></item></channel></rss>')
    cleaned = strip_entity_declarations(body)
    assert b"<!ENTITY" not in cleaned and b"<!DOCTYPE" not in cleaned and cleaned.endswith(b"</rss>")
    (entry,) = parse_feed(body, FEED, FEED.url)
    assert "XXXX" not in entry.title
    assert strip_entity_declarations(rss("<item/>")) == rss("<item/>")  # untouched without declarations


def test_html_to_text() -> None:
    assert html_to_text("<p>سطر&nbsp;أول<br>سطر ثان</p><style>p{}</style><script>x()</script>") == (
        "سطر أول\nسطر ثان")
    assert html_to_text("&lt;b&gt;مهم&lt;/b&gt; &amp; عاجل") == "مهم & عاجل"
    assert len(html_to_text("كلمة " * 10_000, limit=100)) == 100


MIXED = rss(
    "<item><title>A &amp; B &lt;b&gt;bold&lt;/b&gt;</title><link> /rel/1 </link><guid>g-1</guid>"
    "<pubDate>Sun, 18 Feb 2018 21:35:43 +0400</pubDate><description><![CDATA[<p>نص <a href='/x'>رابط</a></p>]]>"
    "</description><category>c</category></item>"
    '<item><title>بلا رابط</title><guid isPermaLink="true">http://n.example/perma</guid>'
    "<dc:date xmlns:dc='http://purl.org/dc/elements/1.1/'>2018-02-18T10:00:00Z</dc:date></item>"
    '<item><title>guid not a link</title><guid isPermaLink="false">urn:x:1</guid>'
    "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>&lt;p&gt;كامل&lt;/p&gt;"
    "</content:encoded></item>"
    "<item><title>bad date</title><link>http://n.example/3</link><pubDate>2018-13-45</pubDate></item>")


@pytest.mark.parametrize("body", [CORPUS_FEED.read_bytes(), MIXED], ids=["corpus", "mixed"])
def test_fast_path_reads_plain_rss_exactly_as_feedparser(body: bytes) -> None:
    assert _plain_rss_items(body) is not None  # the fast path really read it
    fast = parse_feed(body, FEED, "https://n.example/feed/")
    assert fast == parse_feed(body, FEED, "https://n.example/feed/", fast=False)
    assert fast and all(e.title for e in fast)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_wide_encodings_are_read_and_their_entity_declarations_stripped_too(codec: str) -> None:
    title = "هدنة في إدلب"
    body = ('<?xml version="1.0" encoding="' + codec + '"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 1000 + '">]>'
            f'<rss version="2.0"><channel><item><title>{title} &a;&a;</title><guid>g</guid></item></channel></rss>')
    (entry,) = parse_feed(body.encode(codec), FEED, FEED.url)
    assert entry.title.startswith(title) and "AAAA" not in entry.title
