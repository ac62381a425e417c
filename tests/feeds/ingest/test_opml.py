"""OPML import/export round trips and feed discovery from home pages."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from feeds.errors import InvalidInput, Permanent
from feeds.ingest.http import FetchPolicy, FetchResult, fetch
from feeds.ingest.opml import discover_feeds, find_feed, read_opml, write_opml
from feeds.models import FeedSource

FEEDS = [
    FeedSource(id="bbc-arabic", url="https://feeds.bbci.co.uk/arabic/rss.xml", name="بي بي سي عربي"),
    FeedSource(id="france24-ar", url="https://www.france24.com/ar/rss", name="فرانس 24 & co <ar>"),
]


def test_export_then_import_round_trips_ids_names_and_urls() -> None:
    text = write_opml(FEEDS)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "بي بي سي عربي" in text
    back = read_opml(text.encode())
    assert [(f.id, f.url, f.name) for f in back] == [(f.id, f.url, f.name) for f in FEEDS]


@pytest.mark.parametrize(("given", "interval"), [("600", 600), ("0", 300), ("-5", 300), ("abc", 300),
                                                ("9" * 5000, 300), (str(8 * 86400), 300)])
def test_an_odd_interval_attribute_falls_back_to_the_default(given: str, interval: int) -> None:
    opml = f'<opml version="2.0"><body><outline text="a" xmlUrl="https://a.example/rss" marsadInterval="{given}"/>'
    assert [f.interval_s for f in read_opml((opml + "</body></opml>").encode())] == [interval]


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


FEED_XML = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>عنب بلدي</title>'
            "<item><title>خبر</title><link>http://n.example/1</link></item></channel></rss>").encode()
PAGES = {
    "/": b'<html><head><link rel="alternate" type="application/rss+xml" href="/broken.xml">'
         b'<link rel="alternate" type="application/rss+xml" href="/feed/"></head><body>home</body></html>',
    "/feed/": FEED_XML,
    "/broken.xml": b"<html><body>not a feed</body></html>",
    "/nofeed": b"<html><head><title>x</title></head><body>nothing here</body></html>",
}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = PAGES.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def local_fetch(url: str) -> FetchResult:
    return fetch(url, FetchPolicy(timeout_s=2, allow_private_addresses=True))


def test_find_feed_from_a_home_page_skips_advertised_links_that_are_not_feeds(site: str) -> None:
    assert find_feed(site + "/", local_fetch) == (site + "/feed/", "عنب بلدي")


def test_find_feed_accepts_a_feed_url_directly(site: str) -> None:
    assert find_feed(site + "/feed/", local_fetch) == (site + "/feed/", "عنب بلدي")


def test_find_feed_explains_why_nothing_was_found(site: str) -> None:
    with pytest.raises(Permanent) as info:
        find_feed(site + "/nofeed", local_fetch)
    assert info.value.reason.startswith("no feed found: " + site + "/nofeed: not a feed: text/html")
    assert "advertises no feed" in info.value.reason
