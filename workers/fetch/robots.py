"""robots.txt per origin (Google's reading, via Protego), fetched once through the safe and polite fetch and
shared by all workers in Redis."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from protego import Protego

from feeds.errors import HostBusy, Permanent, Transient
from feeds.ingest.http import FetchResult
from feeds.models import FeedSource
from workers.fetch.politeness import POLL_S

R = TypeVar("R")

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
        self._local: dict[str, tuple[float, Protego | str]] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """May `user_agent` fetch `url`? Raises Transient while the host's robots.txt cannot be read."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        rules = self._rules(origin)
        if isinstance(rules, str):
            raise Transient(f"robots.txt unreachable: {rules}")
        return bool(rules.can_fetch(url, self.user_agent))

    def _rules(self, origin: str) -> Protego | str:
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


def _decode(raw: bytes) -> Protego | str:
    """Cached value → parsed rules, or the reason the robots.txt could not be read (a str)."""
    kind, data = raw[:1], raw[1:]  # "A" (4xx) carries no rules: an empty robots.txt allows everything
    if kind == b"E":
        return data.decode("utf-8", "replace")
    # Protego (Scrapy's parser) reads robots.txt as Google does: wildcards (`Disallow: /*.pdf$`) and the
    # longest matching rule winning (a longer `Allow:` inside a disallowed folder); urllib.robotparser does
    # neither and takes the first rule that matches.
    return Protego.parse(data.decode("utf-8", "replace"))


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
