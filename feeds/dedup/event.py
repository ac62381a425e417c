"""Events: what an article reports, as compact weighted vectors (content words, title words, entities), how
it scores against an open story, and the online clustering rule (its Redis twin: workers/stores/events_lua.py)."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from feeds.dedup.lead import LEAD_WORDS, TITLE_WORDS, content_words
from feeds.models import Article, Classification

# Terms are stored as 3-byte hashes (24 bits): ~200,000 distinct stems in a year of news collide in pairs
# ~1 in 80 stems, each collision adding at most one spurious shared term to a comparison, below what moves a
# score; 3 bytes instead of 4 keep a story's record small (docs/dedup.md, memory).
TERM_BYTES = 3
# A title word says most about the event (who did what), a lead word next; the rest of the body adds context.
TITLE_BOOST, LEAD_BOOST = 3.0, 2.0
# Kept per story: the heaviest content terms, title terms and entities (the rest of a 1,000-word article
# barely moves a cosine, and bounded vectors keep memory and comparison cost fixed per story).
CONTENT_TERMS, TITLE_TERMS, ENTITY_TERMS = 48, 12, 8
# Terms of an article that post it in the candidate index: its rarest salient words and its main entities.
# A story that shares none of them with an article is not compared at all (measured on the tuning pairs:
# bench/events_eval.py prints how many same-event pairs the index would miss).
POST_TERMS, POST_ENTITIES = 8, 3
# IDF smoothing: df of an unseen term is taken as this, so a typo or a new name is rare, not infinitely so.
DF_FLOOR = 1.0
# A term in at most one document in RARE_SHARE (df ≤ 30 of the 17,824 tuning-period articles): names,
# places, numbers of one story. How many of an article's rare terms a story holds is the score's fifth signal:
# two reports of one event share its rare names even in their own words (tuning pairs, bench/events_eval.py:
# 15, 30 and 60 compared; 30 chosen). Capped at RARE_CAP (more says nothing new).
RARE_SHARE = 600.0
RARE_CAP = 10
# Weights are kept in one byte (1/255 steps) in Redis; the pure twin rounds the same way, so both decide alike.
QUANT = 255.0

Vector = dict[int, float]  # term hash → weight; unit length once weighted by `finish`


def term_hash(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=TERM_BYTES).digest(), "big")


@dataclass(frozen=True)
class EventTerms:
    """An article's raw term frequencies (before IDF), hashed: what it sends to the store."""

    content: Mapping[int, float]
    title: Mapping[int, float]
    entities: Mapping[int, float]


def event_terms(article: Article, classification: Classification) -> EventTerms:
    """Stemmed content words (title ×3, lead ×2, body ×1), the title's words, and the classifier's entities
    weighted by their prominence (its own title/lead/body weights)."""
    title = article.title if len(article.title.split()) <= TITLE_WORDS else ""
    title_words = content_words(title)
    body = content_words(article.text)
    tf: dict[str, float] = {}
    for w in title_words:
        tf[w] = tf.get(w, 0.0) + TITLE_BOOST
    for i, w in enumerate(body):
        tf[w] = tf.get(w, 0.0) + (LEAD_BOOST if i < LEAD_WORDS else 1.0)
    ents: dict[str, float] = {}
    for kind, hits in (("region", classification.regions), ("place", classification.places),
                       ("actor", classification.actors)):
        for h in hits:
            ents[f"{kind}:{h.id}"] = h.score
    titles = Counter(title_words)
    return EventTerms(_hashed(tf.items()), _hashed((w, float(c)) for w, c in titles.items()), _hashed(ents.items()))


def _hashed(items: Iterable[tuple[str, float]]) -> dict[int, float]:
    out: dict[int, float] = {}
    for t, w in items:
        h = term_hash(t)
        out[h] = out.get(h, 0.0) + w
    return out


def idf(df: float, n: float) -> float:
    """Smoothed inverse document frequency."""
    return math.log(1.0 + n / (max(df, 0.0) + DF_FLOOR))


def quantise(v: Mapping[int, float]) -> Vector:
    """Unit vector → weights in 1/255 steps (what Redis stores); zeros dropped."""
    out = {h: min(255, math.floor(x * QUANT + 0.5)) / QUANT for h, x in v.items()}
    return {h: x for h, x in out.items() if x > 0}


def unit_top(v: Mapping[int, float], keep: int) -> Vector:
    """The `keep` heaviest terms (ties by hash), unit length, quantised."""
    top = dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])
    norm = math.sqrt(sum(x * x for x in top.values())) or 1.0
    return quantise({h: x / norm for h, x in top.items()})


def weigh(tf: Mapping[int, float], df: Callable[[int], float], n: float, keep: int) -> Vector:
    """Sublinear TF × IDF, the `keep` heaviest terms, unit length."""
    return unit_top({h: (1.0 + math.log(c)) * idf(df(h), n) for h, c in tf.items() if c > 0}, keep)


