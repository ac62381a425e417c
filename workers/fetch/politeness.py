"""Per-host politeness shared by all workers through Redis: a concurrency cap and a gap between starts."""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import redis

from feeds.errors import HostBusy, Transient

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
