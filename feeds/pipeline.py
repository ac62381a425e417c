"""The flow of each unit of work, written once: poll a feed (and the feed state that follows from it); turn an
entry into a classified, matched article and its alerts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from feeds.alerts.build import build_alert
from feeds.dedup.event import event_terms
from feeds.dedup.fingerprint import sketch, text_fingerprint
from feeds.dedup.story import StoryAssignment, StoryStore
from feeds.dedup.urls import canonical_url
from feeds.errors import HostBusy, Permanent, Transient
from feeds.ingest import schedule, sources
from feeds.ingest.extract import article_from_entry, extract_article
from feeds.ingest.http import FetchResult
from feeds.models import Alert, Article, Classification, Entry, FeedSource, Watch, WatchMatch
from feeds.nlp.classify import Classifier
from feeds.query.evaluate import Doc
from feeds.query.watchset import WatchSet
from feeds.relevance.stage import Judge, judge


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
        entries = sources.get(feed.kind).parse(res.body, feed, res.url, charset=_charset(res.headers))
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


ArticleOutcome = Literal["new", "duplicate", "near_duplicate", "joined_event", "dropped"]


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
    vetoed: tuple[WatchMatch, ...] = ()  # matches of the query that the watch's relevance model judged irrelevant


def process(entry: Entry, feed: FeedSource, *, fetch: Fetch, classifier: Classifier, watchset: WatchSet,
            stories: StoryStore, now: float, judges: Mapping[str, Judge] | None = None) -> ArticleResult:
    """fetch page → extract → dedup into a story → classify → match watches → relevance (`judges`: the watches
    with an active relevance model, `feeds.relevance.stage`; a vetoed match alerts nothing)."""
    article = load_article(entry, feed, fetch)
    if not (article.title.strip() or article.text.strip()):
        return ArticleResult("dropped", article, reason="no title and no text")
    aid = article_id(article.url or entry.url)
    # Classified first: the event stage of the story store compares entities too. Copies are classified and
    # matched as well: the alert ledger keeps them from alerting again, and another outlet's report of a story
    # is what a watch's follow-ups ("also reported by …") are made of.
    classification = classifier.classify(article)
    story = stories.assign(aid, feed.id, text_fingerprint(article.document), sketch(article.document), now,
                           event_terms(article, classification),
                           article.published.timestamp() if article.published else None)
    doc = Doc(article, classification)  # one Doc for the query and the relevance model's features
    matches, vetoed = judge(watchset.match(article, classification, doc), article, classification, judges or {}, doc)
    reason = f"duplicate of {story.duplicate_of}" if story.duplicate_of else ""
    return ArticleResult(story.outcome, article, story, classification, matches, reason, aid, vetoed)


def alerts_for(result: ArticleResult, watches: Callable[[str], Watch | None], feed: FeedSource,
               entry: Entry) -> list[Alert]:
    """One alert per watch that matched (and still exists)."""
    if result.article is None or result.story is None:
        return []
    out: list[Alert] = []
    for m in result.matches:
        w = watches(m.watch_id)
        if w is not None:
            out.append(build_alert(w, m, result.article, result.classification, result.story, feed, entry))
    return out


def entry_key(entry: Entry) -> str:
    """What makes an entry "seen": its canonical URL, or its feed and guid when it has no link."""
    return canonical_url(entry.url) if entry.url else f"guid:{entry.feed_id}:{entry.guid}"


def new_item_times(old: str | None, entries: list[Entry], now: float) -> str:
    """Publication times of the newest items (discovery time when undated), for the feed's rhythm."""
    times = [float(t) for t in (old or "").split(",") if t]
    for e in entries:
        try:
            times.append(datetime.fromisoformat(e.published).timestamp() if e.published else now)
        except ValueError:
            times.append(now)
    return ",".join(f"{t:.0f}" for t in sorted(times)[-schedule.RHYTHM_ITEMS:])


def poll_state(feed: FeedSource, state: Mapping[str, str], result: PollResult, fresh: list[Entry],
               now: float) -> tuple[dict[str, object], float]:
    """The feed-state fields a poll changes, and the seconds until its next poll."""
    failed = result.status == "failed"
    fields: dict[str, object] = {"last_poll": now, "last_status": result.status, "last_new": len(fresh),
                                 "failures": int(state.get("failures") or 0) + 1 if failed else 0,
                                 "first_poll": state.get("first_poll") or now}
    if failed:
        fields |= {"last_error": result.error, "last_error_at": now, "permanent": int(not result.transient),
                   "retry_after": result.retry_after}
    else:
        fields |= {"last_success": now, "etag": result.etag, "last_modified": result.last_modified,
                   "body_hash": result.body_hash, "permanent": 0, "retry_after": None}
    if fresh:
        fields |= {"last_new_at": now, "new_item_times": new_item_times(state.get("new_item_times"), fresh, now)}
    interval = schedule.next_interval(feed, schedule.FeedState.from_mapping({**state, **fields}))
    fields["next_poll"] = now + interval
    return fields, interval
