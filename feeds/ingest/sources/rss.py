"""The `rss` source kind (RSS 2.0, Atom, RDF): a hardened front door to feedparser, capped bytes in,
plain-text Entry records out, or Permanent with a reason."""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.datetimes import _parse_date as feedparser_date
from lxml import etree

from feeds.errors import Permanent
from feeds.ingest.charset import decode_html
from feeds.ingest.sources.base import SourceKind, register
from feeds.models import Entry, FeedSource

# A real news feed carries 10-100 items; 500 leaves room for archives-in-a-feed while keeping one poll's work
# (and the article tasks it enqueues) bounded when a hostile or broken server sends 100,000 items.
MAX_ENTRIES = 500
MAX_TITLE = 1_000  # characters; a headline longer than this is junk or an attack, not a title
MAX_SUMMARY = 20_000  # characters; feeds that put whole articles in <description> stay well under this
# Dates more than a day in the future are clock or template errors; treat them as unknown.
FUTURE_SLACK_S = 86_400

# An internal DTD subset is the only place entities can be declared; dropping it defeats billion laughs and the
# quadratic blow-up (feedparser blocks the first, not the second). Standalone declarations are dropped too.
# Every pattern here is linear in the body: a tag ends at the first `>` and cannot contain `<`, so a scan that
# fails stops at the next `<` ("<<<<…" or "<!ENTITY" × 100,000 cost one pass, not one pass per `<`); the ends
# of DTD subsets and script blocks are searched for once each (`_cut_blocks`), not from every start.
_DOCTYPE_OPEN = re.compile(rb"<!DOCTYPE[^\[<>]*\[", re.I)
_DOCTYPE_CLOSE = re.compile(rb"\]\s*>")
_ENTITY_DECL = re.compile(rb"<!ENTITY[^<>]*>", re.I)
# A comment cannot hold "-->": one way to split the comments, where ".*?-->" backtracked over all 2^n of them.
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^<>]*>\s*)?(?:<!--(?:(?!-->).)*-->\s*)*"
                         rb"<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^<>]*encoding=", re.I)
_TAG = re.compile(r"<[^<>]*>")
_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.I)
_BREAKS = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6])\b[^<>]*>", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*")
# A removed tag becomes a space, except before punctuation: "<b>عاجل</b>: قمة" → "عاجل: قمة".
_TAG_BEFORE_PUNCT = re.compile(r"<[^<>]*>(?=[,.:;!?،؛؟)])")


def _cut_doctype_subsets(body: bytes) -> bytes:
    """The body without its internal DTD subsets; an unclosed one runs to the end (the parser then says the
    feed is broken)."""
    out, pos = [], 0
    while (m := _DOCTYPE_OPEN.search(body, pos)) is not None:
        out.append(body[pos:m.start()])
        end = _DOCTYPE_CLOSE.search(body, m.end())
        if end is None:
            return b"".join(out)
        pos = end.end()
    out.append(body[pos:])
    return b"".join(out)


def strip_entity_declarations(body: bytes) -> bytes:
    """The body without any internal DTD subset or <!ENTITY declaration."""
    if not _ENTITY_DECL.search(body):
        return body
    return _ENTITY_DECL.sub(b"", _cut_doctype_subsets(body))


def _cut_blocks(value: str, by: str = " ") -> str:
    """`value` with each <script>…</script> and <style>…</style> replaced by `by`; an unclosed one runs to the
    end, as in a browser."""
    lower = value.lower()
    out, pos = [], 0
    while (m := _BLOCK_OPEN.search(value, pos)) is not None:
        out.append(value[pos:m.start()])
        close = lower.find("</" + m.group(1).lower(), m.end())
        end = -1 if close < 0 else value.find(">", close)
        out.append(by)
        if end < 0:
            return "".join(out)
        pos = end + 1
    out.append(value[pos:])
    return "".join(out)


