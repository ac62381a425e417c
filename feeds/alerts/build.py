"""Alerts from a processed article: one per matching watch, the sentence quoted as evidence, the fan-out to
sinks, and the follow-up rule ("also reported by …" once per new outlet)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from feeds.dedup.story import StoryAssignment
from feeds.models import Alert, Article, Classification, Entry, FeedSource, Span, Watch, WatchMatch

# A stop ends a sentence only before a space or the end: "3.5", "<!here>" and "www.x.org" go on.
_SENTENCE_END = re.compile(r"[.!?؟](?=\s|$)|\n")
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
    cut_start = first.start - MAX_SENTENCE // 2 > start
    start = max(start, first.start - MAX_SENTENCE // 2)
    cut_end = max(first.end + MAX_SENTENCE // 2, start + MAX_SENTENCE) < end
    end = min(end, max(first.end + MAX_SENTENCE // 2, start + MAX_SENTENCE))
    # A cut sentence starts and ends on a word, marked "…": half a word reads as a different one in Arabic.
    if cut_start:
        space = text.find(" ", start, first.start)
        start = space + 1 if space >= 0 else start
    if cut_end:
        space = text.rfind(" ", first.end, end)
        end = space if space >= 0 else end
    raw = text[start:end]
    lead = len(raw) - len(raw.lstrip())
    prefix = "…" if cut_start else ""
    sentence = prefix + raw.strip() + ("…" if cut_end else "")
    shift = start + lead - len(prefix)
    marks = tuple(sorted((s.start - shift, s.end - shift) for s in spans if s.start >= start and s.end <= end))
    return sentence, marks


def build_alert(watch: Watch, match: WatchMatch, article: Article, classification: Classification,
                story: StoryAssignment, feed: FeedSource, entry: Entry) -> Alert:
    """Everything a sink renders, as plain values (it travels as JSON to the alert queue)."""
    sentence, marks = sentence_around(article.document, match.evidence)
    published = article.published.isoformat() if article.published else entry.published
    c = classification
    return Alert(
        watch_id=watch.id, watch_name=watch.name, severity=watch.severity, story_id=story.story_id,
        url=article.url or entry.url, title=article.title or entry.title, feed_id=feed.id, feed_name=feed.name,
        published=published, regions=c.regions[:8], places=c.places[:8], actors=c.actors[:8],
        sentence=sentence, highlights=marks, outlets=len(story.outlets),
    )


def fan_out(alert: Alert, watch: Watch, copy: bool, follows: Callable[[str], bool],
            breaking: bool = False) -> list[tuple[Alert, str]]:
    """(alert, sink) for each sink the watch notifies; for a copy of a story (another outlet's report),
    also a follow-up to the sinks that show follow-ups, when the watch asks for them (`follow_ups: true`);
    and a breaking alert when the story is breaking and the watch asks (`breaking: true`). The alert ledger
    turns a copy's own alert into "already sent", and sends each follow-up and breaking alert once."""
    out = []
    for sink_id in watch.notify:
        out.append((alert, sink_id))
        if copy and watch.follow_ups and follows(sink_id):
            out.append((replace(alert, follow_up=True), sink_id))
        if breaking and watch.breaking:
            out.append((replace(alert, breaking=True), sink_id))
    return out


# Breaking: a story reported by this many outlets within this many hours of its first report. Measured on the
# corpus (bench/breaking_eval.py: which stories the rule flags): five outlets is every outlet of the corpus, so
# 4 within 3 h keeps to the news nearly all of them ran at once (a plane crash, an election result, an attack
# in Paris): 18 stories in 262 days; 3 within 3 h flagged 116, 4 within 6 h 31 (stories that grew over a day).
BREAKING_OUTLETS = 4
BREAKING_HOURS = 3.0


def breaking_now(story: StoryAssignment, now: float) -> bool:
    """The story has BREAKING_OUTLETS outlets or more, and its first report is at most BREAKING_HOURS old
    (every later article of that span says so again; the ledger sends the breaking alert once)."""
    return (len(story.outlets) >= BREAKING_OUTLETS and story.first_seen is not None
            and now - story.first_seen <= BREAKING_HOURS * 3600)


def nothing_new(alert: Alert) -> bool:
    """A follow-up from the story's only outlet so far (the same outlet again) tells the reader nothing."""
    return alert.follow_up and alert.outlets <= 1


def ledger_story(alert: Alert) -> str:
    """The story part of the alert's ledger key: one follow-up per (watch, story, outlet, sink); the story's
    first alert has its own key."""
    if alert.breaking:
        return f"{alert.story_id}:breaking"
    return f"{alert.story_id}:also:{alert.feed_id}" if alert.follow_up else alert.story_id
