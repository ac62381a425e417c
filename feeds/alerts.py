"""Render one Alert for each channel (Slack Block Kit, email, signed JSON webhook, log line), safely."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, urlsplit

from feeds.models import Alert, EntityHit

# Slack's documented limits: header text 150 chars, section text 3,000, section field 2,000,
# button label 75, button URL 3,000, 50 blocks per message.
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_URL_MAX = 3000
SLACK_BLOCKS_MAX = 50
# Entities listed per kind: an article naming 40 places is still read for its first few.
MAX_ENTITIES = 8
# How far a match may widen to reach its word's edges: clitics and punctuation are a few characters.
WORD_GROW_MAX = 12
# A subject longer than this is cut by most clients anyway; keeps folded headers short.
SUBJECT_MAX = 200
# The log line is for humans scanning logs; the full title is in the alert itself.
TEXT_TITLE_MAX = 200

# Bidi embeddings/overrides (U+202A–202E) and isolates (U+2066–2069) let a hostile title reorder what a
# reader sees ("Trojan Source"); Arabic's own marks (RLM U+200F, ALM U+061C) are kept.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# C0/C1 controls and Unicode line/paragraph separators become spaces: headers and one-line texts
# must never carry a line break (email raises on CR/LF; Slack would start a new line).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# mrkdwn formatting characters from untrusted text would unbalance our *bold*: show look-alikes.
_MRKDWN_LOOKALIKES = str.maketrans({"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"})
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# Format characters a log line keeps: ZWNJ/ZWJ (Persian/Arabic shaping), LRM, RLM, ALM.
_KEEP_FORMAT = {"\u200c", "\u200d", "\u200e", "\u200f", "\u061c"}
_SEVERITY_EMOJI = {"low": ":large_blue_circle:", "medium": ":large_yellow_circle:",
                   "high": ":large_orange_circle:", "critical": ":red_circle:"}


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
    return u if len(u) <= SLACK_URL_MAX else None


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


def slack_escape(text: str) -> str:
    return "".join(_SLACK_ESCAPES.get(ch, ch) for ch in text)


def _fit(text: str, room: int) -> tuple[str, bool]:
    """Escape for Slack within `room` characters (escaped length), cutting with "…", never mid-entity."""
    escaped = slack_escape(text)
    if len(escaped) <= room:
        return escaped, False
    out, used = [], 0
    for ch in text:
        piece = _SLACK_ESCAPES.get(ch, ch)
        if used + len(piece) > room - 1:
            break
        out.append(piece)
        used += len(piece)
    return ("".join(out).rstrip() + "…" if room >= 1 else ""), True


def _mrkdwn_sentence(parts: list[tuple[str, bool]], limit: int) -> str:
    """The sentence as mrkdwn with matches in *bold*, escaped, at most `limit` characters."""
    out, used = [], 0
    for text, bold in parts:
        piece, cut = _fit(text.translate(_MRKDWN_LOOKALIKES), limit - used - (2 if bold else 0))
        if bold:
            core = (piece[:-1] if cut and piece else piece).strip()
            piece = (f"*{core}*" + ("…" if cut else "")) if core else ""
        out.append(piece)
        used += len(piece)
        if cut:
            break
    return "".join(out)


def _when(published: str | None) -> str:
    if not published:
        return "time unknown"
    try:
        return datetime.fromisoformat(published.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return clean(published)[:40]


def _entity_lines(alert: Alert) -> list[tuple[str, str]]:
    out = []
    for label, hits in (("Regions", alert.regions), ("Places", alert.places), ("Actors", alert.actors)):
        if hits:
            names = [entity_label(h) for h in hits[:MAX_ENTITIES]]
            more = f" · +{len(hits) - MAX_ENTITIES} more" if len(hits) > MAX_ENTITIES else ""
            out.append((label, ", ".join(names) + more))
    return out


def render_slack(alert: Alert) -> dict[str, Any]:
    """Block Kit for a Slack incoming webhook; nothing from a feed can become a mention or a link."""
    title = clean(alert.title) or "(untitled)"
    source = f"{clean(alert.feed_name) or alert.feed_id} · {_when(alert.published)}"
    if alert.outlets > 1:
        source += f" · {alert.outlets} outlets"
    if alert.follow_up:
        source = f"Follow-up: also reported by {source}"
    severity = alert.severity.lower()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _fit(title, SLACK_HEADER_MAX)[0],
                                    "emoji": False}},
        {"type": "context", "elements": [{"type": "plain_text", "text": _fit(source, SLACK_FIELD_MAX)[0],
                                          "emoji": False}]},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "verbatim": True, "text": "*Watch*\n" + _fit(
                _watch(alert).translate(_MRKDWN_LOOKALIKES), SLACK_FIELD_MAX - 10)[0]},
            {"type": "mrkdwn", "verbatim": True,
             "text": f"*Severity*\n{_SEVERITY_EMOJI.get(severity, '')} {slack_escape(severity[:9].upper())}"},
        ]},
    ]
    lines = [f"*{label}:* {text.translate(_MRKDWN_LOOKALIKES)}" for label, text in _entity_lines(alert)]
    if lines:  # the labels hold no & < >, so escaping the whole text only touches entity names
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "verbatim": True,
                                                   "text": _fit("\n".join(lines), SLACK_SECTION_MAX)[0]}})
    parts = segments(alert.sentence, alert.highlights)
    if "".join(t for t, _ in parts).strip():
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "verbatim": True, "text": _mrkdwn_sentence(parts, SLACK_SECTION_MAX)}})
    url = safe_url(alert.url)
    if url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": "open_article", "url": url,
            "text": {"type": "plain_text", "text": "Open article", "emoji": False}}]})
    fallback = f"[{severity}] {clean(alert.watch_name)}: {title} ({clean(alert.feed_name) or alert.feed_id})"
    if alert.follow_up:
        fallback = f"Follow-up, {alert.outlets} outlets: {fallback}"
    return {"text": _fit(fallback, SLACK_SECTION_MAX)[0], "blocks": blocks[:SLACK_BLOCKS_MAX],
            "unfurl_links": False, "unfurl_media": False}


def message_id(alert: Alert, to: Sequence[str], domain: str) -> str:
    """Same (watch, story, recipients) → same Message-ID, so a resend is recognisable as one."""
    rcpt = ",".join(sorted({a.strip().lower() for a in to}))
    digest = hashlib.sha256(f"{alert.watch_id}\x1f{alert.story_id}\x1f{rcpt}".encode()).hexdigest()[:40]
    return f"<marsad.{digest}@{_label(domain) or 'marsad.local'}>"


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.").lower()


def _watch(alert: Alert) -> str:
    return clean(alert.watch_name) or alert.watch_id


def subject(alert: Alert) -> str:
    """'[HIGH] Idlib: <title>' on one cleaned line, for email subjects and push titles."""
    text = f"[{alert.severity.upper()}] {_watch(alert)}: {clean(alert.title) or '(untitled)'}"
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def _meta(alert: Alert) -> list[tuple[str, str]]:
    meta = [("Source", f"{clean(alert.feed_name) or alert.feed_id} · {_when(alert.published)}"),
            ("Watch", f"{_watch(alert)} · {alert.severity}"), *_entity_lines(alert)]
    return meta + ([("Outlets", str(alert.outlets))] if alert.outlets > 1 else [])


def render_plain(alert: Alert) -> str:
    """A few plain lines (title, metadata, the sentence with *match*, the link): email text part, Apprise."""
    parts = segments(alert.sentence, alert.highlights)
    text = [clean(alert.title) or "(untitled)", ""] + [f"{k}: {v}" for k, v in _meta(alert)]
    if parts:
        text += ["", "".join(f"*{t}*" if bold else t for t, bold in parts).strip()]
    return "\n".join([*text, "", safe_url(alert.url) or "(no valid link)"]) + "\n"


def render_email(alert: Alert, sender: str, to: Sequence[str], domain: str = "marsad.local") -> EmailMessage:
    """Multipart text + HTML (RTL for Arabic); every header built from cleaned, single-line text."""
    title = clean(alert.title) or "(untitled)"
    msg = EmailMessage()
    msg["Subject"] = subject(alert)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = message_id(alert, to, domain)
    list_name = re.sub(r'[<>"\\]', "", _watch(alert))
    msg["List-Id"] = f"{list_name} <{_label(alert.watch_id) or 'watch'}.{_label(domain)}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not reply
    msg["X-Marsad-Watch"] = _label(alert.watch_id)
    msg["X-Marsad-Story"] = _label(alert.story_id)
    msg.set_content(render_plain(alert) + "\n-- \nMarsad\n")  # "-- " line: the standard signature marker
    parts = segments(alert.sentence, alert.highlights)
    url = safe_url(alert.url)
    rtl = bool(_ARABIC.search(title) or _ARABIC.search(alert.sentence))
    d = ' dir="rtl" lang="ar"' if rtl else ' dir="ltr"'
    e = html.escape
    head = f'<a href="{e(url)}">{e(title)}</a>' if url else e(title)
    rows = "".join(f"<tr><th align=\"left\">{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _meta(alert))
    sentence = "".join(f"<strong>{e(t)}</strong>" if bold else e(t) for t, bold in parts).strip()
    body = (f"<!DOCTYPE html><html{d}><head><meta charset=\"utf-8\"><title>{e(title)}</title></head>"
            f"<body{d}><h2{d}>{head}</h2><p{d}>{sentence}</p>"
            f'<table dir="ltr" cellpadding="2">{rows}</table>'
            + (f'<p><a href="{e(url)}">Open article</a></p>' if url else "") + "</body></html>\n")
    msg.add_alternative(body, subtype="html")
    return msg


def event_id(alert: Alert) -> str:
    """Stable per (watch, story): receivers can drop the rare at-least-once duplicate with it."""
    return hashlib.sha256(f"{alert.watch_id}\x1f{alert.story_id}".encode()).hexdigest()[:32]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def render_webhook(alert: Alert, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    """JSON body (the alert as data, unescaped: the receiver renders it) + timestamp and HMAC headers."""
    payload = {"type": "marsad.alert", "version": 1, "id": event_id(alert), "alert": alert.to_dict(),
               "summary": render_text(alert)}
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ts = str(int(now))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Marsad/0.1",
               "X-Marsad-Event": "alert", "X-Marsad-Delivery": event_id(alert),
               "Idempotency-Key": event_id(alert), "X-Marsad-Timestamp": ts}
    if secret:
        headers["X-Marsad-Signature"] = sign(secret, ts, body)
    return body, headers


def escape_controls(text: str) -> str:
    """Control and invisible format characters shown as \\n, \\x1b, \\u202e (RLM/ALM/ZWNJ kept)."""
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in _KEEP_FORMAT else ch
                   for ch in text)


def render_text(alert: Alert) -> str:
    """One short plain line for logs and plain-text channels."""
    title = alert.title if len(alert.title) <= TEXT_TITLE_MAX else alert.title[: TEXT_TITLE_MAX - 1] + "…"
    line = (f"[{alert.severity}] {alert.watch_name} ({alert.watch_id}): {title} — "
            f"{alert.feed_name or alert.feed_id}, {alert.published or 'time unknown'} {alert.url}")
    return escape_controls(line)
