"""Relevance features: article-level work once per article (`prepare`), cheap per-watch features on top.

`prepare(article, classification)` builds the query language's view of the article (feeds.query.evaluate.Doc:
tokens normalised by feeds.nlp.arabic, the project's one definition, and the classifier's entity positions) and
the *lexical* features every watch shares: words (every clitic reading, as query words match) and word pairs
(as two-word phrases match), the classifier's entities with their prominence. `features(prepared, match, view)`
adds the *structural* features of one watch (`WatchView`: its entities and the top-level parts of its query):
the query's evidence (how many spans, in title or lead, how early, how dense, how close), each part's own
occurrences (for `A AND B`: how often and where A occurs, and B), how prominent the watch's own entities are,
the article's length. The result is a `Features`, two mappings read side by side, so no watch copies the
article's few thousand shared features. Names are human-readable because the model's explanation shows them:
"word:هدنه" (normalised, ة → ه), "pair:وقف اطلاق", "entity_top:region:LY", "evidence_in_title", "part1_count",
"watch_entity_share:region:TR".
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from feeds.models import Article, Classification, EntityHit, WatchMatch
from feeds.nlp.arabic import stem_candidates, tokenize
from feeds.nlp.classify import LEAD_CHARS
from feeds.query.evaluate import Doc
from feeds.query.syntax import Node, bare, parse_query

# Bump when a feature's name or value changes: a cached model trained on other features is then retrained.
FEATURE_VERSION = 3
# Words looked at per article for lexical features: ~30 KB of text, longer than 99% of news articles (the
# longest ANT text has ~3,000 words). Bounds the per-article cost of a pasted book or a page of navigation.
MAX_TOKENS = 5_000
# Evidence spans looked at per watch (WatchSet keeps at most MAX_EVIDENCE = 50 already).
MAX_SPANS = 50
# Documents longer than this many words count as this long for `length`: beyond it length says nothing more.
LENGTH_SCALE = 5_000
# Evidence spans this many words apart or closer count as "together" (a clause); `evidence_close` decays past it.
CLOSE_WORDS = 10
# Top-level parts of a query given features of their own; a query of more parts is a list of alternatives
# whose later parts add little (and a pasted 500-term OR must not cost 500 evaluations per article).
MAX_PARTS = 6
# Name prefixes of the lexical features (article words and entities, shared by all watches); every other
# feature is structural (per watch: evidence, parts, the watch's entities, length). A model may use either set.
LEXICAL = ("word:", "pair:", "entity:", "entity_top:", "entity_title:", "evidence:")


def is_lexical(name: str) -> bool:
    return name.startswith(LEXICAL)


class Features:
    """The features of one (article, watch): the article's shared mapping and the watch's own, read together."""

    __slots__ = ("own", "shared")

    def __init__(self, shared: Mapping[str, float], own: Mapping[str, float]) -> None:
        self.shared = shared
        self.own = own

    def items(self) -> Iterator[tuple[str, float]]:
        yield from self.shared.items()
        yield from self.own.items()

    def as_dict(self) -> dict[str, float]:
        """One plain dict (names never clash: shared names are lexical, own names are not)."""
        return {**self.shared, **self.own}


@dataclass(frozen=True, slots=True)
class EntityStat:
    """How prominent one entity is in the article: rank in its kind (0 = first), mentions, share of the
    kind's rank score, and whether it is named in the title or the lead."""

    rank: int
    mentions: int
    share: float
    in_title: bool
    in_lead: bool


@dataclass(frozen=True)
class Prepared:
    """An article's watch-independent part: the query language's Doc, shared features, lead, entities."""

    doc: Doc
    lexical: bool  # whether `shared` holds the lexical features (`prepare(..., lexical=True)`)
    shared: Mapping[str, float]
    n_tokens: int
    starts: tuple[int, ...]  # character offset in `Article.document` of each token
    lead_end: int  # character offset in `Article.document`
    entities: Mapping[tuple[str, str], EntityStat]
    mention_starts: tuple[int, ...]  # sorted start offsets of the entity occurrences the query language sees
    mention_keys: tuple[frozenset[tuple[str, str]], ...]  # the (kind, id) found at each of them


@dataclass(frozen=True)
class Part:
    """A top-level part of a watch's query, by what recognises its evidence: the words it names (terms, the
    first word of phrases), its prefixes and its entities (positive ones: what NOT names never is evidence)."""

    text: str
    words: frozenset[str]
    prefixes: tuple[str, ...]
    entities: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class WatchView:
    """What the features need of a watch, computed once when it is loaded: the (kind, id) of the entities its
    query names (`WatchSet.entities`) and the top-level parts of its query (`query_parts`)."""

    entities: tuple[tuple[str, str], ...]
    parts: tuple[Part, ...]


