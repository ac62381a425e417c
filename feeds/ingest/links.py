"""`<link …>` tags of an HTML page as attribute maps: one tolerant regex reader for canonical and feed links."""

from __future__ import annotations

import re
from collections.abc import Iterator

_LINK_TAG = re.compile(r"<link\b[^<>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def link_tags(html: str) -> Iterator[dict[str, str]]:
    """Each `<link>` tag's attributes (names lower-cased), in page order. Both regexes are linear: no nested
    quantifiers, and a tag ends at the first `>` and holds no `<` (a failed scan stops at the next tag)."""
    for tag in _LINK_TAG.findall(html):
        yield {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _ATTR.finditer(tag)}
