"""OPML import/export round trips and feed discovery from home pages."""

from __future__ import annotations

import pytest

from feeds.errors import InvalidInput
from feeds.models import FeedSource
from feeds.opml import discover_feeds, read_opml, write_opml

FEEDS = [
    FeedSource(id="bbc-arabic", url="https://feeds.bbci.co.uk/arabic/rss.xml", name="بي بي سي عربي"),
    FeedSource(id="france24-ar", url="https://www.france24.com/ar/rss", name="فرانس 24 & co <ar>"),
]


def test_export_then_import_round_trips_ids_names_and_urls() -> None:
    text = write_opml(FEEDS)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "بي بي سي عربي" in text
    back = read_opml(text.encode())
    assert [(f.id, f.url, f.name) for f in back] == [(f.id, f.url, f.name) for f in FEEDS]


def test_import_flattens_categories_and_derives_unique_ids() -> None:
    data = b"""<?xml version="1.0"?><opml version="1.0"><head/><body>
      <outline text="Middle East">
        <outline text="DW" type="rss" xmlUrl="https://rss.dw.com/rdf/rss-ar-all"/>
        <outline text="DW again" xmlUrl="https://rss.dw.com/rdf/rss-ar-all"/>
        <outline title="Enab" xmlUrl="https://www.enabbaladi.net/feed"/>
        <outline title="Enab 2" xmlUrl="https://enabbaladi.net/feed/"/>
      </outline>
      <outline text="a folder without feeds"/>
    </body></opml>"""
    feeds = read_opml(data)
    assert [f.url for f in feeds] == ["https://rss.dw.com/rdf/rss-ar-all", "https://www.enabbaladi.net/feed",
                                      "https://enabbaladi.net/feed/"]
    assert [f.name for f in feeds] == ["DW", "Enab", "Enab 2"]
    assert len({f.id for f in feeds}) == 3 and all(f.id.replace("-", "").isalnum() for f in feeds)


@pytest.mark.parametrize("data", [
    b"<opml><body><outline xmlUrl='file:///etc/passwd'/></body></opml>",
    b"<rss version='2.0'/>",
    b"<opml><body>",
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY e SYSTEM "file:///etc/passwd">]><opml><body>'
    b"<outline text='&e;' xmlUrl='https://n.example/rss'/></body></opml>",
])
def test_bad_opml_is_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        read_opml(data)


def test_discovery_finds_advertised_feeds_in_order_resolved_against_the_page() -> None:
    html = """<html><head>
      <link rel="stylesheet" href="/style.css">
      <link rel="alternate" type="application/rss+xml" title="الأخبار" href="/feed/">
      <link rel='alternate' type='application/atom+xml' href='https://cdn.site.example/atom.xml'>
      <link rel="alternate" hreflang="en" href="/en/">
      <link rel="alternate" type="application/rss+xml" href="/feed/">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    </head><body></body></html>"""
    assert discover_feeds(html, "https://www.site.example/ar/") == [
        "https://www.site.example/feed/", "https://cdn.site.example/atom.xml"]
    assert discover_feeds("<html><head></head></html>", "https://x.example/") == []
