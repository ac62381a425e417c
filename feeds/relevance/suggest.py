"""Query suggestions from labelled examples: words and phrases to add, query terms that mostly fire wrongly.

`suggest(examples, query)` is a pure function over the examples and the watch's query:

- `add`: words and two-word phrases of the relevant examples that the query does not already name (nor, given
  `classifications`, names through its entities: سوريا for region:SY), ranked by their log-odds in relevant
  against irrelevant stories (copies of one story count once). When `gated` says which examples the watch's
  query passes, the terms of relevant examples *outside* the gate come first (`missed` counts those
  stories): they are the misses only a wider query can fix.
- `drop`: the query's own words, phrases and entities that fire on at least as many irrelevant examples as
  relevant ones (the entities only when `classifications` are given, as the query language needs them).

Terms are compared as the query language matches them (feeds.query.evaluate: clitics stripped, article
optional), and given in query syntax: `هدنه`, `"وقف دائم"`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from feeds.models import Classification
from feeds.nlp.arabic import stem_candidates, tokenize
from feeds.query.evaluate import Doc, evaluate
from feeds.query.syntax import Node, bare, parse_query, walk
from feeds.relevance.examples import Example, example_article, story_key
from feeds.relevance.features import MAX_TOKENS

# A term must occur in at least this many relevant examples to be suggested: one article's wording is an
# anecdote (and a copy of one story counts again).
MIN_SUPPORT = 2
# Terms this short are clitic debris ("ان", "لا") or too common to make a query better.
MIN_LETTERS = 3
_EMPTY = Classification()


@dataclass(frozen=True)
class Suggestion:
    """A term and the examples it occurs in: relevant, irrelevant, and relevant ones outside the gate."""

    kind: Literal["add", "drop"]
    term: str  # in query syntax
    relevant: int
    irrelevant: int
    missed: int = 0


@dataclass(frozen=True)
class Suggestions:
    add: tuple[Suggestion, ...]
    drop: tuple[Suggestion, ...]


def _query_words(root: Node) -> tuple[set[str], tuple[str, ...]]:
    """The words a query names (terms and phrase words) and its prefixes."""
    words: set[str] = set()
    prefixes: list[str] = []
    for node in walk(root):
        if node.kind == "term" and node.prefix:
            prefixes.append(node.words[0])
        elif node.kind in ("term", "phrase"):
            words.update(node.words)
    return words, tuple(prefixes)


def _tokens(ex: Example) -> list[str]:
    return [t.norm for t in tokenize(f"{ex.title}\n\n{ex.text}")[:MAX_TOKENS]]


def _terms(norms: Sequence[str], vocabulary: set[str]) -> set[str]:
    """Every word (each clitic reading, without article) and word pair of an example, in query syntax.

    A reading counts only when the examples also use it as a word of its own (`vocabulary`): سوريا read as
    س + وريا, or وزير as و + زير, are not words anyone writes, and would be suggested as noise.
    """
    out: set[str] = set()
    prev: set[str] = set()
    for norm in norms:
        cands = {b for c in stem_candidates(norm) if len(b := bare(c)) >= MIN_LETTERS and b in vocabulary}
        out |= cands
        second = bare(norm)
        if len(second) >= MIN_LETTERS:
            out.update(f'"{first} {second}"' for first in prev)
        prev = cands
    return out


def _covered(term: str, words: set[str], prefixes: tuple[str, ...]) -> bool:
    """Whether suggesting `term` says nothing new: a word the query has, or a pair with one of its words
    ("ريف ادلب" beside إدلب: its news is the other word, suggested on its own if it counts), or a number or
    a pair with one ("2018", "اذار 2018": the date of the examples, not their matter)."""
    parts = term.strip('"').split()
    if any(p.isdigit() for p in parts):
        return True
    return any(p in words or p.startswith(prefixes) for p in parts)


def _entity_words(root: Node, classifications: Sequence[Classification]) -> set[str]:
    """The words by which the examples name the query's entities (سوريا for region:SY, and its places, as the
    query language counts them): region:SY already finds them, so suggesting them says nothing."""
    wanted = {(n.field, n.value) for n in walk(root) if n.kind == "entity"}
    out: set[str] = set()
    for c in classifications:
        country = {p.id: (p.country or "").upper() for p in c.places}
        for m in c.mentions:
            if (m.kind, m.id) in wanted or (m.kind == "place" and ("region", country.get(m.id, "")) in wanted):
                out.update(bare(x) for t in tokenize(m.surface) for x in stem_candidates(t.norm))
    return out


def _add(examples: Sequence[Example], gated: Sequence[bool] | None,
         classifications: Sequence[Classification] | None, root: Node, top: int) -> list[Suggestion]:
    words, prefixes = _query_words(root)
    words |= _entity_words(root, classifications or ())
    norms = [_tokens(ex) for ex in examples]
    vocabulary = {bare(n) for ns in norms for n in ns}
    # Counted per story, not per example: four outlets' copies of one wire story are one piece of evidence.
    stories: dict[tuple[str, bool], tuple[set[str], bool]] = {}
    whole: dict[str, set[str]] = {}  # term -> relevant stories that write it as it is (no clitic read off)
    for i, ex in enumerate(examples):
        key = (story_key(ex.title, ex.text), ex.relevant)
        terms, missed = stories.get(key, (set(), False))
        terms |= _terms(norms[i], vocabulary)
        stories[key] = (terms, missed or (ex.relevant and gated is not None and not gated[i]))
        if ex.relevant:
            for t in _whole_terms(norms[i]):
                whole.setdefault(t, set()).add(key[0])
    n_rel = sum(1 for _, rel in stories if rel)
    n_irr = len(stories) - n_rel
    counts: dict[str, list[int]] = {}  # term -> [relevant, irrelevant, missed] stories
    for (_, rel), (terms, missed) in stories.items():
        for t in terms:
            c = counts.setdefault(t, [0, 0, 0])
            c[0 if rel else 1] += 1
            c[2] += missed
    scored = []
    for t, (r, irr, m) in counts.items():
        # log-odds of the term in relevant against irrelevant stories, smoothed by one story so a term absent
        # from one side stays finite: favours what tells the two apart over what is merely frequent
        lift = math.log((r + 1) / (n_rel - r + 1)) - math.log((irr + 1) / (n_irr - irr + 1))
        if r >= MIN_SUPPORT and lift > 0 and not _covered(t, words, prefixes):
            scored.append(((m > 0, lift, r, t), Suggestion("add", t, r, irr, m)))
    scored.sort(key=lambda x: (not x[0][0], -x[0][1], -x[0][2], x[0][3]))
    out: list[Suggestion] = []
    for _, s in scored:
        # "وريا" is سوريا read with a stripped س: a suffix of a term already listed is the same word again ...
        clash = next((i for i, o in enumerate(out) if _suffixes(s.term, o.term)), None)
        if clash is None:
            out.append(s)
        elif _conjunction_form(out[clash].term, s.term) and len(whole.get(s.term, ())) >= MIN_SUPPORT:
            # ... except that وبريطانيا is بريطانيا after "and": the query word بريطانيا finds both forms, the
            # other only itself, so the bare word replaces it when the examples also write it alone
            out[clash] = s
        if len(out) == top:
            break
    return out


def _whole_terms(norms: Sequence[str]) -> set[str]:
    """The words (without article) and word pairs of an example as written, no clitic read off."""
    out: set[str] = set()
    prev = ""
    for norm in norms:
        w = bare(norm)
        if len(w) < MIN_LETTERS:
            prev = ""
            continue
        out.add(w)
        if prev:
            out.add(f'"{prev} {w}"')
        prev = w
    return out


def _suffixes(a: str, b: str) -> bool:
    """Two words, or two phrases, one ending the other (a phrase's first word may carry a clitic)."""
    if a.startswith('"') != b.startswith('"'):
        return False
    a, b = a.strip('"'), b.strip('"')
    return a.endswith(b) or b.endswith(a)


def _conjunction_form(longer: str, shorter: str) -> bool:
    """Whether `longer` is `shorter` with و or ف ("and", "so") in front (of its first word, for a phrase)."""
    a, b = longer.strip('"'), shorter.strip('"')
    return a in ("و" + b, "ف" + b)


def _drop(examples: Sequence[Example], gated: Sequence[bool] | None,
          classifications: Sequence[Classification] | None, root: Node) -> list[Suggestion]:
    leaves = [n for n in walk(root) if n.kind in ("term", "phrase") or (n.kind == "entity" and classifications)]
    counts = {id(n): [0, 0] for n in leaves}
    for i, ex in enumerate(examples):
        if gated is not None and not gated[i]:
            continue  # the question is what fires among what the query lets through
        doc = Doc(example_article(ex), classifications[i] if classifications else _EMPTY)
        for n in leaves:
            if evaluate(n, doc).value:
                counts[id(n)][0 if ex.relevant else 1] += 1
    out: list[Suggestion] = []
    seen: set[str] = set()
    for n in leaves:
        r, irr = counts[id(n)]
        if irr and irr >= r and n.text not in seen:
            seen.add(n.text)
            out.append(Suggestion("drop", n.text, r, irr))
    out.sort(key=lambda s: (s.relevant - s.irrelevant, s.term))
    return out


def suggest(examples: Sequence[Example], query: str | Node, *, gated: Sequence[bool] | None = None,
            classifications: Sequence[Classification] | None = None, top: int = 15) -> Suggestions:
    """Terms to add to and query terms to reconsider in a watch's query, from its labelled examples.

    `gated[i]`: whether the watch's query passes `examples[i]` (WatchSet.match); `classifications[i]` its
    classification, to count the query's entities. Both optional; cost is linear in the examples' words.
    """
    if gated is not None and len(gated) != len(examples):
        raise ValueError("gated must have one value per example")
    if classifications is not None and len(classifications) != len(examples):
        raise ValueError("classifications must have one value per example")
    root = parse_query(query) if isinstance(query, str) else query
    add = _add(examples, gated, classifications, root, top)
    return Suggestions(tuple(add), tuple(_drop(examples, gated, classifications, root)))
