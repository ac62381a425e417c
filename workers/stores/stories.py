"""The story index in Redis: one atomic Lua call files an article into a story (new, exact or near copy, or
another report of an open event)."""

from __future__ import annotations

import hashlib
import math
import string
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

import redis

from feeds.dedup.event import EventTerms
from feeds.dedup.fingerprint import BANDS, BINS, Sketch
from feeds.dedup.lead import LEAD_BANDS
from feeds.dedup.story import (
    LEAD_TEXT_THRESHOLD,
    LEAD_THRESHOLD,
    LEAD_VETO,
    LEAD_VETO_BELOW,
    NEAR_DUP_THRESHOLD,
    SAME_OUTLET_THRESHOLD,
    Outcome,
    StoryAssignment,
    StoryInfo,
)
from workers.stores import events, story_lua
from workers.stores.events import clamp_time

_OUTCOMES: dict[bytes, Outcome] = {b"n": "new", b"d": "duplicate", b"m": "near_duplicate", b"e": "joined_event"}


def article_key(article_id: str) -> bytes:
    """The 6-byte key an article is stored under (48 bits: collisions ~1e-5 over 100,000 articles)."""
    return hashlib.blake2b(article_id.encode(), digest_size=6).digest()


# Every printable ASCII character but "%": re-quoting with this escapes exactly the non-ASCII bytes.
_ASCII_SAFE = "".join(c for c in string.punctuation + string.ascii_letters + string.digits if c != "%")


def pack_id(article_id: str) -> bytes:
    """An article id as stored: percent-decoded when that is lossless (Arabic URLs shrink ~2.5×)."""
    raw = unquote_to_bytes(article_id)
    if raw != article_id.encode() and quote_from_bytes(raw, safe=_ASCII_SAFE) == article_id:
        return b"\x01" + raw
    return article_id.encode()


def unpack_id(stored: bytes) -> str:
    """The article id `pack_id` stored."""
    if stored[:1] == b"\x01":
        return quote_from_bytes(stored[1:], safe=_ASCII_SAFE)
    return stored.decode()


class RedisStoryStore:
    """StoryStore on Redis: every worker on every machine files articles into the same stories."""

    def __init__(self, client: redis.Redis, window_s: int = 7 * 86400, prefix: str = "marsad:story:",
                 articles_per_day: int = 20_000) -> None:
        self.r = client
        self.window_s = int(window_s)
        self.prefix = prefix
        # Seven buckets per window: an entry lives between window and window × 8/7, and a lookup
        # reads eight buckets per key.
        self.bucket_s = max(1, self.window_s // 7)
        self.nbuckets = math.ceil(self.window_s / self.bucket_s)
        per_bucket = max(1.0, articles_per_day * self.bucket_s / 86400)
        # Shard counts aim at ~80 fields per hash at the expected volume: inside the 128 that keeps a
        # hash in its compact encoding (Redis' hash-max-ziplist-entries) with room for +50% bursts, and
        # few enough keys that their ~150 bytes of overhead each stay a small share per article.
        # "a", "g", "f" hold one field per article, "u" about two, "b" one per band.
        self.shards = max(1, math.ceil(per_bucket / 80))
        self.band_shards = max(1, math.ceil(per_bucket * (BANDS + LEAD_BANDS) / 80))
        # ids: one 64-byte chunk for a short id, three for a typical percent-decoded Arabic URL
        self.id_shards = max(1, math.ceil(per_bucket * 2 / 80))
        self.need_cross = math.ceil(NEAR_DUP_THRESHOLD * BINS - 1e-9)
        self.need_same = math.ceil(SAME_OUTLET_THRESHOLD * BINS - 1e-9)
        self.need_lead_text = math.ceil(LEAD_TEXT_THRESHOLD * BINS - 1e-9)
        self.need_veto_below = math.ceil(LEAD_VETO_BELOW * BINS - 1e-9)
        self.events = events.EventIndex(client, prefix, articles_per_day)
        self._assign = client.register_script(story_lua.ASSIGN)
        self._story = client.register_script(story_lua.STORY)

    def _common(self, now: float) -> list[Any]:
        bucket = int(now // self.bucket_s)
        return [self.prefix, bucket, self.nbuckets, self.shards, self.id_shards]

    def assign(self, article_id: str, outlet: str, fingerprint: str, sketch: Sketch, now: float,
               event: EventTerms | None = None, published: float | None = None) -> StoryAssignment:
        """File the article into a story in one atomic step: an exact copy, a near copy, another report of an
        open event (when `event` is given), or a new story. Re-running it returns the same story."""
        bucket = int(now // self.bucket_s)
        ev_args: list[Any] = [b""] + [0] * 22  # ARGV[22..44], unused without an event
        if event is not None:
            vec, df_terms = self.events.vector(event, clamp_time(published, now))
            ev_args = self.events.args(vec, df_terms, now)
        # A relative TTL from the caller's clock (not EXPIREAT): the bucket closes, then lives a window.
        ttl = max(1, math.ceil((bucket + 1) * self.bucket_s + self.window_s - now))
        fp = hashlib.blake2b(fingerprint.encode(), digest_size=8).digest()  # any string → 8 bytes
        res = self._assign(args=[
            *self._common(now), article_key(article_id), pack_id(article_id), outlet, fp,
            sketch.signature + sketch.lead if sketch.signature else b"",
            b"".join(sketch.bands + sketch.lead_bands), ttl, self.band_shards,
            self.need_cross, self.need_same, self.window_s + self.bucket_s,
            BINS, self.need_lead_text, repr(LEAD_THRESHOLD), self.need_veto_below, repr(LEAD_VETO), *ev_args,
        ])
        outcome, story, dup, n, outlets, first_seen = res
        return StoryAssignment(
            story_id=bytes(story).hex(),
            outcome=_OUTCOMES[bytes(outcome)],
            duplicate_of=unpack_id(bytes(dup)) if dup else None,
            outlets=tuple(sorted(bytes(o).decode() for o in outlets)),
            articles=int(n),
            first_seen=float(first_seen) if first_seen else None,
        )

    def story(self, story_id: str, now: float | None = None) -> StoryInfo | None:
        """A story's outlets, article count and first article id; None once it has expired."""
        import time

        res = self._story(args=[*self._common(time.time() if now is None else now), bytes.fromhex(story_id)])
        n, first, outlets = res
        if not n:
            return None
        return StoryInfo(story_id, tuple(sorted(bytes(o).decode() for o in outlets)), int(n),
                         unpack_id(bytes(first)) if first else None)
