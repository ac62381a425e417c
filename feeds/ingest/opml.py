"""OPML import/export of the feed list, and feed discovery from a site's home page (<link rel=alternate>)."""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from urllib.parse import urljoin, urlsplit

from feeds.errors import InvalidInput, MarsadError, Permanent
from feeds.ingest.charset import decode_html
from feeds.ingest.http import FetchResult
from feeds.ingest.links import link_tags
from feeds.ingest.sources.rss import parse_feed, strip_entity_declarations
from feeds.models import FeedSource

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
              "application/xml", "text/xml")
# An OPML file is a list of subscriptions: a few thousand at most. More is a mistake or an attack.
MAX_OPML_BYTES = 5_000_000
# An imported interval above a week is no polling interval: ignored (the default applies).
MAX_INTERVAL_S = 7 * 86400


def slug(text: str, fallback: str = "feed") -> str:
    """A lower-case ASCII id: letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    value = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return value[:60] or fallback


def _feed_id(url: str, title: str) -> str:
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    path = re.sub(r"(?i)\b(?:feeds?|rss|atom|xml|index)\b|\.(?:xml|rss)$", " ", urlsplit(url).path)
    return slug(f"{host} {path}" if host else title)


def read_opml(data: bytes, repeats: list[str] | None = None) -> list[FeedSource]:
    """Every outline with an xmlUrl (nested categories flattened), unique by URL and id; an outline whose URL
    came before (a feed filed in two folders) is left out, and its text appended to `repeats` if given."""
    if len(data) > MAX_OPML_BYTES:
        raise InvalidInput(f"OPML file too large: > {MAX_OPML_BYTES // 1_000_000} MB")
    try:
        root = ET.fromstring(strip_entity_declarations(data))
    except ET.ParseError as e:
        raise InvalidInput(f"not valid OPML: {e}") from e
    if root.tag.lower() != "opml":
        raise InvalidInput(f"not OPML: root element is <{root.tag}>")
    feeds: list[FeedSource] = []
    seen_urls: set[str] = set()
    seen_ids: set[str] = set()
    next_suffix: dict[str, int] = {}
    bad: list[str] = []
    for node in root.iter("outline"):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        if not url:
            continue
        if url in seen_urls:
            if repeats is not None:
                repeats.append(f"outline {(node.get('text') or node.get('title') or '').strip()[:80]!r}: "
                               f"{url[:200]} is listed earlier in the file")
            continue
        if urlsplit(url).scheme not in ("http", "https"):
            bad.append(f"outline {node.get('text') or url!r}: xmlUrl must be http(s), got {url[:80]!r}")
            continue
        name = (node.get("title") or node.get("text") or url).strip()
        base_id = slug(node.get("marsadId") or "", "") or _feed_id(url, name)
        # the next free suffix is remembered per id: 5,000 outlines of one id try one suffix each, not 1…n
        feed_id, n = base_id, next_suffix.get(base_id, 2)
        while feed_id in seen_ids:
            feed_id, n = f"{base_id}-{n}", n + 1
        next_suffix[base_id] = n
        seen_urls.add(url)
        seen_ids.add(feed_id)
        # Marsad's own attributes (write_opml), so an export re-imports as it was; anything odd is ignored
        interval = (node.get("marsadInterval") or "").strip()
        feeds.append(FeedSource(id=feed_id, url=url, name=name,
                                # (length first: int() of thousands of digits is refused, not a number)
                                interval_s=int(interval) if interval.isdigit() and len(interval) <= 7
                                and 0 < int(interval) <= MAX_INTERVAL_S
                                else FeedSource.interval_s,
                                fetch_pages=(node.get("marsadFetchPages") or "").strip().lower() != "false"))
    if bad:  # every bad outline at once, not one per run
        raise InvalidInput("; ".join(bad[:20]) + (f"; … and {len(bad) - 20} more" if len(bad) > 20 else ""))
    return feeds


def write_opml(feeds: Sequence[FeedSource], title: str = "Marsad feeds") -> str:
    """An OPML 2.0 document listing the feeds (id, interval and fetch_pages kept in marsad attributes, so an
    import of it round-trips)."""
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url, "marsadId": feed.id,
                 "marsadInterval": str(feed.interval_s)}
        if not feed.fetch_pages:
            attrs["marsadFetchPages"] = "false"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def discover_feeds(html: str, base: str) -> list[str]:
    """Feed URLs a page advertises with <link rel="alternate" type="application/rss+xml" href=…>, in page order."""
    found: list[str] = []
    for attrs in link_tags(html[:500_000]):
        rels = attrs.get("rel", "").lower().split()
        kind = attrs.get("type", "").lower().split(";")[0].strip()
        href = str(attrs.get("href", "")).strip()
        if "alternate" not in rels or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found


def find_feed(url: str, fetch: Callable[[str], FetchResult]) -> tuple[str, str]:
    """(feed URL, title) for `marsad feeds add URL`: the URL itself if it is a feed, else the first feed its
    page advertises that really parses. Raises Permanent with every reason when none does."""
    probe = FeedSource(id="probe", url=url, name="probe")
    res = fetch(url)
    try:
        parse_feed(res.body, probe, res.url)
        return res.url, _title(res.body) or url
    except Permanent as e:
        reasons = [f"{url}: {e.reason}"]
    page = decode_html(res.body, res.headers)
    for candidate in discover_feeds(page, res.url)[:5]:  # a page advertising more than 5 feeds: try the first 5
        try:
            got = fetch(candidate)
            parse_feed(got.body, probe, got.url)
            return got.url, _title(got.body) or candidate
        except MarsadError as e:
            reasons.append(f"{candidate}: {e.reason}")
    if len(reasons) == 1:
        reasons.append("the page advertises no feed (<link rel=alternate type=application/rss+xml>)")
    raise Permanent("no feed found: " + "; ".join(reasons))


def _title(body: bytes) -> str:
    # linear: a failed scan stops at the next "<" (".*?</title>" rescanned to the end from every "<title")
    match = re.search(r"<title[^<>]*>([^<]*)</title>", decode_html(body, {})[:20_000], re.I)
    if not match:
        return ""
    text = re.sub(r"<!\[CDATA\[|\]\]>|<[^>]+>", "", match.group(1))
    return " ".join(text.split())[:200]
