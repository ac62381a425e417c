"""Alert sinks: validated config (discriminated on `type`) and senders that raise Transient/Permanent."""

from __future__ import annotations

import email.utils
import importlib
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Annotated, Any, Literal, Protocol

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from feeds import digest as fd
from feeds.alerts import escape_controls, render_email, render_plain, render_slack, render_text, render_webhook, subject
from feeds.errors import Permanent, Transient
from feeds.models import Alert, Severity
from workers.routing import DigestSchedule, QuietHours, Throttle

# Retry-After beyond this is clamped: the task's retry countdowns must stay well below the broker's
# 600 s visibility timeout, so a longer wait is better spent as several shorter retries.
MAX_RETRY_AFTER_S = 300.0
# Enough of a receiver's error body to say why (Slack answers e.g. "invalid_blocks", "no_service").
REASON_BODY_CHARS = 120


def _http_url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _address(value: str) -> str:
    if any(c in value for c in "\r\n") or "@" not in value:
        raise ValueError(f"not an email address: {value!r}")
    return value


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_severity: Severity = "low"
    # Routing (docs/alerts.md, workers/routing.py): send at once or collect into a digest; quiet hours;
    # at most `throttle.max` immediate alerts per watch per `throttle.per`, the rest into the digest.
    mode: Literal["immediate", "digest"] = "immediate"
    digest: DigestSchedule | None = None
    quiet_hours: QuietHours | None = None
    throttle: Throttle | None = None


class SlackSinkConfig(_Base):
    type: Literal["slack"] = "slack"
    webhook_url: str = Field(repr=False)  # the URL is the credential: keep it out of reprs and logs
    timeout_s: float = Field(default=10, gt=0, le=120)
    _url = field_validator("webhook_url")(_http_url)


class EmailSinkConfig(_Base):
    type: Literal["email"] = "email"
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    ssl: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    ca_file: str | None = None  # a private CA for the relay's certificate; None = system store
    sender: str
    to: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=20, gt=0, le=120)
    domain: str = "marsad.local"  # right-hand side of Message-ID and List-Id

    _sender = field_validator("sender")(_address)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_address(a) for a in value]

    @model_validator(mode="after")
    def _tls(self) -> EmailSinkConfig:
        if self.ssl and self.starttls:
            raise ValueError("ssl (implicit TLS, port 465) and starttls (port 587) exclude each other")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class WebhookSinkConfig(_Base):
    type: Literal["webhook"] = "webhook"
    url: str = Field(repr=False)
    secret: str | None = Field(default=None, repr=False)
    timeout_s: float = Field(default=10, gt=0, le=120)
    _url = field_validator("url")(_http_url)


class LogSinkConfig(_Base):
    type: Literal["log"] = "log"
    level: Literal["info", "warning"] = "info"


class AppriseSinkConfig(_Base):
    type: Literal["apprise"] = "apprise"
    urls: list[str] = Field(min_length=1, repr=False)  # per-service timeouts go in the URL (?cto=&rto=)


SinkConfig = Annotated[
    SlackSinkConfig | EmailSinkConfig | WebhookSinkConfig | LogSinkConfig | AppriseSinkConfig,
    Field(discriminator="type"),
]
AnySinkConfig = SlackSinkConfig | EmailSinkConfig | WebhookSinkConfig | LogSinkConfig | AppriseSinkConfig


class Sink(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def config(self) -> AnySinkConfig: ...

    def send(self, alert: Alert) -> None:
        """Deliver or raise Transient (retry, maybe after retry_after) / Permanent (give up)."""

    def send_digest(self, digest: fd.Digest) -> None:
        """Deliver a digest; same errors as `send`."""

    def send_notice(self, notice: fd.Notice) -> None:
        """Deliver a notice ("N more in digest", spike, ops); same errors as `send`."""


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), clamped to MAX_RETRY_AFTER_S."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def check_response(name: str, resp: requests.Response) -> None:
    """2xx → fine; 429/5xx/408 → Transient; any other status (3xx, 4xx) → Permanent."""
    code = resp.status_code
    if 200 <= code < 300:
        return
    detail = " ".join(resp.text[:REASON_BODY_CHARS].split())
    reason = f"{name}: HTTP {code}" + (f" {detail}" if detail else "")
    if code in (408, 429) or code >= 500:  # Slack's rate limit is a 429 with Retry-After; a 503 may carry one
        raise Transient(reason, retry_after(resp.headers.get("Retry-After")))
    raise Permanent(reason)


def post(session: requests.Session, name: str, url: str, timeout_s: float, **kw: Any) -> None:
    """POST without following redirects; the reason never holds the URL (it is often the secret)."""
    try:
        resp = session.post(url, timeout=timeout_s, allow_redirects=False, **kw)
    except requests.Timeout as exc:
        # A read timeout may come after the receiver accepted: retrying then can duplicate (at-least-once).
        raise Transient(f"{name}: timed out after {timeout_s:g}s ({type(exc).__name__})") from None
    except requests.ConnectionError as exc:
        raise Transient(f"{name}: connection failed ({type(exc).__name__})") from None
    except requests.RequestException as exc:
        raise Permanent(f"{name}: request failed ({type(exc).__name__})") from None
    with resp:
        check_response(name, resp)


