"""A query as a full-text prefilter: the index tokens of an article, and the token formula every article
the query can match must satisfy (a superset: the watch evaluator decides on what the index returns)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from feeds.models import Article, Classification
from feeds.nlp.arabic import stem_candidates, tokenize
from feeds.query.syntax import Node

_ARTICLE = "ال"
# Index tokens longer than this are not words (a URL, a run of letters without spaces): PostgreSQL refuses
# lexemes over 2 KB, and no query term is that long.
MAX_TOKEN_CHARS = 64
# Distinct tokens indexed per article at most: a long article has a few thousand; the cap keeps a hostile page
# inside PostgreSQL's 1 MB tsvector limit (the text itself stays whole, and the evaluator still reads all of it).
MAX_INDEX_TOKENS = 20_000


@dataclass(frozen=True)
class Tok:
    """One index token; `prefix`: any token that starts with it."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class All:
    parts: tuple[Formula, ...]


@dataclass(frozen=True)
class Some:
    parts: tuple[Formula, ...]


# None stands for "no narrowing": NOT, feed:/lang: filters and anything under them can hold on any article.
Formula = Tok | All | Some | None


def entity_token(kind: str, entity_id: str) -> str:
    """The index token of an entity: ASCII letters and digits only, so every tokenizer keeps it whole."""
    return "zz" + kind[:1] + entity_id.lower().encode("utf-8").hex()


def _entity_keys(c: Classification) -> set[tuple[str, str]]:
    # As the evaluator's Doc: a region also matches through a place inside it.
    place_country = {p.id: p.country for p in c.places if p.country}
    keys: set[tuple[str, str]] = set()
    for m in c.mentions:
        keys.add((m.kind, m.id))
        if m.kind == "place" and m.id in place_country:
            keys.add(("region", str(place_country[m.id]).upper()))
    return keys


def index_tokens(article: Article, classification: Classification) -> str:
    """Every key the evaluator can look a term up by (each token's stem candidates) and every entity, as one
    space-separated string of distinct tokens; linear in the article's length."""
    seen: dict[str, None] = {}
    for tok in tokenize(article.document):
        if len(tok.norm) > MAX_TOKEN_CHARS:
            continue
        for cand in stem_candidates(tok.norm):
            seen.setdefault(cand, None)
        if len(seen) >= MAX_INDEX_TOKENS:
            break
    for kind, eid in sorted(_entity_keys(classification)):
        seen.setdefault(entity_token(kind, eid), None)
    return " ".join(seen)


def _all(parts: Iterable[Formula]) -> Formula:
    kept = tuple(p for p in parts if p is not None)
    return kept[0] if len(kept) == 1 else (All(kept) if kept else None)


def _some(parts: Iterable[Formula]) -> Formula:
    kept = tuple(parts)
    if not kept or any(p is None for p in kept):
        return None  # one branch that can hold anywhere makes the whole OR hold anywhere
    return kept[0] if len(kept) == 1 else Some(kept)


def formula(node: Node) -> Formula:
    """The token formula of a parsed query (recursion bounded by the parser's MAX_DEPTH)."""
    if node.kind == "term":
        return Tok(node.words[0], node.prefix)
    if node.kind == "phrase":
        first, *rest = node.words
        # Inner words match with or without the article (evaluate._inner_ok), and both forms are indexed.
        return _all([Tok(first), *(_some([Tok(w), Tok(_ARTICLE + w)]) for w in rest)])
    if node.kind == "entity":
        return Tok(entity_token(node.field, node.value))
    if node.kind in ("and", "near"):
        return _all(formula(c) for c in node.children)
    if node.kind == "or":
        return _some(formula(c) for c in node.children)
    if node.kind == "scope":
        return formula(node.children[0])  # in the title or lead implies in the article
    return None  # not, filter


def _quote(text: str, q: str) -> str:
    return q + text.replace(q, q + q) + q


def to_fts5(f: Formula) -> str | None:
    """SQLite FTS5 MATCH syntax; None = match everything (no MATCH clause)."""
    if f is None:
        return None
    if isinstance(f, Tok):
        return _quote(f.text, '"') + ("*" if f.prefix else "")
    joiner = " AND " if isinstance(f, All) else " OR "
    return "(" + joiner.join(str(to_fts5(p)) for p in f.parts) + ")"


def to_tsquery(f: Formula) -> str | None:
    """PostgreSQL tsquery input syntax (lexemes taken as they are, no parser); None = everything."""
    if f is None:
        return None
    if isinstance(f, Tok):
        return _quote(f.text.replace("\\", "\\\\"), "'") + (":*" if f.prefix else "")
    joiner = " & " if isinstance(f, All) else " | "
    return "(" + joiner.join(str(to_tsquery(p)) for p in f.parts) + ")"
