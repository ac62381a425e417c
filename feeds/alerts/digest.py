"""Digests and notices as data: alerts grouped by watch and story (with their outlets), and one-off notices."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from feeds.models import SEVERITY_ORDER, Alert

NoticeKind = Literal["throttle", "spike", "ops", "resolved"]


@dataclass(frozen=True)
class DigestStory:
    alert: Alert  # the story's first alert for this watch: title, link, time
    outlets: tuple[str, ...]  # display names of the outlets that carried the story
    articles: int


@dataclass(frozen=True)
class DigestWatch:
    watch_id: str
    watch_name: str
    severity: str
    stories: tuple[DigestStory, ...]


@dataclass(frozen=True)
class Digest:
    sink_id: str
    period_end: float  # Unix seconds: the boundary this digest is for
    tz: str
    watches: tuple[DigestWatch, ...]

    @property
    def key(self) -> str:
        """Stable per (sink, period): a re-sent digest carries the same Message-ID / delivery id."""
        return hashlib.sha256(f"{self.sink_id}\x1f{self.period_end:.0f}".encode()).hexdigest()[:32]

    @property
    def stories(self) -> int:
        return sum(len(w.stories) for w in self.watches)

    def when(self) -> str:
        return datetime.fromtimestamp(self.period_end, ZoneInfo(self.tz)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class Notice:
    """A one-off message: "N more in digest", a coverage spike, an ops problem or its resolution."""

    kind: NoticeKind
    title: str
    lines: tuple[str, ...]
    key: str  # stable id of the event (delivery id, Message-ID)
    severity: str = "medium"


StoryInfo = Callable[[str], "tuple[tuple[str, ...], int] | None"]


def build_digest(sink_id: str, period_end: float, tz: str, alerts: Iterable[Alert], story: StoryInfo) -> Digest:
    """Group alerts by watch, then story (one entry per story, its earliest alert); outlets and article
    counts come from `story(story_id)` (the story store), falling back to the alert's own feed."""
    by_watch: dict[str, dict[str, Alert]] = {}
    for a in alerts:
        stories = by_watch.setdefault(a.watch_id, {})
        old = stories.get(a.story_id)
        if old is None or (a.published or "~") < (old.published or "~"):
            stories[a.story_id] = a
    watches = []
    for stories in by_watch.values():
        items = []
        for a in stories.values():
            info = story(a.story_id)
            outlets, n = info if info else ((a.feed_name or a.feed_id,), max(1, a.outlets))
            items.append(DigestStory(a, tuple(outlets), n))
        items.sort(key=lambda s: (-len(s.outlets), -s.articles, s.alert.published or ""))
        first = next(iter(stories.values()))
        watches.append(DigestWatch(first.watch_id, first.watch_name, first.severity, tuple(items)))
    watches.sort(key=lambda w: (-SEVERITY_ORDER.get(w.severity, 0), w.watch_name))
    return Digest(sink_id, period_end, tz, tuple(watches))
