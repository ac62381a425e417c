"""Evaluate a parsed query on one article: token positions, clitic-aware term lookup, NEAR, scopes, scores."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from feeds.models import Article, Classification, MentionKind
from feeds.nlp.arabic import Token, stem_candidates, tokenize
from feeds.query.syntax import Node

_ARTICLE = "ال"


@dataclass(frozen=True)
class Hit:
    """One occurrence: first and last token index (inclusive) and the character spans that make it up."""

    first: int
    last: int
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Result:
    """A node's value on an article, its occurrences (empty for NOT and filters) and its weighted score."""

    value: bool
    hits: tuple[Hit, ...] = ()
    score: float = 0.0


FALSE = Result(False)


class Doc:
    """An article prepared for matching: tokens, a candidate-stem → positions index, entity positions."""

    def __init__(self, article: Article, classification: Classification) -> None:
        self.article = article
        self.text = article.document
        self.tokens: list[Token] = tokenize(self.text)
        self.by_key: dict[str, list[int]] = {}
        for i, tok in enumerate(self.tokens):
            for cand in stem_candidates(tok.norm):
                self.by_key.setdefault(cand, []).append(i)
        self._sorted_keys: list[str] | None = None
        self._starts = [t.start for t in self.tokens]
        self._ends = [t.end for t in self.tokens]
        self.title_end = self._tok_end(article.title_end) if article.title else 0
        self.lead_end = self._tok_end(self._lead_chars(article))
        self.entities: dict[tuple[str, str], list[Hit]] = {}
        self._add_entities(classification)

    @staticmethod
    def _lead_chars(article: Article) -> int:
        """End offset in `document` of the lead: the title plus the first non-empty paragraph of the text."""
        base = len(article.document) - len(article.text)
        text = article.text
        start = len(text) - len(text.lstrip())
        nl = text.find("\n", start)
        return base + (len(text) if nl < 0 else nl)

    def _tok_end(self, char_end: int) -> int:
        """Number of tokens that start before `char_end` (an exclusive token-index bound)."""
        return bisect.bisect_left(self._starts, char_end)

    def _add_entities(self, c: Classification) -> None:
        # A region matches by any form the classifier resolved to it, including a place inside it:
        # its mentions are region mentions plus mentions of places whose country is the region.
        place_country = {p.id: p.country for p in c.places if p.country}
        seen: set[tuple[str, str, int, int]] = set()
        for m in c.mentions:
            keys: list[tuple[MentionKind, str]] = [(m.kind, m.id)]
            if m.kind == "place" and m.id in place_country:
                keys.append(("region", str(place_country[m.id]).upper()))
            first = bisect.bisect_right(self._ends, m.start)  # first token ending after the start
            last = bisect.bisect_left(self._starts, m.end) - 1  # last token starting before the end
            if last < first:
                continue
            for kind, eid in keys:
                if (kind, eid, first, last) in seen:
                    continue
                seen.add((kind, eid, first, last))
                self.entities.setdefault((kind, eid), []).append(Hit(first, last, ((m.start, m.end),)))
        for hits in self.entities.values():
            hits.sort(key=lambda h: h.first)

    def keys_with_prefix(self, prefix: str) -> Iterable[str]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.by_key)
        i = bisect.bisect_left(self._sorted_keys, prefix)
        while i < len(self._sorted_keys) and self._sorted_keys[i].startswith(prefix):
            yield self._sorted_keys[i]
            i += 1

    def span(self, first: int, last: int) -> tuple[int, int]:
        return self.tokens[first].start, self.tokens[last].end


def _term_hits(node: Node, doc: Doc) -> list[Hit]:
    key = node.words[0]
    if node.prefix:
        positions = sorted({i for k in doc.keys_with_prefix(key) for i in doc.by_key[k]})
    else:
        positions = doc.by_key.get(key, [])
    return [Hit(i, i, (doc.span(i, i),)) for i in positions]


def _inner_ok(norm: str, key: str) -> bool:
    # Inside a phrase only the article may vary ("وقف اطلاق نار" = "وقف إطلاق النار"); other clitics
    # on inner words would make a different phrase ("وقف وإطلاق").
    return norm == key or norm == _ARTICLE + key


def _phrase_hits(node: Node, doc: Doc) -> list[Hit]:
    first, *rest = node.words
    out: list[Hit] = []
    n = len(doc.tokens)
    for i in doc.by_key.get(first, []):
        if i + len(rest) >= n:
            continue
        if all(_inner_ok(doc.tokens[i + 1 + j].norm, k) for j, k in enumerate(rest)):
            last = i + len(rest)
            out.append(Hit(i, last, (doc.span(i, last),)))
    return out


