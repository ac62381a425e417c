"""Sinks against real local receivers: an HTTP server for Slack/webhooks and an aiosmtpd SMTP server."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from feeds.errors import InvalidInput, Permanent, Transient
from feeds.models import Alert, EntityHit
from workers.alerts.sinks import build_sink
from workers.alerts.sinks import validate as validate_sink
from workers.alerts.sinks.apprise import AppriseSinkConfig
from workers.alerts.sinks.email import EmailSinkConfig
from workers.alerts.sinks.http import retry_after
from workers.alerts.sinks.log import LogSinkConfig
from workers.alerts.sinks.slack import SlackSinkConfig
from workers.alerts.sinks.webhook import WebhookSinkConfig

ALERT = Alert(
    watch_id="idlib", watch_name="Idlib", severity="high", story_id="story-1",
    url="https://www.example.org/news/putin-erdogan",
    title="بوتين يبحث مع أردوغان الأوضاع في <!channel> إدلب",
    feed_id="albawaba", feed_name="البوابة نيوز", published="2020-09-30T11:42:00+00:00",
    regions=(EntityHit("SY", "Syria", 3, name_ar="سوريا"),),
    places=(EntityHit("idlib", "Idlib", 2, name_ar="إدلب", country="SY"),),
    sentence="تفجير مدرعة تركية في إطار دورية مشتركة في إدلب شمال غرب سوريا", highlights=((42, 46),))


# --- a local HTTP receiver standing in for Slack and users' webhooks ---------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Scripted answers, one per request: (status, headers, body); when empty, 200 "ok".
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    delay_s: float = 0.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(state.delay_s)
            status, headers, reply = state.answers.pop(0) if state.answers else (200, {}, b"ok")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the timeout test's client hangs up before the answer: a broken pipe is expected

    server = QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/SECRETTOKEN"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def slack(url: str, **kw: Any) -> Any:
    return build_sink("desk-slack", SlackSinkConfig(webhook_url=url, **kw))


def test_slack_posts_block_kit_json_to_the_webhook(receiver: Receiver) -> None:
    slack(receiver.url).send(ALERT)
    [req] = receiver.requests
    assert req.path == "/services/T000/B000/SECRETTOKEN"
    assert req.headers["Content-Type"] == "application/json"
    payload = json.loads(req.body)
    assert payload["blocks"][0]["type"] == "header" and "link_names" not in payload
    assert "&lt;!channel&gt;" in payload["blocks"][0]["text"]["text"]
    assert "<!channel>" not in req.body.decode("utf-8")


def test_slack_500_is_transient(receiver: Receiver) -> None:
    receiver.answers.append((500, {}, b"internal error"))
    with pytest.raises(Transient) as exc:
        slack(receiver.url).send(ALERT)
    assert "HTTP 500" in exc.value.reason and exc.value.retry_after is None


def test_slack_429_is_transient_and_honours_retry_after(receiver: Receiver) -> None:
    receiver.answers.append((429, {"Retry-After": "7"}, b"rate_limited"))
    with pytest.raises(Transient) as exc:
        slack(receiver.url).send(ALERT)
    assert exc.value.retry_after == 7.0 and "429" in exc.value.reason


def test_slack_400_is_permanent_with_slacks_reason(receiver: Receiver) -> None:
    receiver.answers.append((400, {}, b"invalid_blocks"))
    with pytest.raises(Permanent) as exc:
        slack(receiver.url).send(ALERT)
    assert exc.value.reason == "slack: HTTP 400 invalid_blocks"


def test_slack_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.answers.append((302, {"Location": "http://127.0.0.1:1/elsewhere"}, b""))
    with pytest.raises(Permanent):
        slack(receiver.url).send(ALERT)
    assert len(receiver.requests) == 1


def test_slack_timeout_is_transient(receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    with pytest.raises(Transient) as exc:
        slack(receiver.url, timeout_s=0.2).send(ALERT)
    assert "timed out" in exc.value.reason


def test_connection_refused_is_transient_and_reason_hides_the_secret_url() -> None:
    with pytest.raises(Transient) as exc:
        slack(f"http://127.0.0.1:{free_port()}/services/T000/B000/SECRETTOKEN", timeout_s=2).send(ALERT)
    assert "SECRETTOKEN" not in exc.value.reason and "connection failed" in exc.value.reason


def test_webhook_signature_verifies_at_the_receiver(receiver: Receiver) -> None:
    before = int(time.time())
    build_sink("ours", WebhookSinkConfig(url=receiver.url, secret="s3cret")).send(ALERT)
    [req] = receiver.requests
    ts = req.headers["X-Marsad-Timestamp"]
    assert before <= int(ts) <= time.time() + 1
    expected = "sha256=" + hmac.new(b"s3cret", ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req.headers["X-Marsad-Signature"], expected)
    wrong = "sha256=" + hmac.new(b"other", ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Marsad-Signature"] != wrong
    data = json.loads(req.body)
    assert Alert.from_dict(data["alert"]) == ALERT and data["id"] == req.headers["Idempotency-Key"]


def test_webhook_503_with_http_date_retry_after_is_transient(receiver: Receiver) -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    receiver.answers.append((503, {"Retry-After": later}, b""))
    with pytest.raises(Transient) as exc:
        build_sink("ours", WebhookSinkConfig(url=receiver.url)).send(ALERT)
    assert exc.value.retry_after is not None and 25 <= exc.value.retry_after <= 31


def test_retry_after_parses_seconds_dates_and_clamps() -> None:
    assert retry_after("12") == 12.0
    assert retry_after("100000") == 300.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60) == 60.0
    assert retry_after("soon") is None and retry_after(None) is None


# --- a real SMTP server (aiosmtpd) -----------------------------------------------------------------

@dataclass
class Mailbox:
    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    rcpt_reply: str | None = None  # e.g. "450 mailbox busy" to refuse recipients
    data_reply: str | None = None
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope, msg))
        return "250 Message accepted"


def _authenticator(box: Mailbox) -> Any:
    def check(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
              data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"marsad", b"pw")
        if ok:
            box.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535
    return check


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI), trusted through the sink's ca_file."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def free_port() -> int:
    """A port nobody listens on (the kernel just handed it out and it is closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _smtp(box: Mailbox, **kw: Any) -> Iterator[int]:
    port = free_port()  # aiosmtpd's Controller connects to its own port once started, so 0 will not do
    controller = Controller(box, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    yield from _smtp(mailbox, authenticator=_authenticator(mailbox), auth_require_tls=False)


def email_sink(port: int, **kw: Any) -> Any:
    cfg = {"host": "127.0.0.1", "port": port, "sender": "marsad@example.org",
           "to": ["desk@example.org", "analyst@example.org"], "timeout_s": 5, **kw}
    return build_sink("analysts", EmailSinkConfig(**cfg))


def check_alert_mail(box: Mailbox) -> None:
    [(envelope, msg)] = box.messages
    assert envelope.mail_from == "marsad@example.org"
    assert sorted(envelope.rcpt_tos) == ["analyst@example.org", "desk@example.org"]
    raw_headers = envelope.content.split(b"\r\n\r\n", 1)[0] if isinstance(envelope.content, bytes) else b""
    assert b"=?utf-8?" in raw_headers.lower() and all(b < 128 for b in raw_headers)  # RFC 2047 subject
    assert msg["Subject"] == "[HIGH] Idlib: بوتين يبحث مع أردوغان الأوضاع في <!channel> إدلب"
    assert msg["List-Id"] == "Idlib <idlib.marsad.local>"
    assert msg["Message-ID"].startswith("<marsad.") and msg["Message-ID"].endswith("@marsad.local>")
    assert msg["Date"] is not None
    plain, markup = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and markup is not None
    assert "*إدلب*" in plain.get_content() and "Syria (سوريا)" in plain.get_content()
    html = markup.get_content()
    assert '<html dir="rtl" lang="ar">' in html and "<strong>إدلب</strong>" in html
    assert "&lt;!channel&gt;" in html


def test_email_arrives_with_encoded_subject_list_id_and_both_parts(mailbox: Mailbox, smtp_port: int) -> None:
    email_sink(smtp_port).send(ALERT)
    check_alert_mail(mailbox)


def test_email_resend_keeps_the_same_message_id(mailbox: Mailbox, smtp_port: int) -> None:
    sink = email_sink(smtp_port)
    sink.send(ALERT)
    sink.send(ALERT)
    sink.send(replace(ALERT, story_id="story-2"))
    ids = [m["Message-ID"] for _, m in mailbox.messages]
    assert ids[0] == ids[1] != ids[2]


def test_email_crlf_title_is_delivered_without_injected_header(mailbox: Mailbox, smtp_port: int) -> None:
    email_sink(smtp_port).send(replace(ALERT, title="عاجل\r\nBcc: victim@example.org\r\n\r\nbody"))
    [(envelope, msg)] = mailbox.messages
    assert msg["Bcc"] is None and "victim@example.org" not in envelope.rcpt_tos
    assert msg["Subject"] == "[HIGH] Idlib: عاجل Bcc: victim@example.org body"


def test_email_login_with_good_password_then_sends(mailbox: Mailbox, smtp_port: int) -> None:
    email_sink(smtp_port, username="marsad", password="pw").send(ALERT)
    assert mailbox.logins == ["marsad"] and len(mailbox.messages) == 1


def test_email_bad_password_is_permanent(mailbox: Mailbox, smtp_port: int) -> None:
    with pytest.raises(Permanent) as exc:
        email_sink(smtp_port, username="marsad", password="wrong").send(ALERT)
    assert "authentication failed" in exc.value.reason and not mailbox.messages


@pytest.mark.parametrize(("where", "reply", "error"), [
    ("rcpt_reply", "450 4.2.1 mailbox busy", Transient),
    ("rcpt_reply", "550 5.1.1 no such user", Permanent),
    ("data_reply", "451 4.3.0 try again later", Transient),
    ("data_reply", "554 5.7.1 rejected as spam", Permanent),
])
def test_smtp_4xx_is_transient_and_5xx_permanent(mailbox: Mailbox, smtp_port: int, where: str, reply: str,
                                                   error: type[Exception]) -> None:
    setattr(mailbox, where, reply)
    with pytest.raises(error):
        email_sink(smtp_port).send(ALERT)


def test_smtp_connection_refused_is_transient() -> None:
    with pytest.raises(Transient):
        email_sink(free_port(), timeout_s=2).send(ALERT)


def test_email_over_starttls_with_auth(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()
    for port in _smtp(box, tls_context=ctx, require_starttls=True, authenticator=_authenticator(box)):
        email_sink(port, starttls=True, ca_file=str(cert), username="marsad", password="pw").send(ALERT)
        with pytest.raises(Permanent):  # STARTTLS required, so skipping it is refused with 530
            email_sink(port).send(ALERT)
    check_alert_mail(box)
    assert box.logins == ["marsad"]


def test_email_over_implicit_tls_rejects_an_untrusted_certificate(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()
    for port in _smtp(box, ssl_context=ctx):
        email_sink(port, ssl=True, ca_file=str(cert)).send(ALERT)
        with pytest.raises(Permanent) as exc:  # system store does not trust our self-signed certificate
            email_sink(port, ssl=True).send(ALERT)
        assert "certificate" in exc.value.reason
    check_alert_mail(box)


# --- log and apprise sinks, config validation ------------------------------------------------------

def test_log_sink_writes_one_alert_sent_event_with_escaped_text() -> None:
    with structlog.testing.capture_logs() as logs:
        build_sink("console", LogSinkConfig()).send(replace(ALERT, title="سطر\nآخر\x1b[2J"))
    [event] = logs
    assert event["event"] == "alert_sent" and event["watch"] == "idlib" and event["sink"] == "console"
    assert event["alert"] == ALERT.alert_id  # what `marsad feedback` takes
    assert "\n" not in event["text"] and "\\n" in event["text"] and "\\x1b" in event["text"]


def test_apprise_delivers_through_its_json_plugin(receiver: Receiver) -> None:
    pytest.importorskip("apprise")
    url = receiver.url.replace("http://", "json://")
    build_sink("phones", AppriseSinkConfig(urls=[url])).send(ALERT)
    [req] = receiver.requests
    data = json.loads(req.body)
    assert data["title"] == "[HIGH] Idlib: بوتين يبحث مع أردوغان الأوضاع في <!channel> إدلب"
    assert "*إدلب*" in data["message"] and "https://www.example.org/news/putin-erdogan" in data["message"]


def test_apprise_service_failure_is_transient_and_bad_url_permanent(receiver: Receiver) -> None:
    pytest.importorskip("apprise")
    receiver.answers.append((500, {}, b""))
    with pytest.raises(Transient):
        build_sink("phones", AppriseSinkConfig(urls=[receiver.url.replace("http://", "json://")])).send(ALERT)
    with pytest.raises(Permanent):
        build_sink("phones", AppriseSinkConfig(urls=["nosuchservice://x"])).send(ALERT)


class _Parts:
    def __init__(self) -> None:
        self.marked: set[str] = set()

    def done(self, part: str) -> bool:
        return part in self.marked

    def mark(self, part: str) -> None:
        self.marked.add(part)


def test_apprise_sends_each_service_once_when_one_of_them_fails(receiver: Receiver) -> None:
    """Two services; the second fails the first time: the retry goes to it alone, not to both again."""
    pytest.importorskip("apprise")
    base = receiver.url.replace("http://", "json://")
    sink = build_sink("phones", AppriseSinkConfig(urls=[base + "/a", base + "/b"]))
    receiver.answers.extend([(200, {}, b"ok"), (500, {}, b"")])
    parts = _Parts()
    with pytest.raises(Transient) as err:
        sink.send(ALERT, parts)
    assert err.value.reason == "apprise: 1 of 2 services failed"
    sink.send(ALERT, parts)  # the retry
    assert [r.path.rsplit("/", 1)[1] for r in receiver.requests] == ["a", "b", "b"]


def test_apprise_missing_is_permanent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # importing it now raises ImportError
    with pytest.raises(Permanent) as exc:
        build_sink("tg", AppriseSinkConfig(urls=["tgram://token/chat"])).send(ALERT)
    assert exc.value.reason == "apprise not installed"




def test_sink_config_is_discriminated_on_type() -> None:
    assert isinstance(validate_sink({"type": "slack", "webhook_url": "https://hooks.example/x"}),
                      SlackSinkConfig)
    cfg = validate_sink({"type": "email", "host": "smtp", "port": "587", "starttls": True,
                                "sender": "a@b.org", "to": ["c@d.org"], "username": None, "password": None})
    assert isinstance(cfg, EmailSinkConfig) and cfg.port == 587 and cfg.min_severity == "low"
    assert isinstance(validate_sink({"type": "log"}), LogSinkConfig)


@pytest.mark.parametrize("bad", [
    {"type": "slack", "webhook_url": "https://hooks.example/x", "link_names": True},  # extra="forbid"
    {"type": "slack", "webhook_url": "file:///etc/passwd"},
    {"type": "email", "host": "h", "sender": "a@b.org", "to": ["c@d.org\r\nBcc: e@f.org"]},
    {"type": "email", "host": "h", "sender": "a@b.org", "to": []},
    {"type": "email", "host": "h", "sender": "a@b.org", "to": ["c@d.org"], "ssl": True, "starttls": True},
    {"type": "webhook", "url": "https://x.org", "min_severity": "urgent"},
    {"type": "teams", "url": "https://x.org"},
])
def test_invalid_sink_configs_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises((ValidationError, InvalidInput)):  # an unknown type is InvalidInput, naming the known ones
        validate_sink(bad)


def test_secrets_stay_out_of_config_reprs() -> None:
    text = repr(validate_sink({"type": "webhook", "url": "https://x.org/TOKEN", "secret": "SECRET"}))
    text += repr(EmailSinkConfig(host="h", sender="a@b.org", to=["c@d.org"], username="u", password="PASSWD"))
    assert "TOKEN" not in text and "SECRET" not in text and "PASSWD" not in text
