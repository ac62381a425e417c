"""A query as a full-text prefilter: the index tokens of an article, and the token formula every article
the query can match must satisfy (a superset: the watch evaluator decides on what the index returns).

The index holds every key the evaluator's Doc looks a term up by, every entity it holds, and both again with
TITLE_MARK for those in the title, so `title:(…)` narrows to articles with those words in the title. A term
or entity under NOT, when its AND has a positive part, excludes the articles that hold it: the index holds a
key only where the evaluator sees it. An article whose keys the caps below cut holds CAPPED, which a search
always takes as a candidate (workers/archive/search.py), so the caps over-select and never miss."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from feeds.models import Article, Classification
from feeds.query.evaluate import Doc
from feeds.query.syntax import Node

_ARTICLE = "ال"
# Prepended to the tokens of the title: ASCII letters, which no normalised Arabic or entity token begins with
# ("zz…" entities become "ztzz…"), and which every tokenizer keeps inside the token.
TITLE_MARK = "zt"
# Indexed for an article some of whose keys the caps below left out: every search takes it as a candidate
# (the search adds "OR CAPPED" to the index expression), so a capped article is over-selected, never missed.
CAPPED = "zzcapped"
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
    absent: tuple[Tok, ...] = ()  # tokens an article must not hold (NOT of a term or entity in this AND)


@dataclass(frozen=True)
class Some:
    parts: tuple[Formula, ...]


# None stands for "no narrowing": NOT, feed:/lang: filters and anything under them can hold on any article.
Formula = Tok | All | Some | None


def entity_token(kind: str, entity_id: str) -> str:
    """The index token of an entity: ASCII letters and digits only, so every tokenizer keeps it whole."""
    return "zz" + kind[:1] + entity_id.lower().encode("utf-8").hex()


def index_tokens(article: Article, classification: Classification) -> str:
    """Every key the evaluator can look a term up by and every entity it holds (read off its own Doc, so the
    two cannot disagree), those of the title again with TITLE_MARK, as one space-separated string of distinct
    tokens; linear in the article's length."""
    doc = Doc(article, classification)
    seen: dict[str, None] = {}
    title: dict[str, None] = {}
    capped = False
    for key, positions in doc.by_key.items():
        if len(key) > MAX_TOKEN_CHARS or len(seen) >= MAX_INDEX_TOKENS:
            capped = True
            continue
        seen[key] = None
        if positions[0] < doc.title_end:  # positions ascend: the first is in the title if any is
            title[TITLE_MARK + key] = None
    for (kind, eid), hits in sorted(doc.entities.items()):
        tok = entity_token(kind, eid)
        seen[tok] = None
        if any(h.last < doc.title_end for h in hits):  # as the evaluator's title scope bounds a hit
            title[TITLE_MARK + tok] = None
    if capped:
        title[CAPPED] = None
    return " ".join([*seen, *title])


def _all(parts: Iterable[Formula], absent: tuple[Tok, ...] = ()) -> Formula:
    kept = tuple(p for p in parts if p is not None)
    if not kept:
        return None  # only NOTs: nothing an index lookup can start from
    return kept[0] if len(kept) == 1 and not absent else All(kept, absent)


def _titled(f: Formula) -> Formula:
    """The formula of a part under title: every token as the title's."""
    if f is None:
        return None
    if isinstance(f, Tok):
        return Tok(TITLE_MARK + f.text, f.prefix)
    if isinstance(f, All):
        return All(tuple(_titled(p) for p in f.parts), tuple(Tok(TITLE_MARK + t.text, t.prefix) for t in f.absent))
    return Some(tuple(_titled(p) for p in f.parts))


def _present(f: Formula) -> Formula:
    """The formula without its NOT tokens: under lead:, an absent word is absent from the lead only, which the
    index (of the whole article) cannot tell."""
    if f is None or isinstance(f, Tok):
        return f
    if isinstance(f, All):
        return _all(_present(p) for p in f.parts)
    return _some(_present(p) for p in f.parts)


def _absent(node: Node) -> Tok | None:
    """NOT of a plain term or entity: the token the article must not hold. Not a phrase (its words may be
    there, apart) and not under NEAR (NOT there is positional)."""
    if node.kind != "not":
        return None
    inner = node.children[0]
    if inner.kind == "entity":
        return Tok(entity_token(inner.field, inner.value))
    if inner.kind == "term":
        return Tok(inner.words[0], inner.prefix)
    return None


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
    if node.kind == "and":
        absent = tuple(t for c in node.children if (t := _absent(c)) is not None)
        return _all((formula(c) for c in node.children), absent)
    if node.kind == "near":
        return _all(formula(c) for c in node.children)
    if node.kind == "or":
        return _some(formula(c) for c in node.children)
    if node.kind == "scope":
        inner = formula(node.children[0])
        # In the title: the title's tokens. In the lead: in the article (the lead is not indexed apart).
        return _titled(inner) if node.field == "title" else _present(inner)
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
    out = "(" + joiner.join(str(to_fts5(p)) for p in f.parts) + ")"
    if isinstance(f, All) and f.absent:  # FTS5's NOT is binary: what holds, NOT what must be absent
        out = "(" + out + " NOT (" + " OR ".join(str(to_fts5(t)) for t in f.absent) + "))"
    return out


def to_tsquery(f: Formula) -> str | None:
    """PostgreSQL tsquery input syntax (lexemes taken as they are, no parser); None = everything."""
    if f is None:
        return None
    if isinstance(f, Tok):
        return _quote(f.text.replace("\\", "\\\\"), "'") + (":*" if f.prefix else "")
    joiner = " & " if isinstance(f, All) else " | "
    out = "(" + joiner.join(str(to_tsquery(p)) for p in f.parts) + ")"
    if isinstance(f, All) and f.absent:
        out = "(" + out + " & !(" + " | ".join(str(to_tsquery(t)) for t in f.absent) + "))"
    return out
