"""The watchlist query language: tokens, syntax tree and a recursive-descent parser with column errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from feeds.errors import InvalidInput, did_you_mean
from feeds.nlp.arabic import tokenize

# The article "ال" is optional wherever a query word is matched; it is stripped from the query word only
# when at least three letters remain, so "الله" (→ "له", a common preposition) keeps its article.
_ARTICLE = "ال"
_MIN_BARE = 3
# Prefixes shorter than this (after normalisation) would match a large part of the vocabulary.
MIN_PREFIX = 2
# NEAR distances beyond this are paragraphs apart, which is what AND is for.
MAX_NEAR = 200
# Nesting (parentheses, NOT chains, chained NEAR) deeper than this is no query a person writes; the parser,
# the evaluator and the explanation recurse once per level, so the cap keeps a hostile file from ending a
# worker or `marsad check` with a RecursionError.
MAX_DEPTH = 50
# A query longer than this is a file pasted into the wrong field.
MAX_QUERY_CHARS = 20_000

NodeKind = Literal["term", "phrase", "entity", "filter", "and", "or", "not", "near", "scope"]


class QueryError(InvalidInput):
    """A query that does not parse: `column` (1-based) and what the parser `expected` there."""

    def __init__(self, reason: str, column: int = 0, expected: str = "") -> None:
        super().__init__(reason)
        self.column = column
        self.expected = expected


@dataclass(frozen=True)
class Node:
    """One node of a parsed query; `text` is the query source it came from (for explanations).

    term: `words` = (key,) and `prefix`; phrase: `words` = keys in order; entity: `field` (region/place/actor)
    and `value`; filter: `field` (feed/lang) and `value`; scope: `field` (title/lead) with one child;
    near: `distance` with two children; and/or/not: children.
    """

    kind: NodeKind
    text: str
    column: int
    children: tuple[Node, ...] = ()
    words: tuple[str, ...] = ()
    prefix: bool = False
    field: str = ""
    value: str = ""
    distance: int = 0
    weight: float = 1.0


def bare(word: str) -> str:
    """A normalised query word without its article, when enough remains to stay specific."""
    if word.startswith(_ARTICLE) and len(word) - len(_ARTICLE) >= _MIN_BARE:
        return word[len(_ARTICLE):]
    return word


_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<quote>"[^"]*"?)
      | (?P<near>NEAR/\d*)
      | (?P<field>(?:region|place|actor|feed|lang|title|lead):)
      | (?P<weight>\^[0-9]*\.?[0-9]*)
      | (?P<word>[^\s()"^]+)
    """,
    re.VERBOSE,
)
ENTITY_FIELDS = ("region", "place", "actor")
FILTER_FIELDS = ("feed", "lang")
SCOPE_FIELDS = ("title", "lead")
_FIELDS = ENTITY_FIELDS + FILTER_FIELDS + SCOPE_FIELDS
# A word that starts like a field (Latin letters, then a colon) but is none: Arabic text never looks like that,
# and a Latin word before a colon inside a query is far more often a misspelt field than text to find.
_FIELD_LIKE = re.compile(r"([A-Za-z_]{2,20}):")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "word"
        if kind == "ws":
            continue
        if kind == "word" and m.group() in ("AND", "OR", "NOT"):
            kind = m.group()
        out.append(_Tok(kind, m.group(), m.start()))
    out.append(_Tok("end", "", len(text)))
    return out


