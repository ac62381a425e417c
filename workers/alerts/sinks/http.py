"""HTTP delivery shared by the sinks that POST: status → Transient/Permanent, Retry-After, no redirects."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC
from typing import Any

import requests

from feeds.errors import Permanent, Transient
from workers.config.limits import MAX_RETRY_COUNTDOWN_S

# Retry-After beyond this is clamped: the task's retry countdowns must stay below the broker's visibility
# timeout, so a longer wait is better spent as several shorter retries.
MAX_RETRY_AFTER_S = float(MAX_RETRY_COUNTDOWN_S)
# Enough of a receiver's error body to say why (Slack answers e.g. "invalid_blocks", "no_service").
REASON_BODY_CHARS = 120



def http_url(value: str) -> str:
    """A config URL check: http:// or https:// (empty means "not configured", handled before)."""
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


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
