"""Slack Block Kit: alerts, digests and notices; nothing from a feed can become a mention, a link or markup."""

from __future__ import annotations

from typing import Any

from feeds.alerts.digest import Digest, DigestStory, Notice
from feeds.alerts.render.common import (
    clean,
    count,
    digest_subject,
    entity_lines,
    outlets_line,
    safe_url,
    segments,
    watch_label,
    when,
)
from feeds.models import Alert

# Slack's documented limits: header text 150 chars, section text 3,000, section field 2,000,
# button label 75, 50 blocks per message.
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_BLOCKS_MAX = 50
# Longer links are left out of a digest line: a story line must fit one 3,000-character section.
DIGEST_URL_MAX = 1000
# Blocks kept for the header and the "+N more" line within Slack's 50.
_SLACK_RESERVED = 3
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# mrkdwn formatting characters from untrusted text would unbalance our *bold*: show look-alikes.
_MRKDWN_LOOKALIKES = str.maketrans({"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"})
_SEVERITY_EMOJI = {"low": ":large_blue_circle:", "medium": ":large_yellow_circle:",
                   "high": ":large_orange_circle:", "critical": ":red_circle:"}


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


def render_alert(alert: Alert) -> dict[str, Any]:
    """Block Kit for a Slack incoming webhook; nothing from a feed can become a mention or a link."""
    title = clean(alert.title) or "(untitled)"
    source = f"{clean(alert.feed_name) or alert.feed_id} · {when(alert.published)}"
    if alert.outlets > 1:
        source += f" · {alert.outlets} outlets"
    if alert.follow_up:
        source = f"Follow-up: also reported by {source}"
    if alert.breaking:
        source = f"Breaking: {alert.outlets} outlets within hours · {source}"
    severity = alert.severity.lower()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _fit(title, SLACK_HEADER_MAX)[0],
                                    "emoji": False}},
        {"type": "context", "elements": [{"type": "plain_text", "text": _fit(source, SLACK_FIELD_MAX)[0],
                                          "emoji": False}]},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "verbatim": True, "text": "*Watch*\n" + _fit(
                watch_label(alert).translate(_MRKDWN_LOOKALIKES), SLACK_FIELD_MAX - 10)[0]},
            {"type": "mrkdwn", "verbatim": True,
             "text": f"*Severity*\n{_SEVERITY_EMOJI.get(severity, '')} {slack_escape(severity[:9].upper())}"},
        ]},
    ]
    lines = [f"*{label}:* {text.translate(_MRKDWN_LOOKALIKES)}" for label, text in entity_lines(alert)]
    if lines:  # the labels hold no & < >, so escaping the whole text only touches entity names
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "verbatim": True,
                                                   "text": _fit("\n".join(lines), SLACK_SECTION_MAX)[0]}})
    parts = segments(alert.sentence, alert.highlights)
    if "".join(t for t, _ in parts).strip():
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "verbatim": True, "text": _mrkdwn_sentence(parts, SLACK_SECTION_MAX)}})
    url, console = safe_url(alert.url), safe_url(alert.console_url) if alert.console_url else None
    buttons = [{"type": "button", "action_id": action, "url": link,
                "text": {"type": "plain_text", "text": label, "emoji": False}}
               for action, link, label in (("open_article", url, "Open article"), ("open_console", console,
                                                                                   "Open in Marsad")) if link]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "context", "elements": [{"type": "plain_text", "emoji": False, "text": (
        f"Alert {alert.alert_id} · marsad feedback {alert.alert_id} relevant|irrelevant")}]})
    fallback = f"[{severity}] {clean(alert.watch_name)}: {title} ({clean(alert.feed_name) or alert.feed_id})"
    if alert.follow_up:
        fallback = f"Follow-up, {alert.outlets} outlets: {fallback}"
    return {"text": _fit(fallback, SLACK_SECTION_MAX)[0], "blocks": blocks[:SLACK_BLOCKS_MAX],
            "unfurl_links": False, "unfurl_media": False}


def _story_mrkdwn(s: DigestStory) -> str:
    title = slack_escape((clean(s.alert.title) or "(untitled)").translate(_MRKDWN_LOOKALIKES))[:300]
    url = safe_url(s.alert.url)
    url = url if url and len(url) <= DIGEST_URL_MAX else None
    # A link we build from a checked http(s) URL; the label is escaped, so `|` `>` cannot end it early.
    head = f"<{slack_escape(url)}|{title}>" if url else title
    return f"• {head}\n      {slack_escape(outlets_line(s).translate(_MRKDWN_LOOKALIKES))}"


def render_digest(d: Digest) -> dict[str, Any]:
    """Block Kit: a header, then per watch one section listing its stories (split at 3,000 characters)."""
    head = f"Marsad digest · {count(d.stories, 'story')} · {d.when()}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {
        "type": "plain_text", "text": _fit(head, SLACK_HEADER_MAX)[0], "emoji": False}}]
    shown, room = 0, SLACK_BLOCKS_MAX - _SLACK_RESERVED
    for w in d.watches:
        if len(blocks) >= room:
            break
        name = slack_escape((clean(w.watch_name) or w.watch_id).translate(_MRKDWN_LOOKALIKES))
        chunk = f"*{name}* · {slack_escape(w.severity.upper()[:9])} · {count(len(w.stories), 'story')}"
        for s in w.stories:
            line = _story_mrkdwn(s)
            if len(chunk) + 1 + len(line) > SLACK_SECTION_MAX:
                blocks.append(_section(chunk))
                chunk = ""
                if len(blocks) >= room:
                    break
            chunk = f"{chunk}\n{line}" if chunk else line
            shown += 1
        if chunk:
            blocks.append(_section(chunk))
    if shown < d.stories:
        more = f"+{count(d.stories - shown, 'more story')} (see the email or webhook digest)"
        blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": more, "emoji": False}]})
    return {"text": _fit(digest_subject(d), SLACK_SECTION_MAX)[0], "blocks": blocks[:SLACK_BLOCKS_MAX],
            "unfurl_links": False, "unfurl_media": False}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "verbatim": True, "text": text[:SLACK_SECTION_MAX]}}


def render_notice(n: Notice) -> dict[str, Any]:
    """A header and a plain_text section: nothing in a notice (feed names, errors) becomes live mrkdwn."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {
        "type": "plain_text", "text": _fit(clean(n.title), SLACK_HEADER_MAX)[0], "emoji": False}}]
    body = "\n".join(clean(line) for line in n.lines)
    if body:
        blocks.append({"type": "section", "text": {"type": "plain_text", "emoji": False,
                                                   "text": _fit(body, SLACK_SECTION_MAX)[0]}})
    return {"text": _fit(clean(n.title), SLACK_SECTION_MAX)[0], "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}
