"""Alert rendering: Slack limits and escaping, email headers and parts, webhook signature, log line."""

from __future__ import annotations

import email
import email.header
import email.policy
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from feeds.alerts.render.common import clean, segments
from feeds.alerts.render.email import message_id
from feeds.alerts.render.email import render_alert as render_email
from feeds.alerts.render.slack import SLACK_BLOCKS_MAX, SLACK_HEADER_MAX, SLACK_SECTION_MAX
from feeds.alerts.render.slack import render_alert as render_slack
from feeds.alerts.render.text import render_line as render_text
from feeds.alerts.render.webhook import render_alert as render_webhook
from feeds.models import Alert, EntityHit
from tests.conftest import REPO

SEED = REPO / "tests" / "fixtures" / "seed" / "000_ac810ad0bcec6acb.txt"
HOSTILE = [
    "<!channel> عاجل",
    "&lt;!here&gt; عاجل",
    "&amp;lt;!everyone&amp;gt;",
    "<@U123> انظر",
    "<http://evil.example|اضغط هنا>",
    "<#C123|general>",
    "<!subteam^S123>",
    "عنوان\r\nBcc: victim@example.org",
    "\u202eevil\u202c \u2066x\u2069",
]
# Every '&' Slack receives must start one of the three entities it decodes, never a raw control sequence.
_BAD_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def seed_sentence() -> tuple[str, tuple[int, int]]:
    """A real sentence of the seed article mentioning Idlib, and the offsets of إدلب in it."""
    text = SEED.read_text(encoding="utf-8")
    sentence = next(line.strip() for line in text.splitlines() if "إدلب" in line and len(line) > 80)
    start = sentence.index("إدلب")
    return sentence, (start, start + len("إدلب"))


def make_alert(**kw: Any) -> Alert:
    sentence, span = seed_sentence()
    base = Alert(
        watch_id="idlib", watch_name="Idlib", severity="high", story_id="story-1",
        url="https://www.example.org/news/2020/09/30/putin-erdogan",
        title="بوتين يجري اتصالًا هاتفيًا بأردوغان",
        feed_id="albawaba", feed_name="البوابة نيوز", published="2020-09-30T11:42:00+00:00",
        regions=(EntityHit("SY", "Syria", 3, name_ar="سوريا"), EntityHit("LY", "Libya", 2, name_ar="ليبيا")),
        places=(EntityHit("idlib", "Idlib", 2, name_ar="إدلب", country="SY"),),
        actors=(EntityHit("putin", "Vladimir Putin", 2, name_ar="فلاديمير بوتين"),),
        sentence=sentence, highlights=(span,), outlets=2)
    return replace(base, **kw)


def texts(payload: dict[str, Any]) -> list[str]:
    """Every text Slack will parse: the fallback and each text object (not URLs or type names)."""
    out = [payload["text"]]
    for block in payload["blocks"]:
        for key in ("text", "fields", "elements"):
            for node in block.get(key, []) if key != "text" else [block.get("text", {})]:
                if isinstance(node, dict) and "text" in node:
                    out.append(node["text"] if isinstance(node["text"], str) else node["text"]["text"])
    return out


@pytest.mark.parametrize("hostile", HOSTILE)
def test_slack_hostile_title_and_sentence_never_become_live_markup(hostile: str) -> None:
    payload = render_slack(make_alert(title=hostile, sentence=f"قبل {hostile} بعد", highlights=((0, 3),),
                                      watch_name=hostile, feed_name=hostile))
    for text in texts(payload):
        assert "<" not in text and ">" not in text, text
        assert not _BAD_AMP.search(text), text
        assert "\r" not in text and "\u202e" not in text and "\u2066" not in text
    assert "link_names" not in payload
    header = payload["blocks"][0]["text"]
    assert header["type"] == "plain_text"
    if "here" in hostile:  # the pre-escaped form is decoded, then escaped again: shown, not live
        assert "&lt;!here&gt;" in header["text"]


def test_slack_mrkdwn_sections_are_verbatim_so_slack_does_not_autolink() -> None:
    payload = render_slack(make_alert())
    mrkdwn = [n for n in strings_nodes(payload) if n.get("type") == "mrkdwn"]
    assert mrkdwn and all(n.get("verbatim") is True for n in mrkdwn)


def strings_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from strings_nodes(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings_nodes(v)


def test_slack_header_is_cut_to_150_without_splitting_an_entity() -> None:
    payload = render_slack(make_alert(title="&" * 40 + "أ" * 5000))
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) <= SLACK_HEADER_MAX
    assert header.endswith("…") and not _BAD_AMP.search(header)


