"""Render digests (alerts grouped by watch and story, with outlets) and short notices for each channel."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Literal
from zoneinfo import ZoneInfo

from feeds.alerts import (
    _MRKDWN_LOOKALIKES,
    SLACK_BLOCKS_MAX,
    SLACK_HEADER_MAX,
    SLACK_SECTION_MAX,
    _fit,
    clean,
    escape_controls,
    safe_url,
    sign,
    slack_escape,
)
from feeds.models import SEVERITY_ORDER, Alert

# Outlets named per story; the rest are counted ("+4").
MAX_OUTLETS = 5
# Longer links are left out of a digest line: a story line must fit one 3,000-character section.
DIGEST_URL_MAX = 1000
# Blocks kept for the header and the "+N more" line within Slack's 50.
_SLACK_RESERVED = 3
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")

NoticeKind = Literal["throttle", "spike", "ops", "resolved"]


@dataclass(frozen=True)
class DigestStory:
    alert: Alert  # the story's first alert for this watch: title, link, time
    outlets: tuple[str, ...]  # display names of the outlets that carried the story
    articles: int


@dataclass(frozen=True)
class DigestWatch:
    watch_id: str
    watch_name: str
    severity: str
    stories: tuple[DigestStory, ...]


@dataclass(frozen=True)
class Digest:
    sink_id: str
    period_end: float  # Unix seconds: the boundary this digest is for
    tz: str
    watches: tuple[DigestWatch, ...]

    @property
    def key(self) -> str:
        """Stable per (sink, period): a re-sent digest carries the same Message-ID / delivery id."""
        return hashlib.sha256(f"{self.sink_id}\x1f{self.period_end:.0f}".encode()).hexdigest()[:32]

    @property
    def stories(self) -> int:
        return sum(len(w.stories) for w in self.watches)

    def when(self) -> str:
        return datetime.fromtimestamp(self.period_end, ZoneInfo(self.tz)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class Notice:
    """A one-off message: "N more in digest", a coverage spike, an ops problem or its resolution."""

    kind: NoticeKind
    title: str
    lines: tuple[str, ...]
    key: str  # stable id of the event (delivery id, Message-ID)
    severity: str = "medium"


StoryInfo = Callable[[str], "tuple[tuple[str, ...], int] | None"]


def build_digest(sink_id: str, period_end: float, tz: str, alerts: Iterable[Alert], story: StoryInfo) -> Digest:
    """Group alerts by watch, then story (one entry per story, its earliest alert); outlets and article
    counts come from `story(story_id)` (the story store), falling back to the alert's own feed."""
    by_watch: dict[str, dict[str, Alert]] = {}
    for a in alerts:
        stories = by_watch.setdefault(a.watch_id, {})
        old = stories.get(a.story_id)
        if old is None or (a.published or "~") < (old.published or "~"):
            stories[a.story_id] = a
    watches = []
    for stories in by_watch.values():
        items = []
        for a in stories.values():
            info = story(a.story_id)
            outlets, n = info if info else ((a.feed_name or a.feed_id,), max(1, a.outlets))
            items.append(DigestStory(a, tuple(outlets), n))
        items.sort(key=lambda s: (-len(s.outlets), -s.articles, s.alert.published or ""))
        first = next(iter(stories.values()))
        watches.append(DigestWatch(first.watch_id, first.watch_name, first.severity, tuple(items)))
    watches.sort(key=lambda w: (-SEVERITY_ORDER.get(w.severity, 0), w.watch_name))
    return Digest(sink_id, period_end, tz, tuple(watches))


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


def render_digest_text(d: Digest) -> str:
    """Plain lines: email text part, Apprise body, and (control characters escaped) the log line."""
    out = [f"Marsad digest: {count(d.stories, 'story')} in {count(len(d.watches), 'watch')}, until {d.when()}", ""]
    for w in d.watches:
        out.append(f"{clean(w.watch_name) or w.watch_id} ({w.severity}): {count(len(w.stories), 'story')}")
        for s in w.stories:
            out += [f"  • {clean(s.alert.title) or '(untitled)'}", f"    {outlets_line(s)}",
                    f"    {safe_url(s.alert.url) or '(no valid link)'}"]
        out.append("")
    return "\n".join(out)


def _story_mrkdwn(s: DigestStory) -> str:
    title = slack_escape((clean(s.alert.title) or "(untitled)").translate(_MRKDWN_LOOKALIKES))[:300]
    url = safe_url(s.alert.url)
    url = url if url and len(url) <= DIGEST_URL_MAX else None
    # A link we build from a checked http(s) URL; the label is escaped, so `|` `>` cannot end it early.
    head = f"<{slack_escape(url)}|{title}>" if url else title
    return f"• {head}\n      {slack_escape(outlets_line(s).translate(_MRKDWN_LOOKALIKES))}"