def _part(node: Node) -> Part:
    words: set[str] = set()
    prefixes: list[str] = []
    entities: set[tuple[str, str]] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == "not":
            continue
        if n.kind == "term":
            (prefixes.append(n.words[0]) if n.prefix else words.add(n.words[0]))
        elif n.kind == "phrase":
            words.add(n.words[0])
        elif n.kind == "entity":
            entities.add((n.field, n.value))
        stack.extend(n.children)
    return Part(node.text, frozenset(words), tuple(prefixes), frozenset(entities))


def query_parts(query: str | Node) -> tuple[Part, ...]:
    """The parts of a query that get features of their own: the operands of a top-level AND, OR or NEAR (so
    "part1" of `(A NEAR/8 B) AND C` is the A–B pair, part2 is C), else the whole query; at most MAX_PARTS.
    A part's occurrences are the evidence spans it recognises (no second evaluation of the query)."""
    root = parse_query(query) if isinstance(query, str) else query
    parts = root.children if root.kind in ("and", "or", "near") else (root,)
    return tuple(_part(p) for p in parts if p.kind != "not")[:MAX_PARTS]


def _entity_stats(c: Classification, title_end: int, lead_end: int) -> dict[tuple[str, str], EntityStat]:
    title: set[tuple[str, str]] = set()
    lead: set[tuple[str, str]] = set()
    for m in c.mentions:
        if m.start < title_end:
            title.add((m.kind, m.id))
        if m.start < lead_end:
            lead.add((m.kind, m.id))
    out: dict[tuple[str, str], EntityStat] = {}
    kinds: tuple[tuple[str, tuple[EntityHit, ...]], ...] = (
        ("region", c.regions), ("place", c.places), ("actor", c.actors))
    for kind, hits in kinds:
        total = sum(h.score for h in hits) or 1.0
        for rank, h in enumerate(hits):
            key = (kind, h.id)
            out[key] = EntityStat(rank, h.mentions, h.score / total, key in title, key in lead)
    return out


def prepare(article: Article, classification: Classification, lexical: bool = False, doc: Doc | None = None
            ) -> Prepared:
    """The article-level work, done once however many watches look at the article. The lexical features
    (thousands per article) are built only when asked for: only a model trained on them (`RelevanceModel.lexical`)
    needs them. `doc`: the query language's Doc of the article when the caller has it (building it is most of
    the cost)."""
    doc = doc if doc is not None else Doc(article, classification)
    title_end = article.title_end if article.title else 0
    # The classifier's lead (its rank weights): the title and about two sentences of text.
    lead_end = (title_end + 2 if article.title else 0) + LEAD_CHARS
    stats = _entity_stats(classification, title_end, lead_end)
    shared = _lexical(doc, stats) if lexical else {}
    at: dict[int, set[tuple[str, str]]] = {}
    for key, hits in doc.entities.items():  # includes a region found through a place inside it, as queries do
        for h in hits:
            at.setdefault(h.spans[0][0], set()).add(key)
    starts = sorted(at)
    return Prepared(doc, lexical, shared, len(doc.tokens), tuple(t.start for t in doc.tokens), lead_end, stats,
                    tuple(starts), tuple(frozenset(at[a]) for a in starts))


def _lexical(doc: Doc, stats: Mapping[tuple[str, str], EntityStat]) -> dict[str, float]:
    shared: dict[str, float] = {}
    # Every clitic reading of every word, as a query word would match it (Doc.by_key holds exactly those).
    for key, positions in doc.by_key.items():
        if positions[0] < MAX_TOKENS:
            shared["word:" + key] = 1.0
    # A pair is a word with any clitic stripped, then the next with its article optional: what a two-word
    # phrase of the query language matches ("وقف إطلاق" on لوقف الإطلاق).
    tokens = doc.tokens[:MAX_TOKENS]
    for i in range(1, len(tokens)):
        second = bare(tokens[i].norm)
        for first in stem_candidates(tokens[i - 1].norm):
            shared[f"pair:{first} {second}"] = 1.0
    for (kind, eid), st in stats.items():
        name = f"{kind}:{eid}"
        shared["entity:" + name] = math.log1p(st.mentions)
        if st.rank == 0:
            shared["entity_top:" + name] = 1.0
        if st.in_title:
            shared["entity_title:" + name] = 1.0
    return shared


