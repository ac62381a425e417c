"""Safe HTTP GET for untrusted URLs: SSRF guard with pinned IPs, total deadline, size cap, bounded decoding."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from feeds.errors import Permanent, Transient
from feeds.ingest.decompress import ACCEPT_ENCODING, DECODE_ERRORS, ContentDecoder
from feeds.ingest.netguard import AddressCheck, Blocked, Resolver, address_block_reason, guarded_session
from feeds.ingest.netguard import deadline as shutdown_at

__all__ = ["FetchPolicy", "FetchResult", "address_block_reason", "fetch"]

DEFAULT_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/html;q=0.8, */*;q=0.1"
# Said with every blocked address: the one setting that lets a deployment reach its own network on purpose.
ALLOW_HINT = "allowed only with fetch.allow_private_addresses: true in marsad.yaml"
CHUNK = 65536  # one read1 call returns at most this much, so the deadline is checked at least this often


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one request; defaults match config `fetch:`."""

    timeout_s: float = 20
    max_bytes: int = 5_000_000
    user_agent: str = "Marsad/0.1"
    allow_private_addresses: bool = False
    max_redirects: int = 5
    max_header_bytes: int = 65536


@dataclass(frozen=True)
class FetchResult:
    """A successful response (2xx or 304), body already decompressed."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    elapsed_s: float


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 1_000_000 else f"{n} bytes"


def fetch(url: str, policy: FetchPolicy, *, etag: str | None = None, last_modified: str | None = None,
          accept: str = DEFAULT_ACCEPT, session: requests.Session | None = None,
          resolve: Resolver | None = None, check: AddressCheck | None = None) -> FetchResult:
    """GET `url` within `policy`; raise Transient (retry later) or Permanent (with a short reason).

    `resolve` (host, port → IPs) and `check` (IP → block reason) replace DNS and the address rule (tests).
    """
    t0 = time.monotonic()
    deadline = t0 + policy.timeout_s
    sess, guard = guarded_session(policy.allow_private_addresses, resolve, session, check)
    headers = {"User-Agent": policy.user_agent, "Accept": accept, "Accept-Encoding": ACCEPT_ENCODING,
               "Connection": "close"}  # a fresh connection per fetch: its socket is then ours to time out
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    seen: set[str] = set()
    current = url
    with shutdown_at(guard, policy.timeout_s) as fired:
        for _hop in range(policy.max_redirects + 1):
            _check_url(current)
            seen.add(current)
            resp = _send(sess, current, headers, deadline, policy, fired)
            try:
                if resp.status_code in (301, 302, 303, 307, 308):
                    location = resp.headers.get("Location")
                    if not location:
                        raise Permanent(f"HTTP {resp.status_code} redirect without Location")
                    current = urljoin(current, location.strip())
                    if current in seen:
                        raise Permanent(f"redirect loop at {current[:100]}")
                    continue
                return _finish(resp, current, policy, deadline, fired, t0, etag, last_modified)
            finally:
                resp.close()
    raise Permanent(f"too many redirects (> {policy.max_redirects})")


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as e:
        raise Permanent(f"invalid URL: {e}") from e
    if parts.scheme.lower() not in ("http", "https"):
        raise Permanent(f"bad scheme: {parts.scheme or 'none'} (only http/https)")
    if not parts.hostname:
        raise Permanent("invalid URL: no host")


def _send(sess: requests.Session, url: str, headers: dict[str, str], deadline: float, policy: FetchPolicy,
          fired: threading.Event) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Transient(f"timeout after {policy.timeout_s:g} s")
    try:
        return sess.get(url, headers=headers, stream=True, allow_redirects=False, timeout=(remaining, remaining))
    except Blocked as e:
        raise Permanent(f"{e} ({ALLOW_HINT})") from None
    except (requests.Timeout, TimeoutError) as e:
        raise Transient(f"timeout after {policy.timeout_s:g} s") from e
    except requests.exceptions.SSLError as e:  # expired or wrong certificate: retried, and visible on the feed
        raise Transient(f"TLS error: {_short(e)}") from e
    except requests.RequestException as e:
        if fired.is_set():
            raise Transient(f"timeout after {policy.timeout_s:g} s") from e
        text = str(e)
        if "got more than" in text or "LineTooLong" in text or "header line" in text:
            raise Permanent(f"headers too large: > {policy.max_header_bytes} bytes") from e
        raise Transient(f"connection failed: {_short(e)}") from e


def _chain(e: BaseException) -> list[BaseException]:
    """The exception, its causes/contexts, and exceptions urllib3 tucks into args, breadth-first."""
    seen: list[BaseException] = []
    todo = [e]
    while todo and len(seen) < 20:
        cur = todo.pop(0)
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        todo += [x for x in (cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args)
                 if isinstance(x, BaseException)]
    return seen


def _short(e: BaseException) -> str:
    """A reason users can act on: 'DNS lookup failed', 'connection refused', else the innermost OS error."""
    chain = _chain(e)
    if any(isinstance(x, socket.gaierror) for x in chain):
        return "DNS lookup failed"
    if any(isinstance(x, ConnectionRefusedError) for x in chain):
        return "connection refused"
    if any(isinstance(x, ConnectionResetError) for x in chain):
        return "connection reset"
    inner = next((x for x in reversed(chain) if isinstance(x, OSError)), e)
    return re.sub(r"\s+", " ", f"{type(inner).__name__}: {inner}")[:160]


def _finish(resp: requests.Response, url: str, policy: FetchPolicy, deadline: float, fired: threading.Event,
            t0: float, etag: str | None, last_modified: str | None) -> FetchResult:
    status = resp.status_code
    header_bytes = sum(len(k) + len(v) + 4 for k, v in resp.headers.items())
    if header_bytes > policy.max_header_bytes:
        raise Permanent(f"headers too large: > {policy.max_header_bytes} bytes")
    hdrs = CaseInsensitiveDict(resp.headers)
    if status == 429 or status >= 500 or status == 408:
        raise Transient(f"HTTP {status} {resp.reason or ''}".strip(), _retry_after(hdrs.get("Retry-After")))
    if status == 304:
        if not etag and not last_modified:
            raise Transient("HTTP 304 to a request without validators")
        return FetchResult(url, status, hdrs, b"", hdrs.get("ETag") or etag,
                           hdrs.get("Last-Modified") or last_modified, True, time.monotonic() - t0)
    if not 200 <= status < 300:
        raise Permanent(f"HTTP {status} {resp.reason or ''}".strip())
    length = hdrs.get("Content-Length", "")
    if length.isdigit() and int(length) > policy.max_bytes:  # compressed size never exceeds the decoded one
        raise Permanent(f"too large: > {_mb(policy.max_bytes)}")
    body = _read_body(resp, hdrs.get("Content-Encoding", ""), policy, deadline, fired)
    return FetchResult(url, status, hdrs, body, hdrs.get("ETag"), hdrs.get("Last-Modified"), False,
                       time.monotonic() - t0)


def _read_body(resp: requests.Response, encoding: str, policy: FetchPolicy, deadline: float,
               fired: threading.Event) -> bytes:
    decoder = ContentDecoder(encoding)
    parts: list[bytes] = []
    size = 0
    raw = resp.raw
    timeout = f"timeout after {policy.timeout_s:g} s"
    try:
        while True:
            if time.monotonic() >= deadline or fired.is_set():
                raise Transient(timeout)
            data = raw.read1(CHUNK, decode_content=False)
            if not data:
                break
            out = decoder.feed(data, policy.max_bytes - size)
            size += len(out)
            if size > policy.max_bytes:
                raise Permanent(f"too large: > {_mb(policy.max_bytes)}")
            parts.append(out)
    except (Transient, Permanent):
        raise
    except DECODE_ERRORS as e:
        raise Permanent(f"bad {encoding} data: {e}") from e
    except Exception as e:  # urllib3/http.client errors while streaming: cut off, reset, or our deadline
        if fired.is_set() or time.monotonic() >= deadline:
            raise Transient(timeout) from e
        raise Transient(f"connection broken: {_short(e)}") from e
    if fired.is_set():  # the deadline shut the socket: what we have is cut short
        raise Transient(timeout)
    if decoder.truncated():
        raise Transient(f"truncated {encoding} body")
    return b"".join(parts)
