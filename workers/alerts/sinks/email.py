"""Email over SMTP (implicit TLS, STARTTLS, login): multipart alerts, digests and notices."""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Literal

import structlog
from pydantic import Field, field_validator, model_validator

from feeds.alerts.digest import Digest, Notice
from feeds.alerts.render import email as render
from feeds.errors import Permanent, Transient
from feeds.models import Alert
from workers.alerts.sinks.base import Parts, SinkConfigBase, SinkType, register
from workers.alerts.sinks.http import REASON_BODY_CHARS
from workers.config.limits import MAX_SINK_TIMEOUT_S


def _address(value: str) -> str:
    if any(c in value for c in "\r\n") or "@" not in value:
        raise ValueError(f"not an email address: {value!r}")
    return value


class EmailSinkConfig(SinkConfigBase):
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
    timeout_s: float = Field(default=20, gt=0, le=MAX_SINK_TIMEOUT_S)
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


@dataclass
class EmailSink:
    id: str
    config: EmailSinkConfig

    def send(self, alert: Alert, parts: Parts | None = None) -> None:
        c = self.config
        self._deliver(render.render_alert(alert, c.sender, c.to, c.domain))

    def send_digest(self, digest: Digest) -> None:
        c = self.config
        self._deliver(render.render_digest(digest, c.sender, c.to, c.domain))

    def send_notice(self, notice: Notice) -> None:
        c = self.config
        self._deliver(render.render_notice(notice, c.sender, c.to, c.domain))

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



register(SinkType("email", EmailSinkConfig, EmailSink, required=("host",)))