def _evidence_keys(text: str) -> tuple[str, ...]:
    """The names of one evidence span: every clitic reading of its first word, the rest without article."""
    toks = tokenize(text)
    if not toks:
        return ()
    rest = " ".join(bare(t.norm) for t in toks[1:])
    return tuple(f"{c} {rest}" if rest else c for c in stem_candidates(toks[0].norm))


def _evidence(prepared: Prepared, match: WatchMatch, own: dict[str, float]) -> None:
    spans = match.evidence[:MAX_SPANS]
    if not spans:
        return
    doc, n = prepared.doc, max(prepared.n_tokens, 1)
    positions = [bisect.bisect_right(prepared.starts, s.start) - 1 for s in spans]
    own["evidence_spans"] = math.log1p(len(spans))
    own["evidence_in_title"] = float(any(s.start < doc.article.title_end for s in spans) and bool(doc.article.title))
    own["evidence_in_lead"] = float(any(s.start < prepared.lead_end for s in spans))
    own["evidence_first_pos"] = min(max(positions[0], 0) / n, 1.0)
    # spans per 100 words (capped at 10), so a long article with one mention reads as thin evidence
    own["evidence_density"] = min(len(spans) * 100 / n, 10.0) / 10.0
    if len(spans) > 1:
        gap = min(b - a for a, b in itertools.pairwise(positions))
        own["evidence_close"] = CLOSE_WORDS / (CLOSE_WORDS + max(gap, 0))
    if prepared.lexical:
        counts: dict[str, int] = {}
        for s in spans:
            for key in _evidence_keys(s.text):
                counts[key] = counts.get(key, 0) + 1
        for key, k in counts.items():
            own["evidence:" + key] = math.log1p(k)


def _parts(prepared: Prepared, match: WatchMatch, parts: tuple[Part, ...], own: dict[str, float]) -> None:
    """Per part: how many evidence spans it recognises, whether the first is in the title or lead, density."""
    doc, n = prepared.doc, max(prepared.n_tokens, 1)
    toks, starts, m_starts, m_keys = doc.tokens, prepared.starts, prepared.mention_starts, prepared.mention_keys
    title_end = doc.article.title_end if doc.article.title else 0
    counts = [0] * len(parts)
    first = [-1] * len(parts)
    for s in match.evidence[:MAX_SPANS]:
        cands: set[str] = set()
        i = max(bisect.bisect_right(starts, s.start) - 1, 0)
        while i < len(toks) and toks[i].start < s.end:
            cands.update(stem_candidates(toks[i].norm))
            i += 1
        ents: set[tuple[str, str]] = set()
        j = bisect.bisect_left(m_starts, s.start)
        while j < len(m_starts) and m_starts[j] < s.end:
            ents |= m_keys[j]
            j += 1
        for k, part in enumerate(parts):
            if (ents & part.entities or not cands.isdisjoint(part.words)
                    or (part.prefixes and any(c.startswith(part.prefixes) for c in cands))):
                counts[k] += 1
                if first[k] < 0:
                    first[k] = s.start
    for k, c in enumerate(counts):
        if c:
            own[f"part{k + 1}_count"] = math.log1p(c)
            own[f"part{k + 1}_in_title"] = float(first[k] < title_end)
            own[f"part{k + 1}_in_lead"] = float(first[k] < prepared.lead_end)
            own[f"part{k + 1}_density"] = min(c * 100 / n, 10.0) / 10.0


def features(prepared: Prepared, match: WatchMatch, view: WatchView) -> Features:
    """The features of the article for one watch that matched it (`match` holds the query's evidence spans)."""
    own: dict[str, float] = {}
    _evidence(prepared, match, own)
    if view.parts:
        _parts(prepared, match, view.parts, own)
    stats = [(e, st) for e in view.entities if (st := prepared.entities.get(e)) is not None]
    if stats:
        own["watch_entity_top"] = float(any(st.rank == 0 for _, st in stats))
        own["watch_entity_title"] = float(any(st.in_title for _, st in stats))
        own["watch_entity_lead"] = float(any(st.in_lead for _, st in stats))
        own["watch_entity_share"] = max(st.share for _, st in stats)
    for (kind, eid), st in stats:
        own[f"watch_entity_share:{kind}:{eid}"] = st.share
    own["length"] = math.log1p(min(prepared.n_tokens, LENGTH_SCALE)) / math.log1p(LENGTH_SCALE)
    return Features(prepared.shared, own)