def cosine(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    small, big = (a, b) if len(a) <= len(b) else (b, a)
    return sum(x * big.get(h, 0.0) for h, x in small.items())


@dataclass(frozen=True)
class EventVector:
    """An article as the clusterer compares it: three unit vectors, its rare terms, its time (Unix seconds)."""

    content: Vector
    title: Vector
    entities: Vector
    t: float
    rare: frozenset[int] = frozenset()

    def posting_keys(self) -> list[int]:
        """Its rarest salient content terms and main entities: where the candidate index files it."""
        words = sorted(self.content.items(), key=lambda kv: (-kv[1], kv[0]))[:POST_TERMS]
        ents = sorted(self.entities.items(), key=lambda kv: (-kv[1], kv[0]))[:POST_ENTITIES]
        return [h for h, _ in words] + [h for h, _ in ents]


def vectorise(terms: EventTerms, df: Callable[[int], float], n: float, t: float) -> EventVector:
    """The article under the given IDF; its time in whole seconds (as Redis keeps it)."""
    t = float(int(t))
    content = weigh(terms.content, df, n, CONTENT_TERMS)
    rare = frozenset(h for h in content if df(h) * RARE_SHARE <= n)
    return EventVector(content, weigh(terms.title, df, n, TITLE_TERMS), weigh(terms.entities, df, n, ENTITY_TERMS),
                       t, rare)


@dataclass
class Story:
    """An open story as the clusterer keeps it: summed member vectors (re-normalised when compared), first and
    last member times, and how many members."""

    content: dict[int, float] = field(default_factory=dict)
    title: dict[int, float] = field(default_factory=dict)
    entities: dict[int, float] = field(default_factory=dict)
    first: float = 0.0
    last: float = 0.0
    n: int = 0

    def add(self, v: EventVector) -> None:
        # Drift is bounded: a story of n members takes the next one at weight 1/(n+1)² against its unit
        # centroid, so the later members' weights add up to less than ζ(2) − 1 ≈ 0.64 however many join, and a
        # story cannot wander from the event it began with towards the follow-ups of a long news day.
        share = 1.0 if self.n == 0 else 1.0 / (self.n + 1) ** 2
        for mine, theirs, keep in ((self.content, v.content, CONTENT_TERMS), (self.title, v.title, TITLE_TERMS),
                                   (self.entities, v.entities, ENTITY_TERMS)):
            for h, x in theirs.items():
                mine[h] = mine.get(h, 0.0) + share * x
            merged = unit_top(mine, keep)
            mine.clear()
            mine.update(merged)
        self.first = v.t if self.n == 0 else min(self.first, v.t)
        self.last = max(self.last, v.t)
        self.n += 1


# The decision: a logistic score of five signals against 0, its weights fitted on the tuning pairs only
# (`bench/events_eval.py --fit` prints them; its bias is raised until tuning precision is ≥ 0.985). Hours are
# counted from the story's first report and capped: beyond MAX_HOURS an article is a new event whatever it says.
W_CONTENT, W_TITLE, W_ENTITIES, W_HOURS, W_RARE, BIAS = 2.29, 2.45, 1.75, -2.34, 1.64, -2.92
# Stories close: no member for IDLE_HOURS, or older than MAX_HOURS since their first report.
IDLE_HOURS = 24.0
MAX_HOURS = 48.0
# How long after one article another can still join the story it opened alone (open_for): for a pair, the
# window of `marsad why-same` and the pair evaluation.
PAIR_HOURS = min(IDLE_HOURS, MAX_HOURS)


@dataclass(frozen=True)
class Signals:
    """Each signal of one comparison, for `marsad why-same` and the evaluation."""

    content: float
    title: float
    entities: float
    hours: float
    rare: int  # the article's rare terms the story holds
    score: float

    @property
    def same(self) -> bool:
        return self.score >= 0.0


def signals(v: EventVector, s: Story) -> Signals:
    # Hours between the article and the story's first report, either way: reports arrive out of publication
    # order (outlets are polled at their own intervals), and a report published before the story's first one
    # is as close to it as one published after.
    hours = abs(v.t - s.first) / 3600.0
    c, t, e = cosine(v.content, s.content), cosine(v.title, s.title), cosine(v.entities, s.entities)
    rare = min(RARE_CAP, sum(1 for h in v.rare if h in s.content))
    score = (W_CONTENT * c + W_TITLE * t + W_ENTITIES * e + W_HOURS * min(hours, MAX_HOURS) / 24.0
             + W_RARE * rare / RARE_CAP + BIAS)
    return Signals(c, t, e, hours, rare, score)


def open_for(v: EventVector, s: Story) -> bool:
    """Whether the story can still take this article: published at most IDLE_HOURS after its last report or
    before its first one, and at most MAX_HOURS after its first (whatever order the reports arrive in)."""
    return (v.t - s.last) <= IDLE_HOURS * 3600 and (s.first - v.t) <= IDLE_HOURS * 3600 \
        and (v.t - s.first) <= MAX_HOURS * 3600


def best_story(v: EventVector, stories: Mapping[str, Story]) -> tuple[str | None, Signals | None]:
    """The open story this article joins (highest score, ties to the earliest story), or None."""
    best: tuple[float, str, Signals] | None = None
    for sid, s in sorted(stories.items(), key=lambda kv: (kv[1].first, kv[0])):
        if not open_for(v, s):
            continue
        sig = signals(v, s)
        if sig.same and (best is None or sig.score > best[0]):
            best = (sig.score, sid, sig)
    return (best[1], best[2]) if best else (None, None)


def pair_signals(a: EventVector, b: EventVector) -> Signals:
    """Article b against a story made of article a alone (the pair evaluation)."""
    first, second = (a, b) if a.t <= b.t else (b, a)
    s = Story()
    s.add(first)
    return signals(second, s)
