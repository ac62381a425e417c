"""The pipeline's data: frozen records passed between stages (and, as JSON dicts, between tasks)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

MentionKind = Literal["region", "place", "actor"]
# How a mention was recognised: by its name, a nisba/demonym form, a capital used as metonym,
# a place inside the region, a role title ("الرئيس الروسي"), or a one-edit typo of a long name.
MentionHow = Literal["name", "nisba", "capital", "place", "role", "typo"]
ArticleSource = Literal["page", "feed_description", "text"]


@dataclass(frozen=True)
class FeedSource:
    """A feed the user configured."""

    id: str
    url: str
    name: str
    interval_s: int = 300
    fetch_pages: bool = True
    lang: str = "ar"
    ignore_robots: bool = False
    min_interval_s: int = 120
    max_interval_s: int = 7200
    kind: str = "rss"  # the source kind (feeds/ingest/sources/) that reads it


@dataclass(frozen=True)
class Entry:
    """One item of a parsed feed, before its page is fetched."""

    feed_id: str
    url: str
    guid: str
    title: str
    summary: str
    published: str | None = None  # ISO 8601, UTC, when the feed gave one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(**data)


@dataclass(frozen=True)
class Article:
    """The text Marsad classifies: title and body, with where the body came from."""

    url: str
    title: str
    text: str
    feed_id: str = ""
    published: datetime | None = None
    source: ArticleSource = "text"
    lang: str = "ar"
    note: str = ""  # e.g. why the feed description was used instead of the page

    @property
    def document(self) -> str:
        """The single string that mention offsets refer to: title, a blank line, then the text."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text

    @property
    def title_end(self) -> int:
        """Offset in `document` where the title ends."""
        return len(self.title)


@dataclass(frozen=True)
class Mention:
    """One occurrence of a gazetteer entity in `Article.document` (character offsets, end exclusive)."""

    kind: MentionKind
    id: str
    start: int
    end: int
    surface: str
    how: MentionHow = "name"


@dataclass(frozen=True)
class EntityHit:
    """An entity found in an article, aggregated over its mentions, with a rank score."""

    id: str
    name: str
    mentions: int
    score: float = 0.0
    name_ar: str = ""
    country: str | None = None  # for places and actors that belong to a country


@dataclass(frozen=True)
class Classification:
    """What the classifier found: ranked regions, places, actors and every mention with its offsets."""

    regions: tuple[EntityHit, ...] = ()
    places: tuple[EntityHit, ...] = ()
    actors: tuple[EntityHit, ...] = ()
    mentions: tuple[Mention, ...] = field(default=())

    def ids(self, kind: MentionKind) -> set[str]:
        hits = {"region": self.regions, "place": self.places, "actor": self.actors}[kind]
        return {h.id for h in hits}


@dataclass(frozen=True)
class Span:
    """A piece of evidence: character offsets in `Article.document` and the text there."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class WatchMatch:
    """A watch that fired on an article, with the spans that made it fire."""

    watch_id: str
    evidence: tuple[Span, ...] = ()
    relevance: float | None = None  # the watch's relevance model's probability, when one decided (feeds.relevance)


Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Watch:
    """A user's watch: a query in the watchlist language and where its alerts go."""

    id: str
    name: str
    query: str
    notify: tuple[str, ...] = ()
    severity: Severity = "medium"
    follow_ups: bool = False
    min_mentions: int = 1  # how many matches of the query's terms the article must hold
    threshold: float | None = None  # for weighted-term queries (term^w); None = plain boolean
    source: str = ""  # the file it came from, for error messages
    breaking: bool = False  # also alert a story that gains many outlets fast, and surges of its places/actors
    examples: str | None = None  # labelled examples (JSON lines, feeds.relevance.examples): absolute path


@dataclass(frozen=True)
class Alert:
    """Everything a sink needs to render one alert; built from JSON, so only plain values."""

    watch_id: str
    watch_name: str
    severity: str
    story_id: str
    url: str
    title: str
    feed_id: str
    feed_name: str
    published: str | None  # ISO 8601
    regions: tuple[EntityHit, ...] = ()
    places: tuple[EntityHit, ...] = ()
    actors: tuple[EntityHit, ...] = ()
    sentence: str = ""  # the sentence holding the first evidence span
    highlights: tuple[tuple[int, int], ...] = ()  # offsets of the matches inside `sentence`
    outlets: int = 1  # how many outlets carried the story so far
    follow_up: bool = False  # a later outlet's copy of a story already alerted (watch `follow_ups: true`)
    breaking: bool = False  # the story reached BREAKING_OUTLETS outlets within BREAKING_HOURS of its first report
    console_url: str = ""  # the article's page in the console (web.public_url set), else ""

    @property
    def alert_id(self) -> str:
        """What a user quotes about this alert (`marsad feedback ID …`): one id per watch and story, the
        same on every sink and for its follow-ups."""
        return hashlib.blake2b(f"{self.watch_id}\0{self.story_id}".encode(), digest_size=5).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        d = dict(data)
        for key in ("regions", "places", "actors"):
            d[key] = tuple(EntityHit(**h) for h in d.get(key, ()))
        d["highlights"] = tuple(tuple(h) for h in d.get("highlights", ()))
        return cls(**d)
