"""Labelled examples of a watch: the JSON-lines file format, its strict parser, a stable hash, → Article.

A watch's examples file holds one JSON object a line (blank lines allowed)::

    {"title": "...", "text": "...", "relevant": true, "id": "CN-middleEast-1194-20180814",
     "url": "https://...", "published": "2018-08-14T10:00:00+00:00"}

`title`, `text` (strings, not both empty) and `relevant` (true or false) are required; `id`, `url` and
`published` (ISO 8601) are optional or null. Problems raise one `InvalidInput`, a line each, as
"<file>:<line>: <field>: <message>" (a whole-file problem as "<file>: file: <message>"). When two lines carry
the same `id`, the later one counts (so `marsad feedback` can append a corrected label instead of rewriting
the file), at the earlier one's place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feeds.errors import InvalidInput
from feeds.models import Article
from feeds.nlp.arabic import normalize_words

# A line longer than this is no news article (the longest ANT text is ~100 KB): a file pasted into the wrong
# place, or an attempt to make the parser hold a huge string.
MAX_LINE_BYTES = 2_000_000
# Bad lines reported one by one, at most (a wrong file given as examples would otherwise print thousands).
MAX_PROBLEMS = 20
# Training is linear in the examples but runs at watch load; past this many an analyst has pasted an archive.
MAX_EXAMPLES = 20_000
# A whole file past this is refused before it is read (MAX_EXAMPLES lines of a typical 10 KB article).
MAX_FILE_BYTES = 200_000_000
# The leading characters of a normalised title that name a story (`story_key`).
STORY_CHARS = 80
FIELDS = ("title", "text", "relevant", "id", "url", "published")


@dataclass(frozen=True)
class Example:
    """One labelled article: does it report on what the watch is for (`relevant`)?"""

    title: str
    text: str
    relevant: bool
    id: str | None = None
    url: str | None = None
    published: str | None = None  # ISO 8601


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_line(obj: Any, where: str) -> Example:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where}: line: expected a JSON object, got {type(obj).__name__}")
    for key in obj:
        if key not in FIELDS:
            raise InvalidInput(f"{where}: {key}: unknown field (known: {', '.join(FIELDS)})")
    for key in ("title", "text", "relevant"):
        if key not in obj:
            raise InvalidInput(f"{where}: {key}: missing")
    title, text, relevant = obj["title"], obj["text"], obj["relevant"]
    for key, value in (("title", title), ("text", text)):
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: {key}: expected a string, got {_short(value)}")
    if not title.strip() and not text.strip():
        raise InvalidInput(f"{where}: text: title and text are both empty")
    if not isinstance(relevant, bool):
        raise InvalidInput(f"{where}: relevant: expected true or false, got {_short(relevant)}")
    opt: dict[str, str | None] = {}
    for key in ("id", "url", "published"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{where}: {key}: expected a string or null, got {_short(value)}")
        opt[key] = value or None
    if opt["published"] is not None:
        try:
            datetime.fromisoformat(opt["published"])
        except ValueError:
            raise InvalidInput(f"{where}: published: expected an ISO 8601 date, got "
                               f"{_short(opt['published'])}") from None
    return Example(title, text, relevant, opt["id"], opt["url"], opt["published"])


def parse_examples(text: str, source: str) -> list[Example]:
    """Examples from the text of a JSON-lines file; `source` names the file in error messages. Every bad line is
    reported (its first problem), up to MAX_PROBLEMS lines, in one InvalidInput."""
    out: list[Example] = []
    by_id: dict[str, int] = {}
    problems: list[str] = []
    bad = 0
    # Split on "\n" only: json.dumps(ensure_ascii=False) leaves U+2028 and U+0085 raw inside strings, and
    # str.splitlines() would cut a line there.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            ex = _parse_text_line(line, f"{source}:{n}")
        except InvalidInput as exc:
            bad += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(exc.reason)
            continue
        if ex.id is not None and ex.id in by_id:
            out[by_id[ex.id]] = ex  # a later label for the same article replaces the earlier one
            continue
        if len(out) >= MAX_EXAMPLES:
            problems.append(f"{source}:{n}: line: more than {MAX_EXAMPLES:,} examples")
            break
        if ex.id is not None:
            by_id[ex.id] = len(out)
        out.append(ex)
    if bad > MAX_PROBLEMS:
        problems.append(f"{source}: … and {bad - MAX_PROBLEMS} more bad lines")
    if problems:
        raise InvalidInput("\n".join(problems))
    return out


def _parse_text_line(line: str, where: str) -> Example:
    if len(line) > MAX_LINE_BYTES or len(line.encode("utf-8")) > MAX_LINE_BYTES:
        raise InvalidInput(f"{where}: line: longer than {MAX_LINE_BYTES // 1_000_000} MB")
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidInput(f"{where}: json: not valid JSON: {msg}{col}") from None
    return _parse_line(obj, where)


def load_examples(path: Path) -> list[Example]:
    """Examples from a JSON-lines file (UTF-8); InvalidInput "<file>:<line>: <field>: <message>" on any problem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path}: file: larger than {MAX_FILE_BYTES // 1_000_000} MB")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: file: not found (to start labelling, create it empty: `marsad feedback` "
                           "appends to it)") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: file: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"{path}:{line}: line: not UTF-8 ({exc.reason})") from None
    return parse_examples(text, str(path))


def _canonical(ex: Example) -> list[Any]:
    return [ex.id, ex.url, ex.published, ex.title, ex.text, ex.relevant]


def examples_hash(examples: Sequence[Example]) -> str:
    """A sha256 hex digest of the examples, in order, independent of how the file was spelled (key order,
    escapes, blank lines): equal examples give equal hashes, so a cached model can be reused."""
    h = hashlib.sha256(b"marsad-examples-v1\n")
    for ex in examples:
        h.update(json.dumps(_canonical(ex), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def example_to_json(ex: Example) -> str:
    """One line of the examples file (no newline), optional fields left out when empty."""
    obj: dict[str, Any] = {"id": ex.id, "title": ex.title, "text": ex.text, "url": ex.url,
                           "published": ex.published, "relevant": ex.relevant}
    return json.dumps({k: v for k, v in obj.items() if v is not None}, ensure_ascii=False)


def story_key(title: str, text: str) -> str:
    """What names a story across copies: the normalised title (or opening text when there is none), cut to
    STORY_CHARS. Outlets run wire copy under the same headline, and one outlet files one article under two
    sections; cross-validation keeps such copies in one fold, and suggestions count them once."""
    return normalize_words(title or text[:400])[:STORY_CHARS]


def example_article(ex: Example, feed_id: str = "") -> Article:
    """The Article the pipeline would have built: `published` matters, the classifier resolves role titles
    ("الرئيس التركي") by date."""
    published = datetime.fromisoformat(ex.published) if ex.published else None
    return Article(url=ex.url or ex.id or "", title=ex.title, text=ex.text, feed_id=feed_id, published=published)