def html_to_text(value: str, limit: int = MAX_SUMMARY) -> str:
    """Plain text of an HTML fragment: scripts dropped, tags removed, entities unescaped, spaces collapsed."""
    if "<" in value:
        value = _BREAKS.sub("\n", _cut_blocks(value))
        value = _TAG.sub(" ", _TAG_BEFORE_PUNCT.sub("", value))
    value = html.unescape(value)
    if "<" in value and ">" in value:  # escaped markup (&lt;p&gt;)
        value = _TAG.sub(" ", _TAG_BEFORE_PUNCT.sub("", value))
    value = _NEWLINES.sub("\n", _SPACES.sub(" ", value)).strip()
    return value[:limit]


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        ts = calendar.timegm(parsed)  # feedparser's *_parsed are UTC struct_time
    except (TypeError, ValueError, OverflowError):
        return None
    if ts > time.time() + FUTURE_SLACK_S or ts < 0:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _link(raw: Any, base_url: str) -> str:
    href = raw.get("link") or ""
    if not href:
        for link in raw.get("links") or ():
            if link.get("rel", "alternate") == "alternate" and link.get("href"):
                href = link["href"]
                break
    if not isinstance(href, str) or not href.strip():
        return ""
    if raw.get("guidislink") and href == raw.get("id") and not re.match(r"(?i)https?://", href.strip()):
        return ""  # RSS guids are permalinks by default, but "g1" or a tag: URI is no link to follow
    url = urljoin(base_url, href.strip())
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _summary(raw: Any) -> str:
    value = raw.get("summary") or ""
    if not value:
        for content in raw.get("content") or ():
            if content.get("value"):
                value = content["value"]
                break
    return html_to_text(value) if isinstance(value, str) else ""


def _entry(raw: Any, feed: FeedSource, base_url: str) -> Entry:
    title = html_to_text(raw.get("title") or "", MAX_TITLE) if isinstance(raw.get("title"), str) else ""
    summary = _summary(raw)
    url = _link(raw, base_url)
    guid = raw.get("id") if isinstance(raw.get("id"), str) else ""
    if not guid or not guid.strip():
        guid = url or "sha256:" + hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
    # dict.get: FeedParserDict.get("updated_parsed") warns and aliases published_parsed
    published = _iso(dict.get(raw, "published_parsed")) or _iso(dict.get(raw, "updated_parsed"))
    return Entry(feed_id=feed.id, url=url, guid=guid.strip()[:2000], title=title, summary=summary,
                 published=published)


def _not_a_feed(body: bytes, parsed: Any) -> Permanent:
    if _HTML_START.match(body[:4096]):
        return Permanent("not a feed: text/html")
    if not body.strip():
        return Permanent("not a feed: empty response")
    exc = parsed.get("bozo_exception")
    if exc is not None:
        text = re.sub(r"\s+", " ", str(exc))[:100]
        return Permanent(f"not a feed: {type(exc).__name__}: {text}")
    return Permanent("not a feed: no RSS/Atom/RDF elements")


def parse_feed(body: bytes, feed: FeedSource, base_url: str, *, charset: str | None = None,
               fast: bool = True) -> list[Entry]:
    """Entries of an RSS/Atom/RDF body (already size-capped), de-duplicated by guid, at most MAX_ENTRIES.

    `charset` (e.g. from the Content-Type header) is used when the XML itself declares none; `fast=False`
    sends every body through feedparser (to compare the two readings).
    """
    if not body.strip():
        raise Permanent("not a feed: empty response")
    clean = strip_entity_declarations(_widths_to_utf8(body))
    raw_entries: list[Any] | None = None
    if fast and (charset is None or charset.lower().replace("_", "-") in ("utf-8", "utf8")):
        raw_entries = _plain_rss_items(clean)
    if raw_entries is None:
        raw_entries = _feedparser_items(clean, charset)
    out: dict[str, Entry] = {}
    for raw in raw_entries[: MAX_ENTRIES * 2]:  # duplicates collapse, so look a little further than the cap
        entry = _entry(raw, feed, base_url)
        if not (entry.title or entry.summary or entry.url):
            continue  # nothing to read or follow
        out.setdefault(entry.guid, entry)
        if len(out) >= MAX_ENTRIES:
            break
    return list(out.values())


