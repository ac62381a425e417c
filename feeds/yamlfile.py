"""Reading the YAML files users own (config, feeds, watchlists, gazetteer) safely: no aliases, bounded size,
nesting and node count, so a hostile file costs milliseconds, never gigabytes."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import Node

# An alias (*name) repeats a node; nine nested ones expand to 10⁹ nodes (the "billion laughs"). Hand-written
# config never needs them, so they are refused outright, with the line where one appears.
# Past this many nodes a file is not a config anyone wrote (the shipped gazetteer, the largest, has ~60,000).
MAX_NODES = 500_000
# Deeper nesting than this is not config either; PyYAML's composer recurses once per level.
MAX_DEPTH = 100
# The largest shipped file (places-geonames.yaml) is ~200 KB; a 20 MB config is a mistake or an attack.
MAX_BYTES = 20_000_000


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and caps nodes and depth while composing (before anything is built)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def _mark(self) -> yaml.Mark:
        return self.peek_event().start_mark  # type: ignore[no-untyped-call, no-any-return]

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, "aliases (*name) are not allowed in Marsad's files", event.start_mark)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise ComposerError(None, None, f"more than {MAX_NODES:,} nodes", self._mark())
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", self._mark())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def loads(text: str) -> Any:
    """Parse one YAML document; raises yaml.YAMLError (its problem_mark gives line and column)."""
    if len(text) > MAX_BYTES:
        raise yaml.YAMLError(f"file larger than {MAX_BYTES // 1_000_000} MB")
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def describe(exc: yaml.YAMLError) -> str:
    """A one-line reason: 'line 3 column 9: aliases (*name) are not allowed …'."""
    mark = getattr(exc, "problem_mark", None)
    at = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
    return (at + str(getattr(exc, "problem", None) or exc)).replace("\n", " ")[:300]


def short(value: object, limit: int = 80) -> str:
    """repr() for error messages, cut: a huge value must not become a huge message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
