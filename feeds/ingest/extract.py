"""Page → Article: main text, title, date and canonical URL, or the feed's own description when the page fails."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import trafilatura
from requests.structures import CaseInsensitiveDict
from trafilatura.settings import use_config

from feeds.dedup.urls import site_host
from feeds.ingest.charset import decode_html
from feeds.ingest.links import link_tags
from feeds.models import Article, Entry
from feeds.nlp.arabic import normalize_words

# Below this many characters the "main text" is a cookie banner, a paywall stub or a video caption; the feed's
# description is then at least as informative, and classifying 80 characters of boilerplate would mislead.
MIN_TEXT_CHARS = 150
# trafilatura costs ~65 µs per element (measured: 50,000 <p> in 3.3 s, 300,000 in 22 s). Real article pages
# hold 500-2,000 tags (tests/fixtures/pages); 30,000 leaves room for inline SVG and long comment threads while
# bounding one page at ~2 s. Bigger pages are not extracted: the feed description is used and the note says so.
MAX_TAGS = 30_000
# Longer main text is cut here, with a note: the longest real article of the corpus (25,310 of them) is 21,119
# characters, and every later stage (classification, dedup, matching) is linear in the text, so the cap bounds
# one article's work whatever a page holds.
MAX_TEXT_CHARS = 100_000
# A page title longer than this is not a headline (the feed parser caps entry titles the same way).
MAX_TITLE_CHARS = 1_000
_CONFIG = use_config()
_CONFIG.set("DEFAULT", "MAX_TREE_SIZE", str(MAX_TAGS * 2))
_DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_HEAD_END = re.compile(r"</head\s*>", re.I)


def canonical_link(html: str, base: str) -> str | None:
    """The page's <link rel=canonical> as an absolute http(s) URL, if it is one we can trust.

    Not trusted: another host (syndication pointing at the original outlet is a different article record) and
    a bare home page (templates that stamp the site root on every article would merge them all into one).
    """
    end = _HEAD_END.search(html)
    head = html[: end.start()] if end else html[:200_000]
    for attrs in link_tags(head):
        if "canonical" not in attrs.get("rel", "").lower().split() or not attrs.get("href", "").strip():
            continue
        url = urljoin(base, str(attrs["href"]).strip())
        parts, base_parts = urlsplit(url), urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        if base_parts.hostname and site_host(parts.hostname) != site_host(base_parts.hostname):
            return None
        if parts.path in ("", "/") and not parts.query:
            return None
        return url
    return None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _best_date(page: str | None, entry: Entry | None) -> datetime | None:
    page_dt = _parse_date(page)
    feed_dt = _parse_date(entry.published) if entry else None
    if page_dt is None:
        return feed_dt
    # A page date with no time is htmldate's guess from text and URLs (a sidebar, a "related" box): the
    # feed's own timestamp, when there is one, is then the better record.
    date_only = page is not None and page.endswith("T00:00:00")
    if date_only and feed_dt is not None:
        return feed_dt
    return page_dt


def article_from_entry(entry: Entry, note: str) -> Article:
    """The feed's title and description as the article (pages off, page blocked, or page empty)."""
    return Article(url=entry.url, title=entry.title, text=entry.summary, feed_id=entry.feed_id,
                   published=_parse_date(entry.published), source="feed_description", note=note)


def without_title(text: str, title: str) -> str:
    """The text without a first line that only repeats the title (the page's <h1>, which trafilatura keeps):
    the article is the title, then the text, so each word of the headline counts once, for `min_mentions`
    and the mention counts that `why` and search show."""
    first, sep, rest = text.partition("\n")
    if title and sep and len(first) <= 2 * len(title) and normalize_words(first) == normalize_words(title):
        return rest.lstrip()
    return text


def extract_article(body: bytes, headers: Mapping[str, str], url: str, entry: Entry | None = None) -> Article:
    """Main text (trafilatura, precision first), title, date and trusted canonical URL of a fetched page."""
    ctype = str(CaseInsensitiveDict(headers).get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype and not (ctype.startswith("text/") or "html" in ctype or "xml" in ctype):
        why = f"page is {ctype[:60]}, not HTML"
        if entry is not None:
            return article_from_entry(entry, why)
        return Article(url=url, title="", text="", note=why, source="page")
    html = decode_html(body, headers)
    canonical = canonical_link(html, url) or url
    doc = None
    tags = html.count("<")
    if tags > MAX_TAGS:
        why = f"page too complex to extract ({tags} tags)"
        if entry is not None:
            return Article(url=canonical, title=entry.title, text=entry.summary, feed_id=entry.feed_id,
                           published=_parse_date(entry.published), source="feed_description", note=why)
        return Article(url=canonical, title="", text="", note=why, source="page")
    if html.strip():
        try:
            doc = trafilatura.bare_extraction(html, url=url, favor_precision=True, include_comments=False,
                                              with_metadata=True, config=_CONFIG,
                                              date_extraction_params=_DATE_PARAMS)
        except Exception:  # trafilatura/lxml on hostile markup; the feed text below is the honest fallback
            doc = None
    text = (getattr(doc, "text", None) or "").strip()
    title = (getattr(doc, "title", None) or "").strip() or (entry.title if entry else "")
    published = _best_date(getattr(doc, "date", None), entry)
    if len(text) < MIN_TEXT_CHARS and entry is not None and len(entry.summary) >= len(text):
        why = "no main text found on the page" if not text else f"page text too short ({len(text)} chars)"
        fallback = article_from_entry(entry, why)
        return Article(url=canonical, title=fallback.title or title, text=fallback.text, feed_id=entry.feed_id,
                       published=published, source="feed_description", note=why)
    text = without_title(text, title)
    note = ""
    if len(text) > MAX_TEXT_CHARS:
        note = f"text cut at {MAX_TEXT_CHARS:,} of {len(text):,} characters"
        text = text[:MAX_TEXT_CHARS]
    return Article(url=canonical, title=title[:MAX_TITLE_CHARS], text=text, feed_id=entry.feed_id if entry else "",
                   published=published, source="page", note=note)