def _describe(tok: _Tok) -> str:
    return "end of query" if tok.kind == "end" else repr(tok.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.depth = 0

    def nest(self) -> None:
        """Enter one level (a group, a NOT, a NEAR link, a scope); fail past MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"at most {MAX_DEPTH} levels of nesting")

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, expected: str, tok: _Tok | None = None) -> QueryError:
        tok = tok or self.peek()
        col = tok.pos + 1
        return QueryError(f"column {col}: expected {expected}, got {_describe(tok)}", col, expected)

    def src(self, start: int) -> str:
        end = self.toks[self.i - 1].pos + len(self.toks[self.i - 1].text)
        return self.text[start:end]

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.fail("a word, phrase or entity")
        node = self.or_()
        if self.peek().kind != "end":
            raise self.fail("AND, OR, NEAR/n or end of query")
        return node

    def or_(self) -> Node:
        self.nest()
        start = self.peek().pos
        parts = [self.and_()]
        while self.peek().kind == "OR":
            self.take()
            parts.append(self.and_())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else Node("or", self.src(start), start + 1, tuple(parts))

    def and_(self) -> Node:
        start = self.peek().pos
        parts = [self.unary()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
                parts.append(self.unary())
            elif kind in ("word", "quote", "lparen", "field", "NOT"):  # adjacency means AND
                parts.append(self.unary())
            else:
                break
        return parts[0] if len(parts) == 1 else Node("and", self.src(start), start + 1, tuple(parts))

    def unary(self) -> Node:
        if self.peek().kind == "NOT":
            self.nest()
            start = self.take().pos
            child = self.unary()
            self.depth -= 1
            return Node("not", self.src(start), start + 1, (child,))
        return self.near()

    def near(self) -> Node:
        start = self.peek().pos
        left = self.primary()
        links = 0
        while self.peek().kind == "near":
            links += 1
            if links > MAX_DEPTH:  # a chain of NEARs nests to the left: a NEAR b NEAR c = (a NEAR b) NEAR c
                raise self.fail(f"at most {MAX_DEPTH} NEARs in a row")
            tok = self.take()
            digits = tok.text[len("NEAR/"):]
            if not digits or not 1 <= int(digits) <= MAX_NEAR:
                raise QueryError(f"column {tok.pos + 1}: expected NEAR/n with n from 1 to {MAX_NEAR}, got "
                                 f"{tok.text!r}", tok.pos + 1, f"NEAR/n with n from 1 to {MAX_NEAR}")
            negated = self.peek().kind == "NOT"
            right = self.unary() if negated else self.primary()
            for side in (left, right):
                if side.kind == "filter":
                    want = "a word, phrase or entity inside NEAR"
                    raise QueryError(f"column {side.column}: expected {want}, got {side.text!r} "
                                     "(feed:/lang: have no position)", side.column, want)
            if left.kind == "not" and right.kind == "not":
                raise self.fail("a positive side for NEAR (both sides are NOT)", tok)
            left = Node("near", self.src(start), start + 1, (left, right), distance=int(digits))
        return left

    def weight(self, node: Node) -> Node:
        if self.peek().kind != "weight":
            return node
        tok = self.take()
        try:
            w = float(tok.text[1:])
        except ValueError:
            raise self.fail("a number after ^ (e.g. ^2)", tok) from None
        if w <= 0:
            raise self.fail("a positive weight after ^", tok)
        return Node(node.kind, node.text + tok.text, node.column, node.children, node.words, node.prefix,
                    node.field, node.value, node.distance, w)

    def primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "lparen":
            self.take()
            if self.peek().kind == "rparen":
                raise self.fail("a word, phrase or entity")
            inner = self.or_()
            if self.peek().kind != "rparen":
                raise self.fail("')'" if self.peek().kind == "end" else "')' or an operator")
            self.take()
            return self.weight(Node(inner.kind, self.src(tok.pos), tok.pos + 1, inner.children, inner.words,
                                    inner.prefix, inner.field, inner.value, inner.distance, inner.weight))
        if tok.kind == "quote":
            return self.weight(self.phrase(self.take()))
        if tok.kind == "word":
            return self.weight(self.word(self.take()))
        if tok.kind == "field":
            return self.weight(self.fielded(self.take()))
        raise self.fail("a word, phrase, entity or '('")

    def phrase(self, tok: _Tok) -> Node:
        if len(tok.text) < 2 or not tok.text.endswith('"'):
            raise QueryError(f"column {len(self.text) + 1}: expected a closing '\"', got end of query (the phrase "
                             f"opened at column {tok.pos + 1})", len(self.text) + 1, "a closing '\"'")
        words = tuple(t.norm for t in tokenize(tok.text[1:-1]))
        if not words:
            raise self.fail("words inside the quotes", tok)
        if len(words) == 1:
            return Node("term", tok.text, tok.pos + 1, words=(bare(words[0]),))
        return Node("phrase", tok.text, tok.pos + 1, words=(bare(words[0]), *(bare(w) for w in words[1:])))

    def word(self, tok: _Tok) -> Node:
        raw = tok.text
        field = _FIELD_LIKE.match(raw)
        if field:  # "regoin:SY", "Region:SY", "titel:(": a field misspelt would silently search for a word
            name = field.group(1)
            hint = did_you_mean(name.lower() + ":", [f + ":" for f in _FIELDS], n=1, cutoff=0.6)
            want = f"a known field ({', '.join(f + ':' for f in _FIELDS)})"
            raise QueryError(f"column {tok.pos + 1}: expected {want}, got {name + ':'!r}{hint} (to search for the "
                             "text itself, quote it)", tok.pos + 1, want)
        prefix = raw.endswith("*")
        body = raw[:-1] if prefix else raw
        words = [t.norm for t in tokenize(body)]
        if "*" in body or not words or (prefix and len(words) > 1):
            raise self.fail("a word (letters or digits, optionally ending in *)", tok)
        if prefix:
            key = bare(words[0])
            if len(key) < MIN_PREFIX:
                raise self.fail(f"at least {MIN_PREFIX} letters before *", tok)
            return Node("term", raw, tok.pos + 1, words=(key,), prefix=True)
        if len(words) > 1:  # "al-Assad", "U.N.": several words written as one behave as a phrase
            return Node("phrase", raw, tok.pos + 1, words=tuple(bare(w) for w in words))
        return Node("term", raw, tok.pos + 1, words=(bare(words[0]),))

    def fielded(self, tok: _Tok) -> Node:
        name = tok.text[:-1]
        if name in SCOPE_FIELDS:
            nxt = self.peek()
            if nxt.kind not in ("lparen", "quote", "word", "field"):
                raise self.fail(f"'(', a word or a phrase after {name}:")
            self.nest()  # title:title:…x nests without a parenthesis: it counts as a level too
            child = self.primary()
            self.depth -= 1
            if child.kind == "filter":
                raise QueryError(f"column {child.column}: expected words or entities inside {name}:, got "
                                 f"{child.text!r}", child.column, f"words or entities inside {name}:")
            return Node("scope", self.src(tok.pos), tok.pos + 1, (child,), field=name)
        val = self.peek()
        if val.kind != "word" or val.pos != tok.pos + len(tok.text):
            raise self.fail(f"an id right after {name}: (e.g. {_EXAMPLES[name]})")
        self.take()
        value = val.text.upper() if name == "region" else val.text.lower()
        kind: NodeKind = "entity" if name in ENTITY_FIELDS else "filter"
        return Node(kind, tok.text + val.text, tok.pos + 1, field=name, value=value)


_EXAMPLES = {"region": "region:LY", "place": "place:idlib", "actor": "actor:haftar",
             "feed": "feed:bbc-arabic", "lang": "lang:ar"}


def parse_query(text: str) -> Node:
    """Parse a watch query; raise QueryError with the 1-based column and what was expected there."""
    if len(text) > MAX_QUERY_CHARS:
        want = f"a query of at most {MAX_QUERY_CHARS:,} characters"
        raise QueryError(f"column {MAX_QUERY_CHARS + 1}: expected {want}, got {len(text):,}", MAX_QUERY_CHARS + 1,
                         want)
    return _Parser(text).parse()


def walk(node: Node) -> list[Node]:
    """The node and all its descendants, depth first."""
    out = [node]
    for c in node.children:
        out.extend(walk(c))
    return out
