"""Plain text: the email text part and Apprise body, the one-line log form, digest and notice texts."""

from __future__ import annotations

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render.common import clean, count, escape_controls, meta, outlets_line, safe_url, segments
from feeds.models import Alert

# The log line is for humans scanning logs; the full title is in the alert itself.
TEXT_TITLE_MAX = 200


def render_plain(alert: Alert) -> str:
    """A few plain lines (title, metadata, the sentence with *match*, the link): email text part, Apprise."""
    parts = segments(alert.sentence, alert.highlights)
    text = [clean(alert.title) or "(untitled)", ""] + [f"{k}: {v}" for k, v in meta(alert)]
    if parts:
        text += ["", "".join(f"*{t}*" if bold else t for t, bold in parts).strip()]
    console = safe_url(alert.console_url) if alert.console_url else None
    links = [safe_url(alert.url) or "(no valid link)"] + ([f"In Marsad: {console}"] if console else [])
    return "\n".join([*text, "", *links]) + "\n"


def render_line(alert: Alert) -> str:
    """One short plain line for logs and plain-text channels."""
    title = alert.title if len(alert.title) <= TEXT_TITLE_MAX else alert.title[: TEXT_TITLE_MAX - 1] + "…"
    line = (f"[{alert.severity}] {alert.watch_name} ({alert.watch_id}): {title} — "
            f"{alert.feed_name or alert.feed_id}, {alert.published or 'time unknown'} {alert.url}")
    return escape_controls(line)


def render_digest(d: Digest) -> str:
    """Plain lines: email text part, Apprise body, and (control characters escaped) the log line."""
    out = [f"Marsad digest: {count(d.stories, 'story')} in {count(len(d.watches), 'watch')}, until {d.when()}", ""]
    for w in d.watches:
        out.append(f"{clean(w.watch_name) or w.watch_id} ({w.severity}): {count(len(w.stories), 'story')}")
        for s in w.stories:
            out += [f"  • {clean(s.alert.title) or '(untitled)'}", f"    {outlets_line(s)}",
                    f"    {safe_url(s.alert.url) or '(no valid link)'}"]
        out.append("")
    return "\n".join(out)


def render_notice(n: Notice) -> str:
    return "\n".join([clean(n.title), *(clean(line) for line in n.lines)])


def render_notice_log(n: Notice) -> str:
    return escape_controls(" · ".join([n.title, *n.lines]))
