"""Explanations of a watch on an article: the query tree with node values, the text with matches marked."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

from feeds.models import Span

_GREEN, _RED, _HL, _DIM, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[1;30;43m", "\x1b[2m", "\x1b[0m"
# Private-use characters stand in for the highlight markers while the text is wrapped, so wrapping
# never splits a marker and the markers can become ANSI codes (zero width) or [[ ]] afterwards.
_OPEN, _CLOSE = "\ue000", "\ue001"
# Control characters of an article (an ESC starts a terminal escape sequence) are shown as U+FFFD, one for one,
# so the spans' offsets still hold; newlines and tabs are text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ExplainNode:
    """One query node: its source text, kind, value on the article and the spans it matched."""

    text: str
    kind: str
    value: bool
    spans: tuple[Span, ...] = ()
    score: float = 0.0
    children: tuple[ExplainNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "value": self.value, "score": self.score,
                "spans": [{"start": s.start, "end": s.end, "text": s.text} for s in self.spans],
                "children": [c.to_dict() for c in self.children]}


@dataclass(frozen=True)
class Explanation:
    """Why a watch matched an article or not: the final verdict, the reasons and the evaluated tree."""

    watch_id: str
    query: str
    matched: bool
    reasons: tuple[str, ...]
    tree: ExplainNode
    document: str
    evidence: tuple[Span, ...] = ()
    mentions: int = 0
    min_mentions: int = 1
    score: float = 0.0
    threshold: float | None = None
    candidate: bool = True  # False when the term index alone ruled the article out
    highlights: tuple[Span, ...] = ()  # what the text view marks: the evidence, else every positive match

    def to_dict(self) -> dict[str, Any]:
        return {"watch_id": self.watch_id, "query": self.query, "matched": self.matched,
                "reasons": list(self.reasons), "mentions": self.mentions, "min_mentions": self.min_mentions,
                "score": self.score, "threshold": self.threshold, "candidate": self.candidate,
                "evidence": [{"start": s.start, "end": s.end, "text": s.text} for s in self.evidence],
                "tree": self.tree.to_dict()}

    def render(self, text_width: int = 100, color: bool = True) -> str:
        """The tree with ✓/✗ per node, then the document wrapped at `text_width` with matched spans marked."""
        def paint(s: str, code: str) -> str:
            return f"{code}{s}{_RESET}" if color else s

        verdict = paint("MATCH", _GREEN) if self.matched else paint("NO MATCH", _RED)
        lines = [f"watch {self.watch_id}: {verdict}"]
        lines += [f"  {r}" for r in self.reasons]
        lines.append("")

        def walk(node: ExplainNode, depth: int) -> None:
            mark = paint("✓", _GREEN) if node.value else paint("✗", _RED)
            extra = f"  ({len(node.spans)} match{'es' if len(node.spans) != 1 else ''})" if node.spans else ""
            indent = "  " * depth
            # One line per node: a multi-line YAML query collapses to single spaces, long groups are cut.
            text = " ".join(node.text.split())
            room = max(20, text_width - len(indent) - 2 - len(extra))
            if len(text) > room:
                text = text[: room - 1] + "…"
            lines.append(f"{indent}{mark} {text}{extra}")
            for c in node.children:
                walk(c, depth + 1)

        walk(self.tree, 0)
        lines.append("")
        lines.append(paint("text (matches marked):", _DIM) if color else "text (matches marked):")
        lines.extend(self._marked_text(text_width, color))
        return "\n".join(lines)

    def _marked_text(self, width: int, color: bool) -> list[str]:
        spans = sorted({(s.start, s.end) for s in self._all_spans()})
        merged: list[list[int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        doc = _CONTROL.sub("\ufffd", self.document)
        parts: list[str] = []
        pos = 0
        for a, b in merged:
            parts += [doc[pos:a], _OPEN, doc[a:b], _CLOSE]
            pos = b
        parts.append(doc[pos:])
        marked = "".join(parts)
        out: list[str] = []
        for para in marked.split("\n"):
            wrapped = textwrap.wrap(para, width=max(20, width)) or [""]
            out.extend(wrapped)
        opened = _HL if color else "[["
        closed = _RESET if color else "]]"
        result: list[str] = []
        inside = False
        for line in out:
            # A highlight that spans a line break is closed at the end of the line and reopened after it.
            prefix = opened if inside else ""
            for ch in line:
                if ch == _OPEN:
                    inside = True
                elif ch == _CLOSE:
                    inside = False
            line = prefix + line.replace(_OPEN, opened).replace(_CLOSE, closed) + (closed if inside else "")
            result.append(line)
        return result

    def _all_spans(self) -> list[Span]:
        return list(self.highlights or self.evidence)