def test_slack_long_sentence_stays_within_section_limit_and_keeps_bold() -> None:
    sentence = "إدلب " + ("نص & <طويل> " * 600) + "إدلب"
    assert len(sentence) > 5000
    end = len(sentence)
    payload = render_slack(make_alert(sentence=sentence, highlights=((0, 4), (end - 4, end))))
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert all(len(s) <= SLACK_SECTION_MAX for s in sections)
    body = sections[-1]
    assert body.startswith("*إدلب*") and body.endswith("…") and not _BAD_AMP.search(body)
    assert len(payload["blocks"]) <= SLACK_BLOCKS_MAX


def test_slack_bolds_the_whole_word_holding_the_match() -> None:
    sentence = "هجمات في وإدلب اليوم"
    start = sentence.index("إدلب")
    payload = render_slack(make_alert(sentence=sentence, highlights=((start, start + 4),)))
    assert payload["blocks"][-3]["text"]["text"] == "هجمات في *وإدلب* اليوم"


def test_slack_bold_does_not_swallow_a_long_spaceless_run() -> None:
    sentence = "راجع " + "x" * 300 + "إدلب" + "y" * 300 + " الآن"
    start = sentence.index("إدلب")
    text = render_slack(make_alert(sentence=sentence, highlights=((start, start + 4),)))["blocks"][-3]["text"]
    bold = text["text"].split("*")[1]
    assert "إدلب" in bold and len(bold) < 40


def test_slack_feed_asterisks_cannot_unbalance_the_bold() -> None:
    payload = render_slack(make_alert(sentence="a *b إدلب_ c`", highlights=((5, 9),)))
    text = payload["blocks"][-3]["text"]["text"]
    assert text.count("*") == 2 and "_" not in text and "`" not in text


def test_slack_lists_entities_in_english_with_arabic_names() -> None:
    payload = render_slack(make_alert())
    entities = next(b["text"]["text"] for b in payload["blocks"] if "Regions" in json.dumps(b))
    assert "Syria (سوريا)" in entities and "Idlib (إدلب)" in entities
    assert "Vladimir Putin (فلاديمير بوتين)" in entities


def test_slack_real_alert_has_header_context_watch_sentence_and_button() -> None:
    payload = render_slack(make_alert())
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["header", "context", "section", "section", "section", "actions", "context"]
    assert payload["blocks"][0]["text"]["text"] == "بوتين يجري اتصالًا هاتفيًا بأردوغان"
    assert "البوابة نيوز · 2020-09-30 11:42 UTC · 2 outlets" == payload["blocks"][1]["elements"][0]["text"]
    assert "مشتركة في *إدلب،* وذلك" in payload["blocks"][4]["text"]["text"]  # the word with its comma
    assert payload["blocks"][5]["elements"][0]["url"] == "https://www.example.org/news/2020/09/30/putin-erdogan"
    assert "Idlib" in payload["text"] and "بوتين" in payload["text"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "",
                                 "https://x.org/" + "a" * 4000])
def test_slack_no_link_button_for_unsafe_urls(url: str) -> None:
    kinds = [b["type"] for b in render_slack(make_alert(url=url))["blocks"]]
    assert "actions" not in kinds


def test_clean_strips_bidi_overrides_but_keeps_rlm_and_alm() -> None:
    assert clean("\u202bأ\u200fب\u061cج\u2067د\u2069") == "أ\u200fب\u061cجد"
    assert clean("a&amp;b\r\n\tc\x00") == "a&b c"


def test_segments_merge_overlaps_and_clamp_out_of_range_offsets() -> None:
    assert segments("aa bb cc", [(3, 4), (4, 5), (6, 99), (-5, 0)]) == [
        ("aa ", False), ("bb", True), (" ", False), ("cc", True)]


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_email_crlf_title_cannot_inject_headers() -> None:
    alert = make_alert(title="عنوان\r\nBcc: victim@example.org\u202e")
    raw = render_email(alert, "marsad@example.org", ["desk@example.org"]).as_bytes()
    back = parse(raw)
    assert back["Bcc"] is None
    assert str(back["Subject"]) == "[HIGH] Idlib: عنوان Bcc: victim@example.org"
    assert all(ord(c) < 128 for c in raw.split(b"\n\n", 1)[0].decode("ascii"))  # RFC 2047, not raw UTF-8


@pytest.mark.parametrize("title", ["اجتماع تركي روسي حول إدلب <!here> *عاجل*",
                                   "لبحث الأوضاع في ليبيا وسوريا.. بوتين يجري اتصالًا هاتفيًا بأردوغان " * 3])
