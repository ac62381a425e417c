"""Turning archive rows into what the pages show: highlighted text segments, times, safe links, names."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feeds.models import Classification


@dataclass(frozen=True)
class Segment:
    """A run of text with the marks on it: entity kinds (region/place/actor) and "ev" for watch evidence."""

    text: str
    marks: tuple[str, ...] = ()
    title: str = ""  # what the mark stands for (entity id), shown on hover

    @property
    def css(self) -> str:
        return " ".join("m-" + m for m in self.marks)


def segments(text: str, base: int, classification: Classification,
             evidence: Iterable[tuple[int, int]]) -> list[Segment]:
    """`text` (which starts at offset `base` of the article's document) cut where a mention or an evidence span
    starts or ends; linear in the text plus the spans (sorted once)."""
    spans: list[tuple[int, int, str, str]] = []
    for m in classification.mentions:
        spans.append((m.start - base, m.end - base, m.kind, f"{m.kind}:{m.id}"))
    for start, end in evidence:
        spans.append((start - base, end - base, "ev", "watch evidence"))
    spans = [(max(0, s), min(len(text), e), k, t) for s, e, k, t in spans if e > 0 and s < len(text) and e > s]
    cuts = sorted({0, len(text), *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    starts: dict[int, list[tuple[int, str, str]]] = {}
    for s, e, k, t in spans:
        starts.setdefault(s, []).append((e, k, t))
    open_: list[tuple[int, str, str]] = []
    out: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        open_ = [x for x in open_ if x[0] > a] + starts.get(a, [])
        kinds = tuple(sorted({k for _, k, _ in open_}))
        out.append(Segment(text[a:b], kinds, " ".join(sorted({t for _, _, t in open_}))))
    return out


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "–"


def ago(ts: float | None, now: float) -> str:
    if not ts:
        return "never"
    s = max(0.0, now - float(ts))
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n:
            return f"{s / n:.0f} {unit} ago"
    return f"{s:.0f} s ago"


def href(url: str | None) -> str | None:
    """A link target only for http(s) URLs: a feed's `javascript:` or `data:` link is shown as text."""
    if not url:
        return None
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None
