"""The text of fetched bytes: BOM, declared charset when it fits the bytes, else sniffing Arabic code pages."""

from __future__ import annotations

import re
from collections.abc import Mapping

from requests.structures import CaseInsensitiveDict

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{2,40})""", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_LATIN = {"latin_1", "iso8859_1", "cp1252", "ascii"}  # often declared by Arabic sites that really send cp1256
_ARABIC_LETTER = re.compile("[\u0621-\u064A]")
_LATIN_ACCENT = re.compile("[\u00C0-\u00FF]")


def _codec(label: str | None) -> str | None:
    import codecs

    if not label:
        return None
    try:
        return codecs.lookup(label.strip().lower()).name.replace("-", "_")
    except LookupError:
        return None


def _arabic_score(text: str) -> int:
    # Arabic letters count for; U+FFFD (undefined byte) and accented Latin letters (cp1256 maps a few
    # there) count against, so the legacy Arabic code page that reads as words wins.
    return len(_ARABIC_LETTER.findall(text)) - 5 * text.count("\ufffd") - 2 * len(_LATIN_ACCENT.findall(text))


def decode_html(body: bytes, headers: Mapping[str, str]) -> str:
    """Text of an HTML page: BOM, then <meta>/header charset when it fits the bytes, then sniffing."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, errors="replace")
    try:
        return body.decode("utf-8")  # valid UTF-8 with non-ASCII bytes is practically never an accident
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(body[:8192])
    header = _HEADER_CHARSET.search(str(CaseInsensitiveDict(headers).get("Content-Type") or ""))
    declared = [c for c in (_codec(meta.group(1).decode("ascii") if meta else None),
                            _codec(header.group(1) if header else None)) if c and c not in ("utf_8", "utf_8_sig")]
    sniff = {name: body.decode(name, errors="replace") for name in ("cp1256", "iso8859_6")}
    best = max(sniff, key=lambda n: _arabic_score(sniff[n]))
    for name in declared:
        try:
            text = body.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name in _LATIN and _arabic_score(sniff[best]) > _arabic_score(text) + 20:
            return sniff[best]  # a Latin label on bytes that read as Arabic in an Arabic code page
        return text
    if _arabic_score(sniff[best]) > 0:
        return sniff[best]
    return body.decode("cp1252", errors="replace")
