"""Digest and notice rendering: grouping by watch and story, Slack limits and escaping, email, webhook."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
from dataclasses import replace

from feeds.alerts.digest import Notice, build_digest
from feeds.alerts.render.email import render_digest as render_digest_email
from feeds.alerts.render.email import render_notice as render_notice_email
from feeds.alerts.render.slack import render_digest as render_digest_slack
from feeds.alerts.render.slack import render_notice as render_notice_slack
from feeds.alerts.render.text import render_digest as render_digest_text
from feeds.alerts.render.webhook import render_digest as render_digest_webhook
from feeds.models import Alert

BASE = Alert(watch_id="idlib", watch_name="Idlib", severity="high", story_id="s1",
             url="https://example.org/news/1", title="قصف على ريف إدلب الجنوبي", feed_id="f1",
             feed_name="Feed One", published="2026-11-29T05:00:00+00:00")
STORIES = {"s1": (("Al Jazeera", "BBC Arabic", "Enab Baladi"), 5), "s2": (("Feed One",), 1)}


def story(sid: str) -> tuple[tuple[str, ...], int] | None:
    return STORIES.get(sid)


def test_groups_by_watch_then_story_most_covered_first_high_severity_first() -> None:
    alerts = [replace(BASE, story_id="s2", title="b"), BASE, replace(BASE, feed_id="f9", title="copy"),
              replace(BASE, watch_id="libya", watch_name="Libya", severity="low", story_id="s3"),
              replace(BASE, story_id="s1", published="2026-11-29T04:00:00+00:00", title="earliest")]
    d = build_digest("desk", 1_800_000_000.0, "UTC", alerts, story)
    assert [w.watch_id for w in d.watches] == ["idlib", "libya"]
    idlib = d.watches[0]
    assert [s.alert.story_id for s in idlib.stories] == ["s1", "s2"]
    assert idlib.stories[0].alert.title == "earliest"  # one entry per story: its earliest alert
    assert idlib.stories[0].outlets == ("Al Jazeera", "BBC Arabic", "Enab Baladi") and idlib.stories[0].articles == 5
    assert d.watches[1].stories[0].outlets == ("Feed One",)  # unknown to the story store: the alert's feed
    assert d.stories == 3


def test_text_lists_titles_outlets_and_links() -> None:
    text = render_digest_text(build_digest("desk", 1_800_000_000.0, "Asia/Beirut", [BASE], story))
    assert "Idlib (high): 1 story" in text and "قصف على ريف إدلب الجنوبي" in text
    assert "Al Jazeera, BBC Arabic, Enab Baladi · 5 articles" in text and "https://example.org/news/1" in text
    assert "EET" in text or "+02" in text  # the period is shown in the sink's zone


def test_slack_digest_cannot_ping_or_forge_links_from_feed_text() -> None:
    evil = replace(BASE, title="&lt;!channel&gt; <https://evil.example|click> *bold* | >", url="javascript:alert(1)")
    good = replace(BASE, story_id="s2", url="https://example.org/a?x=1&y=<2>")
    body = json.dumps(render_digest_slack(build_digest("desk", 0.0, "UTC", [evil, good], story)), ensure_ascii=False)
    assert "<!channel>" not in body and "<https://evil" not in body and "javascript:" not in body
    assert "&lt;!channel&gt;" in body
    assert "<https://example.org/a?x=1&amp;y=%3C2%3E|" in body  # our own link, escaped
    assert '"link_names"' not in body


def test_slack_digest_stays_within_block_and_section_limits() -> None:
    many = [replace(BASE, watch_id=f"w{i % 30}", watch_name=f"Watch {i % 30}", story_id=f"x{i}",
                    title="عنوان طويل " * 30, url=f"https://example.org/{'a' * 500}/{i}") for i in range(400)]
    msg = render_digest_slack(build_digest("desk", 0.0, "UTC", many, story))
    assert len(msg["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in msg["blocks"] if b["type"] == "section")
    assert msg["blocks"][-1]["type"] == "context" and "more stories" in msg["blocks"][-1]["elements"][0]["text"]
    listed = sum(b["text"]["text"].count("\n• ") + b["text"]["text"].startswith("• ")
                 for b in msg["blocks"] if b["type"] == "section")
    more = int(msg["blocks"][-1]["elements"][0]["text"].split()[0].lstrip("+"))
    assert listed + more == 400


def test_email_digest_is_rtl_per_title_and_headers_cannot_be_injected() -> None:
    evil = replace(BASE, watch_name="Idlib\r\nBcc: victim@example.org")
    msg = render_digest_email(build_digest("desk", 0.0, "UTC", [evil], story), "m@x.org", ["d@x.org"])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None and "\n" not in str(parsed["Subject"])
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert '<li dir="rtl" lang="ar">' in html and "قصف على ريف إدلب الجنوبي" in html
    again = render_digest_email(build_digest("desk", 0.0, "UTC", [evil], story), "m@x.org", ["d@x.org"])
    assert again["Message-ID"] == msg["Message-ID"]  # a re-sent digest is recognisable


def test_webhook_digest_is_signed_and_carries_the_alert_data() -> None:
    body, headers = render_digest_webhook(build_digest("desk", 0.0, "UTC", [BASE], story), "s3cret", 1000.0)
    expected = "sha256=" + hmac.new(b"s3cret", b"1000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Marsad-Signature"] == expected and headers["X-Marsad-Event"] == "digest"
    data = json.loads(body)
    assert Alert.from_dict(data["watches"][0]["stories"][0]["alert"]) == BASE
    assert data["id"] == headers["Idempotency-Key"]


def test_notices_are_plain_text_in_slack_and_clean_in_email() -> None:
    n = Notice("ops", "Feed <!here> failing\r\nfor 2h", ("last error: <@U123> *x*",), "ops:feed:1")
    slack = render_notice_slack(n)
    assert all(b["text"]["type"] == "plain_text" for b in slack["blocks"])
    assert "\n" not in slack["blocks"][0]["text"]["text"]
    msg = render_notice_email(n, "m@x.org", ["d@x.org"])
    assert "\n" not in str(msg["Subject"]) and msg["Subject"].startswith("[Marsad ops] Feed")