def test_a_long_arabic_subject_keeps_every_space_where_it_is_folded(title: str) -> None:
    # the default folder left the space between two encoded words, where decoders drop it ("روسيحول")
    raw = render_email(make_alert(title=title), "marsad@example.org", ["desk@example.org"]).as_bytes()
    head = raw.split(b"\n\n", 1)[0].decode("ascii")
    assert "\n " in head.split("Subject:", 1)[1].split("\nFrom:", 1)[0]  # it was folded
    from feeds.alerts.render.common import subject

    want = subject(make_alert(title=title))  # what was set (a long title is cut there, with "…")
    assert " ".join(title.split())[:60] in want
    assert str(email.header.make_header(email.header.decode_header(email.message_from_bytes(raw)["Subject"]))) \
        == want  # the legacy decoder, as most mail readers
    assert str(parse(raw)["Subject"]) == want


def test_email_has_text_and_rtl_html_parts_with_bold_match() -> None:
    back = parse(render_email(make_alert(sentence="قبل <b>إدلب</b> بعد", highlights=((7, 11),)),
                              "marsad@example.org", ["desk@example.org"]).as_bytes())
    text = back.get_body(("plain",))
    body = back.get_body(("html",))
    assert text is not None and body is not None
    plain, markup = text.get_content(), body.get_content()
    assert "*<b>إدلب</b>*" in plain and "Syria (سوريا)" in plain
    assert '<html dir="rtl" lang="ar">' in markup
    assert "<strong>&lt;b&gt;إدلب&lt;/b&gt;</strong>" in markup and "<b>" not in markup


def test_email_message_id_is_stable_per_watch_story_and_recipients() -> None:
    a = make_alert()
    assert message_id(a, ["x@e.org", "y@e.org"], "m.org") == message_id(a, ["Y@e.org", "x@e.org"], "m.org")
    assert message_id(a, ["x@e.org"], "m.org") != message_id(a, ["x@e.org", "y@e.org"], "m.org")
    assert message_id(a, ["x@e.org"], "m.org") != message_id(replace(a, story_id="2"), ["x@e.org"], "m.org")
    msg = render_email(a, "m@e.org", ["x@e.org"], domain="m.org")
    assert msg["Message-ID"] == message_id(a, ["x@e.org"], "m.org")
    assert msg["List-Id"] == "Idlib <idlib.m.org>"


def test_email_message_id_is_the_same_in_another_process() -> None:
    """A retry runs in another worker process, with another str-hash seed: the id must not depend on it."""
    code = ("from feeds.models import Alert; from feeds.alerts.render.email import message_id; "
            "a = Alert('idlib', 'Idlib', 'high', 's1', 'https://x.org', 't', 'f', 'F', None); "
            "print(message_id(a, ['c@e.org', 'a@e.org', 'b@e.org', 'd@e.org'], 'm.org'))")
    ids = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, cwd=REPO,
                          capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "3")}
    assert len(ids) == 1 and next(iter(ids)).startswith("<marsad.")


def test_webhook_signature_is_hmac_of_timestamp_and_body() -> None:
    body, headers = render_webhook(make_alert(title="<!channel>"), "s3cret", 1_700_000_000.9)
    assert headers["X-Marsad-Timestamp"] == "1700000000"
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Marsad-Signature"] == f"sha256={expected}"
    data = json.loads(body)
    assert data["alert"]["title"] == "<!channel>" and data["alert"]["watch_id"] == "idlib"
    assert Alert.from_dict(data["alert"]) == make_alert(title="<!channel>")
    assert data["alert_id"] == make_alert(title="<!channel>").alert_id  # what `marsad feedback` takes
    _, unsigned = render_webhook(make_alert(), None, 0)
    assert "X-Marsad-Signature" not in unsigned


def test_text_is_one_line_with_controls_escaped_and_rlm_kept() -> None:
    line = render_text(make_alert(title="أ\r\nب\u202e\x1b[31m\u200fج" + "x" * 500))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u202e" not in line
    assert "\\r\\n" in line and "\\u202e" in line and "\\x1b" in line and "\u200f" in line
    assert "—" in line and len(line) < 400


def test_alerts_carry_their_id_and_the_console_link() -> None:
    from dataclasses import replace

    alert = replace(make_alert(), console_url="https://marsad.example.org/articles/0123456789abcdef")
    slack = render_slack(alert)
    buttons = next(b for b in slack["blocks"] if b["type"] == "actions")["elements"]
    assert [b["url"] for b in buttons][-1] == alert.console_url
    assert alert.alert_id in slack["blocks"][-1]["elements"][0]["text"]
    assert len(alert.alert_id) == 10 and alert.alert_id == replace(alert, feed_id="other").alert_id
    hostile = replace(make_alert(), console_url="javascript:alert(1)")
    assert all(b["type"] != "actions" or all(e["url"] != hostile.console_url for e in b["elements"])
               for b in render_slack(hostile)["blocks"])
