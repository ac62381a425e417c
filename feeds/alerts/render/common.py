"""What every channel's renderer shares: untrusted text made safe (one line, no bidi tricks, safe links),
the matched sentence split into runs, labels, subjects, signatures, and digest line helpers."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from feeds.alerts.digest import Digest, DigestStory
from feeds.models import Alert, EntityHit

# Longer URLs are not linked: Slack's documented button-URL limit, and more than any real article URL.
URL_MAX = 3000
# Entities listed per kind: an article naming 40 places is still read for its first few.
MAX_ENTITIES = 8
# How far a match may widen to reach its word's edges: clitics and punctuation are a few characters.
WORD_GROW_MAX = 12
# A subject longer than this is cut by most clients anyway; keeps folded headers short.
SUBJECT_MAX = 200
# Bidi embeddings/overrides (U+202A–202E) and isolates (U+2066–2069) let a hostile title reorder what a
# reader sees ("Trojan Source"); Arabic's own marks (RLM U+200F, ALM U+061C) are kept.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# C0/C1 controls and Unicode line/paragraph separators become spaces: headers and one-line texts
# must never carry a line break (email raises on CR/LF; Slack would start a new line).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# Format characters a log line keeps: ZWNJ/ZWJ (Persian/Arabic shaping), LRM, RLM, ALM.
_KEEP_FORMAT = {"\u200c", "\u200d", "\u200e", "\u200f", "\u061c"}
# Outlets named per story in a digest line; the rest are counted ("+4").
MAX_OUTLETS = 5


def clean(text: str, *, strip: bool = True) -> str:
    """Untrusted text → one safe line: HTML entities decoded, bidi controls dropped, controls → spaces."""
    t = _SPACES.sub(" ", _CONTROLS.sub(" ", html.unescape(text).translate(_BIDI_CONTROLS)))
    return t.strip() if strip else t


def safe_url(url: str) -> str | None:
    """An http(s) URL with unsafe characters percent-encoded, or None (javascript:, data:, too long)."""
    u = _CONTROLS.sub("", url.strip()).translate(_BIDI_CONTROLS)
    if urlsplit(u).scheme.lower() not in ("http", "https") or not urlsplit(u).netloc:
        return None
    u = quote(u, safe=":/?#[]@!$&'()*+,;=%~")
    return u if len(u) <= URL_MAX else None


def entity_label(hit: EntityHit) -> str:
    """'Libya (ليبيا)', or just the English name when no Arabic name is known."""
    name, ar = clean(hit.name), clean(hit.name_ar)
    return f"{name} ({ar})" if ar and ar != name else name


def segments(sentence: str, highlights: Iterable[tuple[int, int]]) -> list[tuple[str, bool]]:
    """Split the sentence into (cleaned text, is_match) runs; matches widen to whole words."""
    n = len(sentence)
    spans: list[list[int]] = []
    for s, e in sorted((max(0, a), min(n, b)) for a, b in highlights):
        while s < e and sentence[s].isspace():
            s += 1
        while e > s and sentence[e - 1].isspace():
            e -= 1
        if s >= e:
            continue
        # Slack only bolds *x* at word edges, and Arabic clitics (و، ب، ال) glue to the match; the
        # cap keeps a space-less blob (a URL, a hash) from turning bold whole.
        lo, hi = max(0, s - WORD_GROW_MAX), min(n, e + WORD_GROW_MAX)
        while s > lo and not sentence[s - 1].isspace():
            s -= 1
        while e < hi and not sentence[e].isspace():
            e += 1
        if spans and s <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
    out: list[tuple[str, bool]] = []
    pos = 0
    for s, e in spans:
        out += [(sentence[pos:s], False), (sentence[s:e], True)]
        pos = e
    out.append((sentence[pos:], False))
    return [(clean(t, strip=False), bold) for t, bold in out if t]


def when(published: str | None) -> str:
    if not published:
        return "time unknown"
    try:
        return datetime.fromisoformat(published.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return clean(published)[:40]


def entity_lines(alert: Alert) -> list[tuple[str, str]]:
    out = []
    for label, hits in (("Regions", alert.regions), ("Places", alert.places), ("Actors", alert.actors)):
        if hits:
            names = [entity_label(h) for h in hits[:MAX_ENTITIES]]
            more = f" · +{len(hits) - MAX_ENTITIES} more" if len(hits) > MAX_ENTITIES else ""
            out.append((label, ", ".join(names) + more))
    return out


def watch_label(alert: Alert) -> str:
    return clean(alert.watch_name) or alert.watch_id


def subject(alert: Alert) -> str:
    """'[HIGH] Idlib: <title>' on one cleaned line, for email subjects and push titles."""
    flag = f"BREAKING, {alert.outlets} outlets: " if alert.breaking else ""
    text = f"[{alert.severity.upper()}] {flag}{watch_label(alert)}: {clean(alert.title) or '(untitled)'}"
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def meta(alert: Alert) -> list[tuple[str, str]]:
    meta = [("Source", f"{clean(alert.feed_name) or alert.feed_id} · {when(alert.published)}"),
            ("Watch", f"{watch_label(alert)} · {alert.severity}"), *entity_lines(alert)]
    meta += [("Outlets", str(alert.outlets))] if alert.outlets > 1 else []
    # The id an analyst quotes to `marsad feedback ID relevant|irrelevant` (and finds in the console).
    return [*meta, ("Alert", alert.alert_id)]


def escape_controls(text: str) -> str:
    """Control and invisible format characters shown as \\n, \\x1b, \\u202e (RLM/ALM/ZWNJ kept)."""
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in _KEEP_FORMAT else ch
                   for ch in text)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def is_arabic(text: str) -> bool:
    return bool(_ARABIC.search(text))


def direction(text: str) -> str:
    """The HTML dir/lang attributes for a piece of text: RTL for Arabic, LTR otherwise."""
    return ' dir="rtl" lang="ar"' if is_arabic(text) else ' dir="ltr"'


def signed(payload: dict[str, Any], event: str, delivery: str, secret: str | None,
           now: float) -> tuple[bytes, dict[str, str]]:
    """A JSON body and its headers: event, delivery id (also the Idempotency-Key), timestamp, HMAC."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ts = str(int(now))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Marsad/0.1",
               "X-Marsad-Event": event, "X-Marsad-Delivery": delivery, "Idempotency-Key": delivery,
               "X-Marsad-Timestamp": ts}
    if secret:
        headers["X-Marsad-Signature"] = sign(secret, ts, body)
    return body, headers


def count(n: int, noun: str) -> str:
    """'1 story', '3 stories', '2 watches'."""
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "es" if noun.endswith(("ch", "s")) else noun + "s"
    return f"{n} {plural}"


def outlets_line(s: DigestStory) -> str:
    names = [clean(o) for o in s.outlets[:MAX_OUTLETS]]
    more = f" +{len(s.outlets) - MAX_OUTLETS}" if len(s.outlets) > MAX_OUTLETS else ""
    arts = f" · {s.articles} articles" if s.articles > 1 else ""
    return ", ".join(names) + more + arts


def digest_subject(d: Digest) -> str:
    names = ", ".join(clean(w.watch_name) or w.watch_id for w in d.watches)
    text = f"[Marsad digest] {count(d.stories, 'story')}: {names}"
    return text if len(text) <= 200 else text[:199] + "…"