class _Nearest:
    """The hits of one side sorted two ways, so that for any hit the nearest non-overlapping one on each side
    (and whether any overlaps it) is found by bisection: NEAR costs O((a + b) log b), not O(a × b), so a
    long page cannot stall a worker (160 KB of text with a frequent word on each side took over a minute)."""

    def __init__(self, hits: tuple[Hit, ...]) -> None:
        self.by_first = sorted(hits, key=lambda h: (h.first, h.last, h.spans))
        self.firsts = [h.first for h in self.by_first]
        self.by_last = sorted(hits, key=lambda h: (h.last, h.first, h.spans))
        self.lasts = [h.last for h in self.by_last]
        self.max_last: list[int] = []  # max(last) over by_first[: i + 1]
        for h in self.by_first:
            self.max_last.append(max(h.last, self.max_last[-1]) if self.max_last else h.last)

    def overlaps(self, a: Hit) -> bool:
        """Some hit shares a token with `a` (starts at or before its end and ends at or after its start)."""
        j = bisect.bisect_right(self.firsts, a.last)
        return j > 0 and self.max_last[j - 1] >= a.first

    def nearest(self, a: Hit) -> tuple[int, Hit] | None:
        """(gap, hit) of the closest non-overlapping hit; on a tie the earlier one, as a left-to-right scan."""
        best: tuple[int, Hit] | None = None
        k = bisect.bisect_left(self.lasts, a.first) - 1  # the latest end before `a` starts
        if k >= 0:
            first_of_equal = bisect.bisect_left(self.lasts, self.lasts[k])
            left = self.by_last[first_of_equal]
            best = (a.first - left.last, left)
        j = bisect.bisect_right(self.firsts, a.last)  # the earliest start after `a` ends
        if j < len(self.by_first):
            right = self.by_first[j]
            gap = right.first - a.last
            if best is None or gap < best[0]:
                best = (gap, right)
        return best


def _near(node: Node, doc: Doc, limit: int, trace: dict[int, Result] | None) -> Result:
    left, right = node.children
    n = node.distance
    if right.kind == "not" or left.kind == "not":
        pos, neg = (left, right) if right.kind == "not" else (right, left)
        rp = evaluate(pos, doc, limit, trace)
        if trace is not None:  # record the NOT node itself (document-wide value) for explanations
            evaluate(neg, doc, limit, trace)
        banned = _Nearest(evaluate(neg.children[0], doc, limit, trace).hits)
        # "A NEAR/n NOT B": the occurrences of A with no B within n words of them (or on them).
        kept = []
        for h in rp.hits:
            near = banned.nearest(h)
            if not banned.overlaps(h) and (near is None or near[0] > n):
                kept.append(h)
        hits = tuple(kept)
        return Result(bool(hits), hits, node.weight * len(hits) if hits else 0.0)
    ra = evaluate(left, doc, limit, trace)
    rb = evaluate(right, doc, limit, trace)
    if not (ra.value and rb.value):
        return FALSE
    others = _Nearest(rb.hits)
    pairs: list[Hit] = []
    for a in ra.hits:
        best = others.nearest(a)
        if best is not None and best[0] <= n:
            b = best[1]
            pairs.append(Hit(min(a.first, b.first), max(a.last, b.last), tuple(sorted({*a.spans, *b.spans}))))
    hits = _dedup(pairs)
    return Result(bool(hits), hits, node.weight * len(hits))


def _dedup(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    return tuple(sorted(set(hits), key=lambda h: (h.first, h.last, h.spans)))


def evaluate(node: Node, doc: Doc, limit: int | None = None,
             trace: dict[int, Result] | None = None) -> Result:
    """Evaluate `node` on `doc`, counting tokens before `limit` only; record each node's result in `trace`."""
    lim = len(doc.tokens) if limit is None else limit
    res = _evaluate(node, doc, lim, trace)
    if trace is not None:
        trace[id(node)] = res
    return res


def _evaluate(node: Node, doc: Doc, limit: int, trace: dict[int, Result] | None) -> Result:
    kind = node.kind
    if kind in ("term", "phrase", "entity"):
        if kind == "term":
            raw = _term_hits(node, doc)
        elif kind == "phrase":
            raw = _phrase_hits(node, doc)
        else:
            raw = doc.entities.get((node.field, node.value), [])
        hits = tuple(h for h in raw if h.last < limit)
        return Result(bool(hits), hits, node.weight * len(hits))
    if kind == "filter":
        art = doc.article
        actual = art.feed_id if node.field == "feed" else art.lang
        return Result(actual.lower() == node.value.lower())
    if kind == "not":
        inner = evaluate(node.children[0], doc, limit, trace)
        return Result(not inner.value)
    if kind == "scope":
        bound = doc.title_end if node.field == "title" else doc.lead_end
        inner = evaluate(node.children[0], doc, min(limit, bound), trace)
        return Result(inner.value, inner.hits, node.weight * inner.score) if inner.value else FALSE
    if kind == "near":
        return _near(node, doc, limit, trace)
    results: list[Result] = []
    for c in node.children:
        r = evaluate(c, doc, limit, trace)
        results.append(r)
        if kind == "and" and not r.value and trace is None:
            return FALSE  # short-circuit unless explaining, where every node's value is shown
    if kind == "and":
        if not all(r.value for r in results):
            return FALSE
        good = results
    else:  # or
        good = [r for r in results if r.value]
        if not good:
            return FALSE
    return Result(True, _dedup(h for r in good for h in r.hits), node.weight * sum(r.score for r in good))