def _feedparser_items(clean: bytes, charset: str | None) -> list[Any]:
    headers: dict[str, str] = {}  # no content-location: feedparser would "resolve" bare guids into links
    if not _XML_ENCODING.match(clean[:512]):
        headers["content-type"] = f"application/xml; charset={charset or _sniff_charset(clean)}"
    # Only ever a BytesIO: feedparser treats a str/bytes argument that looks like a path or URL as one to open.
    parsed = feedparser.parse(io.BytesIO(clean), response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    raw_entries: list[Any] = parsed.get("entries") or []
    if not parsed.get("version") and not raw_entries:
        raise _not_a_feed(clean, parsed)
    return raw_entries


# Fast path. feedparser costs ~5 ms for a 20-item feed, about four times a whole conditional GET, and most
# feeds are plain, well-formed RSS 2.0. Those are read with lxml (no DTD, no entities, no network) into the
# same fields feedparser would give; anything else (Atom, RDF, namespaced roots, markup inside fields,
# xml:base, undefined entities, bad bytes) goes to feedparser. tests/feeds/test_parse.py checks that both
# paths agree on real feeds, and bench/feedparser_corpus.py on feedparser's own corpus.
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                              remove_comments=True, remove_pis=True)
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
_FIELDS = ("title", "link", "guid", "description", "pubDate", _CONTENT, _DC_DATE)
# Item children feedparser does not turn into title/link/id/summary/content/dates; any other child (body,
# xhtml:body, itunes:summary, media:description, atom:link …) sends the feed to feedparser.
_IGNORED = frozenset(("category", "comments", "author", "enclosure", "source",
                      "{http://purl.org/dc/elements/1.1/}creator", "{http://purl.org/rss/1.0/modules/slash/}comments",
                      "{http://wellformedweb.org/CommentAPI/}commentRss", "{http://search.yahoo.com/mrss/}thumbnail",
                      "{http://search.yahoo.com/mrss/}content"))
_C1 = re.compile("[\x80-\x9f]")  # feedparser maps these cp1252 slips to real characters; leave them to it


def _plain_rss_items(clean: bytes) -> list[dict[str, Any]] | None:
    """Items of a well-formed, plain RSS 2.0 document as feedparser-shaped dicts, or None to use feedparser."""
    if b"xml:base" in clean:
        return None
    try:
        root = etree.fromstring(clean, _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    channel = root.find("channel") if root.tag == "rss" else None
    if channel is None or len(root) != 1:
        return None
    items: list[dict[str, Any]] = []
    for item in channel.iterchildren("item"):
        fields: dict[str, str] = {}
        guid_is_link = True
        for child in item:
            tag = child.tag
            if not isinstance(tag, str) or (tag in _IGNORED and not len(child)):
                continue
            if tag not in _FIELDS or tag in fields or len(child) or (child.text and _C1.search(child.text)):
                return None  # an unknown or repeated field, or markup inside one: feedparser's reading rules
            fields[tag] = (child.text or "").strip()
            if tag == "guid":
                guid_is_link = (child.get("isPermaLink") or "true").strip().lower() == "true"
        raw: dict[str, Any] = {"title": fields.get("title", ""), "summary": fields.get("description", ""),
                               "link": fields.get("link", "")}
        if _CONTENT in fields:
            raw["content"] = [{"value": fields[_CONTENT]}]
        if "guid" in fields:
            raw["id"] = fields["guid"]
            raw["guidislink"] = guid_is_link  # as feedparser: a permalink guid stands in for a missing <link>
            if guid_is_link and not raw["link"]:
                raw["link"] = fields["guid"]
        if fields.get("pubDate"):
            raw["published_parsed"] = feedparser_date(fields["pubDate"])
        if fields.get(_DC_DATE):
            raw["updated_parsed"] = feedparser_date(fields[_DC_DATE])
        items.append(raw)
    return items


_WIDE = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
         (b"\xfe\xff", "utf-16-be"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
         (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"))
_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


def _widths_to_utf8(body: bytes) -> bytes:
    """UTF-16/32 bodies as UTF-8, so that entity stripping and charset sniffing (ASCII patterns) see them."""
    for prefix, codec in _WIDE:
        if body.startswith(prefix):
            text = body.decode(codec, errors="replace").lstrip("\ufeff")
            return _DECLARED_ENCODING.sub(r"\1", text, count=1).encode("utf-8")
    return body


def _sniff_charset(body: bytes) -> str:
    """utf-8 when the bytes are valid UTF-8, else the Arabic code page they read best in."""
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    text = decode_html(body, {})
    for name in ("cp1256", "iso8859_6"):
        if body.decode(name, errors="replace") == text:
            return "windows-1256" if name == "cp1256" else "iso-8859-6"
    return "windows-1252"


RSS = register(SourceKind(
    "rss",
    # RSS 2.0, Atom and RDF are all read by this module; servers that negotiate get a feed type first.
    accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1",
    parse=parse_feed,
))