def render_digest_slack(d: Digest) -> dict[str, Any]:
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


def _dir(text: str) -> str:
    return ' dir="rtl" lang="ar"' if _ARABIC.search(text) else ' dir="ltr"'


def render_digest_email(d: Digest, sender: str, to: Sequence[str], domain: str = "marsad.local") -> EmailMessage:
    """Multipart text + HTML; each title in its own direction (Arabic RTL, the frame LTR)."""
    e = html.escape
    msg = _message(digest_subject(d), sender, to, f"<marsad.digest.{d.key}@{_host(domain)}>",
                   f"Marsad digest <digest.{_host(domain)}>")
    msg.set_content(render_digest_text(d) + "\n-- \nMarsad\n")
    parts = [f"<h2>Marsad digest: {count(d.stories, 'story')}</h2><p>until {e(d.when())}</p>"]
    for w in d.watches:
        parts.append(f"<h3{_dir(w.watch_name)}>{e(clean(w.watch_name) or w.watch_id)} "
                     f"<small>({e(w.severity)})</small></h3><ul>")
        for s in w.stories:
            title, url = clean(s.alert.title) or "(untitled)", safe_url(s.alert.url)
            link = f'<a href="{e(url)}">{e(title)}</a>' if url else e(title)
            parts.append(f"<li{_dir(title)}>{link}<br><small dir=\"ltr\">{e(outlets_line(s))}</small></li>")
        parts.append("</ul>")
    msg.add_alternative('<!DOCTYPE html><html dir="ltr"><head><meta charset="utf-8"></head><body>'
                        + "".join(parts) + "</body></html>\n", subtype="html")
    return msg


def _host(domain: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", domain).strip("-.").lower() or "marsad.local"


def _message(subject: str, sender: str, to: Sequence[str], mid: str, list_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = clean(subject)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = mid
    msg["List-Id"] = list_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not reply
    return msg


def _signed(payload: dict[str, Any], event: str, delivery: str, secret: str | None,
            now: float) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ts = str(int(now))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Marsad/0.1",
               "X-Marsad-Event": event, "X-Marsad-Delivery": delivery, "Idempotency-Key": delivery,
               "X-Marsad-Timestamp": ts}
    if secret:
        headers["X-Marsad-Signature"] = sign(secret, ts, body)
    return body, headers


def render_digest_webhook(d: Digest, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    """JSON (data as the feeds gave it: the receiver escapes for its display) + timestamp/HMAC headers."""
    payload = {"type": "marsad.digest", "version": 1, "id": d.key, "sink": d.sink_id,
               "period_end": datetime.fromtimestamp(d.period_end, ZoneInfo(d.tz)).isoformat(),
               "watches": [{"watch_id": w.watch_id, "watch_name": w.watch_name, "severity": w.severity,
                            "stories": [{"story_id": s.alert.story_id, "outlets": list(s.outlets),
                                         "articles": s.articles, "alert": s.alert.to_dict()}
                                        for s in w.stories]} for w in d.watches]}
    return _signed(payload, "digest", d.key, secret, now)


def render_notice_text(n: Notice) -> str:
    return "\n".join([clean(n.title), *(clean(line) for line in n.lines)])


def render_notice_log(n: Notice) -> str:
    return escape_controls(" · ".join([n.title, *n.lines]))


def render_notice_slack(n: Notice) -> dict[str, Any]:
    """A header and a plain_text section: nothing in a notice (feed names, errors) becomes live mrkdwn."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {
        "type": "plain_text", "text": _fit(clean(n.title), SLACK_HEADER_MAX)[0], "emoji": False}}]
    body = "\n".join(clean(line) for line in n.lines)
    if body:
        blocks.append({"type": "section", "text": {"type": "plain_text", "emoji": False,
                                                   "text": _fit(body, SLACK_SECTION_MAX)[0]}})
    return {"text": _fit(clean(n.title), SLACK_SECTION_MAX)[0], "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


def render_notice_email(n: Notice, sender: str, to: Sequence[str], domain: str = "marsad.local") -> EmailMessage:
    msg = _message(f"[Marsad {n.kind}] {n.title}"[:200], sender, to,
                   f"<marsad.{n.kind}.{hashlib.sha256(n.key.encode()).hexdigest()[:32]}@{_host(domain)}>",
                   f"Marsad {n.kind} <{n.kind}.{_host(domain)}>")
    msg.set_content(render_notice_text(n) + "\n\n-- \nMarsad\n")
    return msg


def render_notice_webhook(n: Notice, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    delivery = hashlib.sha256(n.key.encode()).hexdigest()[:32]
    payload = {"type": "marsad.notice", "version": 1, "id": delivery, "kind": n.kind, "title": n.title,
               "lines": list(n.lines), "severity": n.severity}
    return _signed(payload, "notice", delivery, secret, now)
