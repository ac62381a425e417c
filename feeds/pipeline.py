"""The flow of each unit of work, written once: poll a feed; turn an entry into a classified, matched article."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from feeds.classify import Classifier
from feeds.dedup import StoryAssignment, StoryStore, canonical_url, sketch, text_fingerprint
from feeds.errors import HostBusy, Permanent, Transient
from feeds.extract import article_from_entry, extract_article
from feeds.http import FetchResult
from feeds.models import Alert, Article, Classification, Entry, FeedSource, Span, Watch, WatchMatch
from feeds.parse import parse_feed
from feeds.query import WatchSet


class Fetch(Protocol):
    def __call__(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult: ...


PollStatus = Literal["ok", "not_modified", "failed"]


@dataclass(frozen=True)
class PollResult:
    """What one poll of one feed gave; `error`/`retry_after` say why and when, if it failed."""

    status: PollStatus
    entries: tuple[Entry, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    http_status: int | None = None
    error: str | None = None
    transient: bool = False
    retry_after: float | None = None


def _charset(headers: Mapping[str, str]) -> str | None:
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", ctype, re.IGNORECASE)
    return m.group(1) if m else None


def poll(feed: FeedSource, fetch: Fetch, *, etag: str | None, last_modified: str | None,
         body_hash: str | None) -> PollResult:
    """Conditional GET, body-hash fallback (servers that ignore validators), then hardened parse."""
    try:
        res = fetch(feed.url, etag=etag, last_modified=last_modified)
    except HostBusy:
        raise  # our own politeness, not the feed's fault: the task retries later
    except Transient as exc:
        return PollResult("failed", error=exc.reason, transient=True, retry_after=exc.retry_after)
    except Permanent as exc:
        return PollResult("failed", error=exc.reason)
    if res.not_modified:
        return PollResult("not_modified", etag=etag, last_modified=last_modified, body_hash=body_hash,
                          http_status=res.status)
    digest = hashlib.sha256(res.body).hexdigest()
    if digest == body_hash:
        return PollResult("not_modified", etag=res.etag, last_modified=res.last_modified, body_hash=digest,
                          http_status=res.status)
    try:
        entries = parse_feed(res.body, feed, res.url, charset=_charset(res.headers))
    except Permanent as exc:
        return PollResult("failed", error=exc.reason, http_status=res.status)
    return PollResult("ok", tuple(entries), res.etag, res.last_modified, digest, res.status)


def load_article(entry: Entry, feed: FeedSource, fetch: Fetch) -> Article:
    """The page's text, or the feed's description when pages are off or the page cannot be had."""
    if not feed.fetch_pages:
        return article_from_entry(entry, "fetch_pages is off for this feed")
    try:
        res = fetch(entry.url)
    except HostBusy:
        raise  # retry the article later rather than settle for the feed description
    except (Transient, Permanent) as exc:
        return article_from_entry(entry, f"page not fetched: {exc.reason}")
    return extract_article(res.body, res.headers, res.url, entry)


def article_id(url: str) -> str:
    """A short stable id for an article: 16 hex of its canonical URL's hash.

    Short ids keep the story index under 300 bytes per article (Arabic URLs run to ~280 characters);
    the `article_processed` log line pairs each id with its URL.
    """
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]


ArticleOutcome = Literal["new", "duplicate", "near_duplicate", "dropped"]


@dataclass(frozen=True)
class ArticleResult:
    """One entry's outcome: exactly one of these per entry, counted once."""

    outcome: ArticleOutcome
    article: Article | None = None
    story: StoryAssignment | None = None
    classification: Classification = field(default_factory=Classification)
    matches: tuple[WatchMatch, ...] = ()
    reason: str = ""
    article_id: str = ""


def process(entry: Entry, feed: FeedSource, *, fetch: Fetch, classifier: Classifier, watchset: WatchSet,
            stories: StoryStore, now: float) -> ArticleResult:
    """fetch page → extract → dedup into a story → classify → match watches."""
    article = load_article(entry, feed, fetch)
    if not (article.title.strip() or article.text.strip()):
        return ArticleResult("dropped", article, reason="no title and no text")
    aid = article_id(article.url or entry.url)
    story = stories.assign(aid, feed.id,
                           text_fingerprint(article.document), sketch(article.document), now)
    # Duplicates are classified and matched too: the alert ledger keeps them from alerting again, and a
    # copy from another outlet is what a watch's follow-ups ("also reported by …") are made of.
    classification = classifier.classify(article)
    matches = tuple(watchset.match(article, classification))
    reason = f"duplicate of {story.duplicate_of}" if story.duplicate_of else ""
    return ArticleResult(story.outcome, article, story, classification, matches, reason, aid)


_SENTENCE_END = re.compile(r"[.!?؟\n]")
# Alerts quote one sentence; cap it so a page without punctuation does not quote the whole text.
MAX_SENTENCE = 400


def sentence_around(text: str, spans: Sequence[Span]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The sentence holding the first span, and every span inside it as offsets relative to it."""
    if not spans:
        return "", ()
    first = min(spans, key=lambda s: s.start)
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, first.start)), default=0)
    end_m = _SENTENCE_END.search(text, first.end)
    end = end_m.end() if end_m else len(text)
    start = max(start, first.start - MAX_SENTENCE // 2)
    end = min(end, max(first.end + MAX_SENTENCE // 2, start + MAX_SENTENCE))
    raw = text[start:end]
    lead = len(raw) - len(raw.lstrip())
    sentence = raw.strip()
    marks = tuple(sorted((s.start - start - lead, s.end - start - lead) for s in spans
                         if s.start >= start and s.end <= end))
    return sentence, marks


def build_alert(watch: Watch, match: WatchMatch, result: ArticleResult, feed: FeedSource,
                entry: Entry) -> Alert:
    """Everything a sink renders, as plain values (it travels as JSON to the alert queue)."""
    assert result.article is not None and result.story is not None
    article = result.article
    sentence, marks = sentence_around(article.document, match.evidence)
    published = article.published.isoformat() if article.published else entry.published
    c = result.classification
    return Alert(
        watch_id=watch.id, watch_name=watch.name, severity=watch.severity, story_id=result.story.story_id,
        url=article.url or entry.url, title=article.title or entry.title, feed_id=feed.id, feed_name=feed.name,
        published=published, regions=c.regions[:8], places=c.places[:8], actors=c.actors[:8],
        sentence=sentence, highlights=marks, outlets=len(result.story.outlets),
    )


def alerts_for(result: ArticleResult, watches: Callable[[str], Watch | None], feed: FeedSource,
               entry: Entry) -> list[Alert]:
    out: list[Alert] = []
    for m in result.matches:
        w = watches(m.watch_id)
        if w is not None:
            out.append(build_alert(w, m, result, feed, entry))
    return out
