"""Per-host politeness shared by all workers through Redis: concurrency cap, start gap, and robots.txt."""

from __future__ import annotations

import functools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import redis

from feeds.errors import HostBusy, Permanent, Transient
from feeds.http import FetchResult
from feeds.models import FeedSource

__all__ = ["HostBusy", "HostLimiter", "RobotsCache", "page_fetcher", "polite", "robots_checked"]

Kind = Literal["feed", "page"]
R = TypeVar("R")

# One round trip decides: drop expired holders, then either reserve a start time (a slot is free and the
# reserved start is at least `gap` after the previous one) or say how long to wait. Server time (TIME) so
# that workers on machines with skewed clocks still agree. Reserving a future start (instead of polling
# until the gap has passed) keeps the order fair and the waiters quiet.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, gap, hold, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now, 'full'}
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(now, last + gap)
if start - now > max_wait then
  return {0, start - now, 'gap'}
end
redis.call('ZADD', KEYS[1], start + hold, ARGV[5])
if redis.call('PTTL', KEYS[1]) < start - now + hold then  -- never shorten: another holder may live longer
  redis.call('PEXPIRE', KEYS[1], start - now + hold)
end
redis.call('SET', KEYS[2], start, 'PX', start - now + gap + 1000)
return {1, start - now, 'ok'}
"""

# A waiter whose host is full polls this often: releases are not announced, so this bounds the delay
# between a slot freeing and a waiter taking it (and the load a busy host puts on Redis).
POLL_S = 0.05


def host_of(url: str) -> str:
    """The politeness key of a URL: its lower-cased host name (ports share the host's budget)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return (host or "").lower()


class HostLimiter:
    """At most `max_concurrent` requests in flight per host, starts at least `min_gap_s` apart, cluster-wide.

    `hold_s` is how long a slot lives without being released: set it to at least the request deadline so
    a worker that crashes mid-request frees its slot by itself soon after that request would have ended.
    """

    def __init__(self, client: redis.Redis, kind: Kind, max_concurrent: int = 2, min_gap_s: float = 1.0,
                 max_wait_s: float = 5.0, hold_s: float = 60.0) -> None:
        if max_concurrent < 1 or min_gap_s < 0 or max_wait_s < 0 or hold_s <= 0:
            raise ValueError("need max_concurrent ≥ 1, min_gap_s ≥ 0, max_wait_s ≥ 0, hold_s > 0")
        self.redis = client
        self.kind = kind
        self.max_concurrent = max_concurrent
        self.min_gap_s = min_gap_s
        self.max_wait_s = max_wait_s
        self.hold_s = hold_s
        self._script = client.register_script(_ACQUIRE)

    def _keys(self, host: str) -> list[str]:
        tag = f"{{{self.kind}:{host}}}"  # hash tag: both keys in one cluster slot, as a script needs
        return [f"marsad:polite:{tag}:holders", f"marsad:polite:{tag}:last"]

    def acquire(self, url: str) -> str:
        """Reserve a slot for `url`'s host and sleep until its start time; returns the token to release.

        Raises HostBusy when no slot can start within `max_wait_s`.
        """
        host = host_of(url)
        keys = self._keys(host)
        token = uuid.uuid4().hex
        give_up = time.monotonic() + self.max_wait_s
        while True:
            left_ms = max(0, int((give_up - time.monotonic()) * 1000))
            try:
                got, wait_ms, why = self._script(keys=keys, args=[
                    self.max_concurrent, int(self.min_gap_s * 1000), int(self.hold_s * 1000), left_ms, token])
            except redis.RedisError as e:
                raise Transient(f"politeness: Redis unavailable: {type(e).__name__}") from e
            if got:
                if wait_ms > 0:
                    try:
                        time.sleep(wait_ms / 1000)
                    except BaseException:  # soft time limit or shutdown while waiting: give the slot back
                        self.release(url, token)
                        raise
                return token
            now = time.monotonic()
            # A gap reservation that does not fit now never will (the last start only moves later); a full
            # host may free a slot any moment, so that one is worth polling until the wait is used up.
            gap_bound = why in (b"gap", "gap")
            if gap_bound or now >= give_up:
                # Retry when the next start is free; a full host usually frees a slot within a request's time.
                raise HostBusy(f"politeness: host busy ({self.kind} {host or '?'})",
                               retry_after=wait_ms / 1000 if gap_bound else max(self.min_gap_s, 1.0))
            time.sleep(min(give_up - now, POLL_S * random.uniform(0.8, 1.2)))  # jitter: waiters out of step

    def release(self, url: str, token: str) -> None:
        try:
            self.redis.zrem(self._keys(host_of(url))[0], token)
        except redis.RedisError:
            pass  # the slot expires by itself after hold_s

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        token = self.acquire(url)
        try:
            yield
        finally:
            self.release(url, token)


def polite(fetch_fn: Callable[..., R], client: redis.Redis, kind: Kind, max_concurrent: int = 2,
           min_gap_s: float = 1.0, max_wait_s: float = 5.0, hold_s: float = 60.0) -> Callable[..., R]:
    """`fetch_fn(url, **kw)` that first takes a slot of the URL's host and always gives it back."""
    limiter = HostLimiter(client, kind, max_concurrent, min_gap_s, max_wait_s, hold_s)

    @functools.wraps(fetch_fn)
    def wrapper(url: str, /, *args: Any, **kw: Any) -> R:
        with limiter.slot(url):
            return fetch_fn(url, *args, **kw)

    wrapper.limiter = limiter  # type: ignore[attr-defined]
    return wrapper


# Google reads only the first 500 KiB of a robots.txt; a longer one is treated as cut there.
ROBOTS_MAX_BYTES = 500 * 1024
# An unreachable or 5xx robots.txt means "disallowed for now"; remembering that for a few minutes keeps a
# sick host from getting a robots request for every page of every worker.
ROBOTS_FAIL_TTL_S = 300
# Each process keeps a parsed copy this long, so a burst of pages costs one Redis read, not one per page.
ROBOTS_LOCAL_TTL_S = 60
# One worker fetches a host's robots.txt while the others wait this long for its answer, then fetch too.
ROBOTS_LOCK_WAIT_S = 5.0


class RobotsCache:
    """robots.txt per origin, fetched through the safe (and polite) fetch, shared by all workers in Redis.

    Follows Google's reading: 2xx → the rules; 4xx (and other permanent failures such as a redirect loop or
    a blocked address) → everything allowed; 5xx, 429, timeouts → nothing allowed for now (Transient).
    """

    def __init__(self, client: redis.Redis, fetch_fn: Callable[..., FetchResult], user_agent: str,
                 ttl_s: int = 86400, fail_ttl_s: int = ROBOTS_FAIL_TTL_S,
                 local_ttl_s: float = ROBOTS_LOCAL_TTL_S) -> None:
        self.redis = client
        self.fetch_fn = fetch_fn
        self.user_agent = user_agent
        self.ttl_s = ttl_s
        self.fail_ttl_s = fail_ttl_s
        self.local_ttl_s = local_ttl_s
        self._local: dict[str, tuple[float, RobotFileParser | str]] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """May `user_agent` fetch `url`? Raises Transient while the host's robots.txt cannot be read."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        rules = self._rules(origin)
        if isinstance(rules, str):
            raise Transient(f"robots.txt unreachable: {rules}")
        return rules.can_fetch(self.user_agent, url)

    def _rules(self, origin: str) -> RobotFileParser | str:
        now = time.monotonic()
        with self._lock:
            hit = self._local.get(origin)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = f"marsad:robots:{origin}"
        try:
            raw: Any = self.redis.get(key)
            if raw is None:
                raw = self._fetch_shared(origin, key)
        except redis.RedisError as e:
            raise Transient(f"robots.txt: Redis unavailable: {type(e).__name__}") from e
        rules = _decode(bytes(raw))
        with self._lock:
            if len(self._local) > 10_000:  # bound the memory of a worker that sees very many hosts
                self._local.clear()
            self._local[origin] = (now + self.local_ttl_s, rules)
        return rules

    def _fetch_shared(self, origin: str, key: str) -> bytes:
        lock = f"marsad:robots-lock:{origin}"
        owner = uuid.uuid4().hex
        # The lock outlives a robots fetch (one request deadline) with room to spare; a holder that dies
        # only makes the others wait ROBOTS_LOCK_WAIT_S once before they fetch themselves.
        if not self.redis.set(lock, owner, nx=True, ex=120):
            give_up = time.monotonic() + ROBOTS_LOCK_WAIT_S
            while time.monotonic() < give_up:
                time.sleep(POLL_S)
                raw: Any = self.redis.get(key)
                if raw is not None:
                    return bytes(raw)
        try:
            value, ttl = self._fetch(origin)
            self.redis.set(key, value, ex=ttl)
            return value
        finally:
            if self.redis.get(lock) in (owner, owner.encode()):  # not another worker's lock after ours expired
                self.redis.delete(lock)

    def _fetch(self, origin: str) -> tuple[bytes, int]:
        try:
            res = self.fetch_fn(origin + "/robots.txt")
        except HostBusy:
            raise  # says nothing about robots.txt: do not remember it
        except Transient as e:
            return b"E" + e.reason.encode()[:300], self.fail_ttl_s
        except Permanent:
            return b"A", self.ttl_s
        return b"B" + res.body[:ROBOTS_MAX_BYTES], self.ttl_s


def _decode(raw: bytes) -> RobotFileParser | str:
    """Cached value → parsed rules, or the reason the robots.txt could not be read (a str)."""
    kind, data = raw[:1], raw[1:]  # "A" (4xx) carries no rules: an empty robots.txt allows everything
    if kind == b"E":
        return data.decode("utf-8", "replace")
    parser = RobotFileParser()
    parser.parse(data.decode("utf-8", "replace").splitlines())
    return parser


def robots_checked(fetch_fn: Callable[..., R], robots: RobotsCache) -> Callable[..., R]:
    """`fetch_fn(url, **kw)` that raises Permanent("blocked by robots.txt") for pages robots.txt disallows."""

    @functools.wraps(fetch_fn)
    def wrapper(url: str, /, *args: Any, **kw: Any) -> R:
        if not robots.allowed(url):
            raise Permanent("blocked by robots.txt")
        return fetch_fn(url, *args, **kw)

    return wrapper


def page_fetcher(fetch_fn: Callable[..., R], robots: RobotsCache, feed: FeedSource) -> Callable[..., R]:
    """The page fetch for one feed's entries: robots.txt honoured unless the feed says `ignore_robots`."""
    return fetch_fn if feed.ignore_robots else robots_checked(fetch_fn, robots)