@dataclass
class SlackSink:
    id: str
    config: SlackSinkConfig
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def send(self, alert: Alert) -> None:
        post(self.session, "slack", self.config.webhook_url, self.config.timeout_s, json=render_slack(alert))

    def send_digest(self, digest: fd.Digest) -> None:
        post(self.session, "slack", self.config.webhook_url, self.config.timeout_s,
             json=fd.render_digest_slack(digest))

    def send_notice(self, notice: fd.Notice) -> None:
        post(self.session, "slack", self.config.webhook_url, self.config.timeout_s,
             json=fd.render_notice_slack(notice))


@dataclass
class WebhookSink:
    id: str
    config: WebhookSinkConfig
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def send(self, alert: Alert) -> None:
        self._post(*render_webhook(alert, self.config.secret, time.time()))

    def send_digest(self, digest: fd.Digest) -> None:
        self._post(*fd.render_digest_webhook(digest, self.config.secret, time.time()))

    def send_notice(self, notice: fd.Notice) -> None:
        self._post(*fd.render_notice_webhook(notice, self.config.secret, time.time()))

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        post(self.session, "webhook", self.config.url, self.config.timeout_s, data=body, headers=headers)


@dataclass
class EmailSink:
    id: str
    config: EmailSinkConfig

    def send(self, alert: Alert) -> None:
        c = self.config
        self._deliver(render_email(alert, c.sender, c.to, c.domain))

    def send_digest(self, digest: fd.Digest) -> None:
        c = self.config
        self._deliver(fd.render_digest_email(digest, c.sender, c.to, c.domain))

    def send_notice(self, notice: fd.Notice) -> None:
        c = self.config
        self._deliver(fd.render_notice_email(notice, c.sender, c.to, c.domain))

    def _deliver(self, msg: EmailMessage) -> None:
        c = self.config
        msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
        try:
            with self._connect() as smtp:
                if c.starttls:
                    smtp.starttls(context=self._tls())
                if c.username is not None and c.password is not None:
                    smtp.login(c.username, c.password)
                refused = smtp.send_message(msg, from_addr=c.sender, to_addrs=c.to)
        except smtplib.SMTPAuthenticationError as exc:
            raise Permanent(f"email: authentication failed ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            reason = f"email: all recipients refused ({', '.join(map(str, codes))})"
            raise (Transient(reason) if all(400 <= c < 500 for c in codes) else Permanent(reason)) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, STARTTLS refused …
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
                else str(exc.smtp_error)
            reason = f"email: SMTP {exc.smtp_code} {' '.join(text.split())[:REASON_BODY_CHARS]}"
            raise (Transient(reason) if 400 <= exc.smtp_code < 500 else Permanent(reason)) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise Permanent(f"email: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise Permanent(f"email: TLS certificate not trusted ({exc.verify_message})") from None
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused connections
            raise Transient(f"email: {type(exc).__name__}: {exc}"[:200]) from None
        if refused:  # some got it: retrying would double theirs, so log the rest instead of failing
            structlog.get_logger("marsad.alerts").warning(
                "email_recipients_refused", sink=self.id, refused=sorted(refused))

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.ssl:
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=self._tls())
        return smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)


@dataclass
class LogSink:
    id: str
    config: LogSinkConfig

    def send(self, alert: Alert) -> None:
        log = structlog.get_logger("marsad.alerts")
        emit = log.warning if self.config.level == "warning" else log.info
        emit("alert_sent", sink=self.id, watch=alert.watch_id, story=alert.story_id,
             severity=alert.severity, text=render_text(alert))

    def send_digest(self, digest: fd.Digest) -> None:
        structlog.get_logger("marsad.alerts").info(
            "digest_sent", sink=self.id, stories=digest.stories, text=escape_controls(fd.render_digest_text(digest)))

    def send_notice(self, notice: fd.Notice) -> None:
        structlog.get_logger("marsad.alerts").warning(
            "notice_sent", sink=self.id, kind=notice.kind, text=fd.render_notice_log(notice))


@dataclass
class AppriseSink:
    id: str
    config: AppriseSinkConfig

    def send(self, alert: Alert) -> None:
        self._notify(subject(alert), render_plain(alert))

    def send_digest(self, digest: fd.Digest) -> None:
        self._notify(fd.digest_subject(digest), fd.render_digest_text(digest))

    def send_notice(self, notice: fd.Notice) -> None:
        self._notify(notice.title, fd.render_notice_text(notice))

    def _notify(self, title: str, body: str) -> None:
        try:
            # optional: `pip install apprise` to reach Telegram, Teams, Discord, ntfy …
            apprise: Any = importlib.import_module("apprise")
        except ImportError:
            raise Permanent("apprise not installed") from None
        notifier: Any = apprise.Apprise()
        for url in self.config.urls:
            if not notifier.add(url):
                raise Permanent("apprise: a URL is not supported or malformed")
        # body_format "text": each Apprise plugin escapes it for its own service (Telegram HTML, Matrix …).
        # Apprise reports only success/failure per service, so a failure may be worth a retry.
        if not notifier.notify(title=title, body=body, body_format="text"):
            raise Transient("apprise: at least one service failed")


def build_sink(sink_id: str, config: AnySinkConfig) -> Sink:
    """The sender for a validated sink config."""
    if isinstance(config, SlackSinkConfig):
        return SlackSink(sink_id, config)
    if isinstance(config, EmailSinkConfig):
        return EmailSink(sink_id, config)
    if isinstance(config, WebhookSinkConfig):
        return WebhookSink(sink_id, config)
    if isinstance(config, LogSinkConfig):
        return LogSink(sink_id, config)
    return AppriseSink(sink_id, config)
