"""Email: multipart text + HTML messages (RTL where the text is Arabic) for alerts, digests and notices."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render.common import (
    clean,
    count,
    digest_subject,
    direction,
    is_arabic,
    meta,
    outlets_line,
    safe_url,
    segments,
    subject,
    watch_label,
)
from feeds.alerts.render.text import render_digest as digest_text
from feeds.alerts.render.text import render_notice as notice_text
from feeds.alerts.render.text import render_plain
from feeds.models import Alert


class _Policy(EmailPolicy):
    """The default policy, but the Subject folded by `email.header.Header`. The default folder puts the space
    between two words that meet at a fold *between* two encoded words, where RFC 2047 decoders drop it: an
    Arabic subject arrived as "روسيحول" for "روسي حول". Header keeps every space inside an encoded word."""

    def fold(self, name: str, value: Any) -> str:
        if name.lower() != "subject":
            folded: str = super().fold(name, value)
            return folded
        return f"{name}: {Header(str(value), 'utf-8', header_name=name).encode(linesep=self.linesep)}{self.linesep}"

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() != "subject":
            return super().fold_binary(name, value)
        return self.fold(name, value).encode("ascii")


POLICY = _Policy()


def message_id(alert: Alert, to: Sequence[str], domain: str) -> str:
    """Same (watch, story, recipients) → same Message-ID, so a resend is recognisable as one."""
    rcpt = ",".join(sorted({a.strip().lower() for a in to}))
    digest = hashlib.sha256(f"{alert.watch_id}\x1f{alert.story_id}\x1f{rcpt}".encode()).hexdigest()[:40]
    return f"<marsad.{digest}@{_label(domain) or 'marsad.local'}>"


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.").lower()


def render_alert(alert: Alert, sender: str, to: Sequence[str], domain: str = "marsad.local") -> EmailMessage:
    """Multipart text + HTML (RTL for Arabic); every header built from cleaned, single-line text."""
    title = clean(alert.title) or "(untitled)"
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject(alert)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = message_id(alert, to, domain)
    list_name = re.sub(r'[<>"\\]', "", watch_label(alert))
    msg["List-Id"] = f"{list_name} <{_label(alert.watch_id) or 'watch'}.{_label(domain)}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not reply
    msg["X-Marsad-Watch"] = _label(alert.watch_id)
    msg["X-Marsad-Story"] = _label(alert.story_id)
    msg["X-Marsad-Alert"] = alert.alert_id
    msg.set_content(render_plain(alert) + "\n-- \nMarsad\n")  # "-- " line: the standard signature marker
    parts = segments(alert.sentence, alert.highlights)
    url = safe_url(alert.url)
    console = safe_url(alert.console_url) if alert.console_url else None
    rtl = is_arabic(title) or is_arabic(alert.sentence)
    d = ' dir="rtl" lang="ar"' if rtl else ' dir="ltr"'
    e = html.escape
    head = f'<a href="{e(url)}">{e(title)}</a>' if url else e(title)
    rows = "".join(f"<tr><th align=\"left\">{e(k)}</th><td>{e(v)}</td></tr>" for k, v in meta(alert))
    sentence = "".join(f"<strong>{e(t)}</strong>" if bold else e(t) for t, bold in parts).strip()
    body = (f"<!DOCTYPE html><html{d}><head><meta charset=\"utf-8\"><title>{e(title)}</title></head>"
            f"<body{d}><h2{d}>{head}</h2><p{d}>{sentence}</p>"
            f'<table dir="ltr" cellpadding="2">{rows}</table>'
            + (f'<p><a href="{e(url)}">Open article</a></p>' if url else "")
            + (f'<p><a href="{e(console)}">Open in Marsad</a></p>' if console else "") + "</body></html>\n")
    msg.add_alternative(body, subtype="html")
    return msg


def render_digest(d: Digest, sender: str, to: Sequence[str], domain: str = "marsad.local") -> EmailMessage:
    """Multipart text + HTML; each title in its own direction (Arabic RTL, the frame LTR)."""
    e = html.escape
    msg = _message(digest_subject(d), sender, to, f"<marsad.digest.{d.key}@{_host(domain)}>",
                   f"Marsad digest <digest.{_host(domain)}>")
    msg.set_content(digest_text(d) + "\n-- \nMarsad\n")
    parts = [f"<h2>Marsad digest: {count(d.stories, 'story')}</h2><p>until {e(d.when())}</p>"]
    for w in d.watches:
        parts.append(f"<h3{direction(w.watch_name)}>{e(clean(w.watch_name) or w.watch_id)} "
                     f"<small>({e(w.severity)})</small></h3><ul>")
        for s in w.stories:
            title, url = clean(s.alert.title) or "(untitled)", safe_url(s.alert.url)
            link = f'<a href="{e(url)}">{e(title)}</a>' if url else e(title)
            parts.append(f"<li{direction(title)}>{link}<br><small dir=\"ltr\">{e(outlets_line(s))}</small></li>")
        parts.append("</ul>")
    msg.add_alternative('<!DOCTYPE html><html dir="ltr"><head><meta charset="utf-8"></head><body>'
                        + "".join(parts) + "</body></html>\n", subtype="html")
    return msg


def _host(domain: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", domain).strip("-.").lower() or "marsad.local"


def _message(subject: str, sender: str, to: Sequence[str], mid: str, list_id: str) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = clean(subject)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = mid
    msg["List-Id"] = list_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not reply
    return msg


def render_notice(n: Notice, sender: str, to: Sequence[str], domain: str = "marsad.local") -> EmailMessage:
    msg = _message(f"[Marsad {n.kind}] {n.title}"[:200], sender, to,
                   f"<marsad.{n.kind}.{hashlib.sha256(n.key.encode()).hexdigest()[:32]}@{_host(domain)}>",
                   f"Marsad {n.kind} <{n.kind}.{_host(domain)}>")
    msg.set_content(notice_text(n) + "\n\n-- \nMarsad\n")
    return msg
