"""Compiled watchlists: validate queries, index watches by required terms, match and explain articles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from feeds.errors import InvalidInput, did_you_mean
from feeds.models import Article, Classification, MentionKind, Span, Watch, WatchMatch
from feeds.query.evaluate import Doc, Result, evaluate
from feeds.query.explain import ExplainNode, Explanation
from feeds.query.syntax import Node, QueryError, parse_query, walk

# A trigger is a key that must occur in an article for a query to be able to match:
# ("w", stem) a word, ("p", prefix) a word prefix, ("e", "place:idlib") an entity, ("f", "feed:x") a filter.
Trigger = tuple[str, str]
# Evidence lists are for highlighting; past this many spans an alert has said enough.
MAX_EVIDENCE = 50


def triggers(node: Node) -> frozenset[Trigger] | None:
    """Keys of which at least one occurs in every article the node is true on; None when none can be named."""
    k = node.kind
    if k == "term":
        return frozenset({("p" if node.prefix else "w", node.words[0])})
    if k == "phrase":
        # Every word of a phrase is in the article's key set (inner words with or without the article);
        # the longest is likely the rarest.
        return frozenset({("w", max(node.words, key=len))})
    if k == "entity":
        return frozenset({("e", f"{node.field}:{node.value}")})
    if k == "filter":
        return frozenset({("f", f"{node.field}:{node.value.lower()}")})
    if k == "not":
        return None
    if k == "or":
        acc: set[Trigger] = set()
        for c in node.children:
            t = triggers(c)
            if t is None:
                return None
            acc |= t
        return frozenset(acc)
    # and, near, scope: every (positive) child must hold, so any one child's triggers suffice
    options = [t for c in node.children if (t := triggers(c)) is not None]
    return min(options, key=len) if options else None


@dataclass(frozen=True)
class _Compiled:
    watch: Watch
    root: Node


def _spans(doc: Doc, res: Result) -> tuple[Span, ...]:
    """The hits' character spans in document order, overlapping ones merged (a place mention inside the
    same word matched as a term is one piece of evidence, not two overlapping highlights)."""
    merged: list[list[int]] = []
    for a, b in sorted({s for h in res.hits for s in h.spans}):
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple(Span(a, b, doc.text[a:b]) for a, b in merged[:MAX_EVIDENCE])


class WatchSet:
    """Watches compiled once: parsed queries plus an inverted index from required keys to watches."""

    def __init__(self, compiled: Sequence[_Compiled], index: dict[Trigger, list[int]],
                 always: list[int]) -> None:
        self._compiled = list(compiled)
        self._by_id = {c.watch.id: i for i, c in enumerate(self._compiled)}
        self._always = always
        # Split by kind so an article's words are looked up as plain strings, with no key tuples built.
        self._words: dict[str, list[int]] = {k: v for (kind, k), v in index.items() if kind == "w"}
        self._prefixes: dict[int, dict[str, list[int]]] = {}
        for (kind, k), v in index.items():
            if kind == "p":
                self._prefixes.setdefault(len(k), {})[k] = v
        self._others: dict[str, list[int]] = {k: v for (kind, k), v in index.items() if kind in ("e", "f")}

    @property
    def watches(self) -> list[Watch]:
        return [c.watch for c in self._compiled]

    def __len__(self) -> int:
        return len(self._compiled)

    @classmethod
    def compile(cls, watches: Sequence[Watch], known_ids: Callable[[MentionKind], set[str]],
                feed_ids: set[str] | None = None) -> WatchSet:
        """Parse and check every query; raise QueryError (an InvalidInput) listing every problem, one per line.
        With `feed_ids` (the configured feeds), a `feed:` filter must name one of them too; without (a query typed
        into the console or backfill), any feed may be named, as the archive keeps feeds since removed."""
        problems: list[str] = []
        first: tuple[int, str] | None = None  # column and expectation of the first problem
        compiled: list[_Compiled] = []
        per_file: dict[str, int] = {}
        known: dict[str, set[str]] = {}
        for w in watches:
            i = per_file.get(w.source, 0)
            per_file[w.source] = i + 1
            # a watch from no file is a query typed in (console search, backfill --query): named by its id alone
            where = f"{w.source}: watches[{i}] {w.id}: query" if w.source else w.id
            try:
                root = parse_query(w.query)
            except QueryError as exc:
                problems.append(f"{where}: {exc.reason}")
                first = first or (exc.column, exc.expected)
                continue
            bad = False
            for node in walk(root):
                if node.kind == "filter" and node.field == "feed" and feed_ids is not None \
                        and node.value not in feed_ids:
                    bad = True
                    hint = did_you_mean(node.value, feed_ids) or f" ({len(feed_ids)} feeds configured)"
                    problems.append(f"{where}: column {node.column}: unknown feed id {node.value!r}{hint}")
                    first = first or (node.column, "a configured feed id")
                if node.kind != "entity":
                    continue
                kind: MentionKind = node.field  # type: ignore[assignment]
                if kind not in known:
                    known[kind] = set(known_ids(kind))
                ids = known[kind]
                if node.value in ids:
                    continue
                bad = True
                # with no close id, ten arbitrary ones would only mislead: say how to find the right one
                hint = did_you_mean(node.value, ids) or (
                    f"; none of the gazetteer's {len(ids):,} {kind} ids is close (`marsad classify` on an article "
                    "shows the ids it finds)" if ids else "; the gazetteer has none")
                problems.append(f"{where}: column {node.column}: unknown {kind} id {node.value!r}{hint}")
                first = first or (node.column, f"a known {kind} id")
            if not bad:
                compiled.append(_Compiled(w, root))
        if problems and first is not None:
            # Every line is "file: watches[i] id: query: column N: ..."; column/expected are the first's.
            raise QueryError("\n".join(problems), first[0], first[1])
        index: dict[Trigger, list[int]] = {}
        always: list[int] = []
        for n, c in enumerate(compiled):
            t = triggers(c.root)
            if t is None:
                always.append(n)
            else:
                for key in t:
                    index.setdefault(key, []).append(n)
        return cls(compiled, index, always)

    def candidates(self, doc: Doc) -> list[int]:
        """Indices of the watches whose required keys occur in the article (the rest cannot match)."""
        found: set[int] = set(self._always)
        words, by_key = self._words, doc.by_key
        small, big = (words, by_key) if len(words) < len(by_key) else (by_key, words)
        for w in small:
            if w in big:
                found.update(words[w])
        for n, table in self._prefixes.items():
            for w in by_key:
                hit = table.get(w[:n]) if len(w) >= n else None
                if hit:
                    found.update(hit)
        art = doc.article
        others = [f"{kind}:{eid}" for kind, eid in doc.entities]
        others += [f"feed:{art.feed_id.lower()}", f"lang:{art.lang.lower()}"]
        for key in others:
            hit = self._others.get(key)
            if hit:
                found.update(hit)
        return sorted(found)

    def _verdict(self, c: _Compiled, res: Result) -> tuple[bool, list[str]]:
        w = c.watch
        reasons: list[str] = []
        ok = res.value
        if not ok:
            reasons.append("the query is false on this article")
        mentions = len(res.hits)
        if ok and w.min_mentions > 1 and mentions < w.min_mentions:
            ok = False
            reasons.append(f"{mentions} mention(s), fewer than min_mentions {w.min_mentions}")
        if ok and w.threshold is not None and res.score < w.threshold:
            ok = False
            reasons.append(f"score {res.score:g} below threshold {w.threshold:g}")
        if ok:
            extra = f", score {res.score:g} ≥ threshold {w.threshold:g}" if w.threshold is not None else ""
            reasons.append(f"the query is true with {mentions} mention(s){extra}")
        return ok, reasons

    def match(self, article: Article, classification: Classification, doc: Doc | None = None
              ) -> list[WatchMatch]:
        """The watches that fire on the article, each with its evidence spans in `article.document` (`doc`: the
        article's Doc when the caller builds it anyway, for the relevance stage)."""
        doc = doc if doc is not None else Doc(article, classification)
        out: list[WatchMatch] = []
        for n in self.candidates(doc):
            c = self._compiled[n]
            res = evaluate(c.root, doc)
            ok, _ = self._verdict(c, res)
            if ok:
                out.append(WatchMatch(c.watch.id, _spans(doc, res)))
        return out

    def entities(self, watch_id: str) -> list[tuple[str, str]]:
        """The (kind, id) of every entity a watch's query names (region:SY, place:idlib …), in query order."""
        n = self._by_id.get(watch_id)
        if n is None:
            return []
        out: list[tuple[str, str]] = []
        for node in walk(self._compiled[n].root):
            if node.kind == "entity" and (node.field, node.value) not in out:
                out.append((node.field, node.value))
        return out

    def explain(self, watch_id: str, article: Article, classification: Classification) -> Explanation:
        """Evaluate one watch with every node recorded, whether or not the index would have skipped it."""
        if watch_id not in self._by_id:
            raise InvalidInput(f"unknown watch {watch_id!r}")
        n = self._by_id[watch_id]
        c = self._compiled[n]
        doc = Doc(article, classification)
        trace: dict[int, Result] = {}
        res = evaluate(c.root, doc, None, trace)
        ok, reasons = self._verdict(c, res)
        candidate = n in self.candidates(doc)

        def build(node: Node) -> ExplainNode:
            r = trace.get(id(node), Result(False))
            kids = tuple(build(k) for k in node.children)
            return ExplainNode(node.text, node.kind, r.value, _spans(doc, r), r.score, kids)

        tree = build(c.root)
        leaves: set[Span] = set()

        def collect(node: ExplainNode) -> None:
            if node.kind == "not":
                return
            if node.kind in ("term", "phrase", "entity"):
                leaves.update(node.spans)
            for k in node.children:
                collect(k)

        collect(tree)
        evidence = _spans(doc, res) if ok else ()
        highlights = evidence or tuple(sorted(leaves, key=lambda s: (s.start, s.end)))
        return Explanation(watch_id, c.watch.query, ok, tuple(reasons), tree, doc.text, evidence,
                           len(res.hits), c.watch.min_mentions, res.score, c.watch.threshold, candidate,
                           highlights)
