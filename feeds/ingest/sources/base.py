"""What a source kind is (how its feeds are asked for and read into entries) and the registry of kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from feeds.errors import InvalidInput
from feeds.models import Entry, FeedSource


class Parser(Protocol):
    def __call__(self, body: bytes, feed: FeedSource, base_url: str, *, charset: str | None = None) -> list[Entry]:
        """Entries of a fetched body (already size-capped), or raise Permanent with the reason."""
        ...


@dataclass(frozen=True)
class SourceKind:
    """One kind of source: `kind:` in feeds.yaml names it; `accept` is the Accept header of its polls."""

    name: str
    accept: str
    parse: Parser


_KINDS: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    """Add a kind (each module of feeds/ingest/sources/ registers its own when imported)."""
    if kind.name in _KINDS:
        raise ValueError(f"source kind {kind.name!r} registered twice")
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> SourceKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise InvalidInput(f"unknown source kind {name!r} (known: {', '.join(sorted(_KINDS))})") from None


def names() -> list[str]:
    return sorted(_KINDS)
