"""The event stage of the story store, client side: the article's vector under the current IDF (the shipped
table plus the store's own epoch counts), packed with the stage's parameters as the arguments of its Lua
(workers/stores/events_lua.py), which runs inside the story store's one atomic call. The same rule in Python
is feeds/dedup/event.py, and a test checks they decide alike."""

from __future__ import annotations

import math
import struct
from typing import Any

import redis

from feeds.dedup import df as base_df
from feeds.dedup import event as ev

# Postings live in buckets this long; a lookup reads the buckets that can hold a story still open
# (ev.MAX_HOURS back), so an entry lives at most MAX_HOURS + one bucket.
BUCKET_S = 6 * 3600
# Story ids kept per posting key (newest first): a term shared by more stories than this in two days is not
# rare, and the stories it points to are reached through the article's other keys.
POST_LIMIT = 6
# Stories scored per article at most (those hit by the most posting keys first): the cost of one decision
# stays fixed whatever the number of open stories (bench/events_bench.py measures it at 100,000).
MAX_CANDIDATES = 32
# The store's own document counts (the IDF of rare terms, feeds/dedup/df.py) are kept per epoch of this length,
# and an article reads the last DF_EPOCHS of them: the counts cover the last two to four weeks of news. A name
# that burst a month ago is rare again, and the counts (one hash field per term) stay as large as a month of
# news, not as large as the daemon's whole life (one count for all time grew by every new name, for ever).
DF_EPOCH_S = 14 * 86400
DF_EPOCHS = 2
# An article counts from its publication time when that is at most LATE_S old and at most AHEAD_S in the future
# (clock skew between an outlet and us; clamp_time). So no story in the index is dated past now + AHEAD_S, and a
# lookup reads the buckets after the article's own only up to that one (see EventIndex.args).
LATE_S = 7 * 86400
AHEAD_S = 300
# Each write renews an epoch's TTL. Its counts are read by articles dated up to DF_EPOCHS - 1 epochs after it
# closes, which may arrive LATE_S later still: the TTL must cover that from the epoch's last writes.
DF_TTL_S = DF_EPOCHS * DF_EPOCH_S + 86400
if DF_TTL_S < (DF_EPOCHS - 1) * DF_EPOCH_S + LATE_S:
    raise AssertionError("an epoch's document counts must outlive the articles that read them")


# The all-time counts of stores before the epochs (their keys, under the store's prefix).
LEGACY_DF, LEGACY_N = "ev:df", "ev:n"


def df_epoch(t: float) -> int:
    """The epoch whose document counts an article at time t adds to."""
    return int(t // DF_EPOCH_S)


def clamp_time(published: float | None, now: float) -> float:
    """The time an article counts from: its publication when plausible (a feed's date in the future, or more
    than a window old, is not), else the time it arrived."""
    if published is None or published > now + AHEAD_S or published < now - LATE_S:
        return now
    return published


def pack_vector(v: ev.EventVector, df_terms: set[int]) -> bytes:
    """t, the three quantised vectors (3-byte term + 1-byte weight), rare terms, posting keys, df terms."""
    def entries(vec: ev.Vector) -> bytes:
        return b"".join(h.to_bytes(3, "big") + bytes([min(255, math.floor(x * ev.QUANT + 0.5))])
                        for h, x in sorted(vec.items(), key=lambda kv: (-kv[1], kv[0])))
    keys = v.posting_keys()
    rare = sorted(v.rare)
    head = struct.pack(">IBBBBB", int(v.t), len(v.content), len(v.title), len(v.entities), len(rare), len(keys))
    return (head + entries(v.content) + entries(v.title) + entries(v.entities)
            + b"".join(h.to_bytes(3, "big") for h in rare) + b"".join(h.to_bytes(3, "big") for h in keys)
            + b"".join(h.to_bytes(3, "big") for h in sorted(df_terms)))


class EventIndex:
    """What the story store needs for the event stage: the article's vector under the current IDF (the shipped
    table plus this store's own counts), and the stage's parameters as script arguments."""

    def __init__(self, client: redis.Redis, prefix: str, articles_per_day: int) -> None:
        self.r = client
        self.prefix = prefix
        per_bucket = max(1.0, articles_per_day * BUCKET_S / 86400)
        keys = ev.POST_TERMS + ev.POST_ENTITIES
        self.shards = max(1, math.ceil(per_bucket * keys / 80))  # ~80 fields per hash (compact encoding)
        self.nbuckets = math.ceil(ev.MAX_HOURS * 3600 / BUCKET_S)
        # Stores written before the epoch counts (CHANGELOG, 2026-12-03) kept one all-time count under these names,
        # no longer read: each process frees them with its first read of the counts (UNLINK of a missing key is a
        # no-op).
        self.legacy: list[str] = [f"{prefix}{LEGACY_DF}", f"{prefix}{LEGACY_N}"]

    def vector(self, terms: ev.EventTerms, t: float) -> tuple[ev.EventVector, set[int]]:
        """The article's vector, and the terms whose document counts it adds to (the tracked, rare ones)."""
        base, n0 = base_df.base()
        wanted = sorted(h for h in set(terms.content) | set(terms.entities) if base.get(h, 0) <= base_df.TRACK_MAX)
        seen, n1 = self.online_counts(wanted, t)
        n = n0 + n1
        scale = n / n0
        v = ev.vectorise(terms, lambda h: base_df.online_df(h, base, seen, scale), n, t)
        # Counted: the tracked terms that made the article's vector, not every rare term of its text (hundreds
        # of HINCRBYs per article, most of the event stage's cost). A term that bursts (a new name) has a high
        # IDF, so it is in the vectors and counted until it is common enough to fall out of them.
        return v, {h for h in wanted if h in v.content or h in v.entities}

    def online_counts(self, terms: list[int], t: float) -> tuple[dict[int, int], int]:
        """The store's own counts at time t (the last DF_EPOCHS epochs): documents per term, and documents."""
        fields = [h.to_bytes(3, "big") for h in terms] or [b"\0\0\0"]
        pipe = self.r.pipeline(transaction=False)
        epoch = df_epoch(t)
        if self.legacy:
            pipe.unlink(*self.legacy)
            self.legacy = []
        for e in range(epoch - DF_EPOCHS + 1, epoch + 1):
            pipe.hmget(f"{self.prefix}ev:df:{e}", fields)
            pipe.get(f"{self.prefix}ev:n:{e}")
        replies = pipe.execute()[-2 * DF_EPOCHS:]
        seen: dict[int, int] = {}
        n = 0
        for online, count in zip(replies[::2], replies[1::2], strict=True):
            n += int(count or 0)
            for h, x in zip(terms, online, strict=False):
                if x is not None:
                    seen[h] = seen.get(h, 0) + int(x)
        return seen, n

    def args(self, v: ev.EventVector, df_terms: set[int], now: float) -> list[Any]:
        """ARGV[22..44] of the story store's script."""
        bucket = int(v.t // BUCKET_S)
        # A report published after this one may have arrived first (outlets are polled at their own pace): the
        # lookup also reads the buckets after the article's own, up to the newest any story can be in.
        ahead = max(0, min(self.nbuckets, int((now + AHEAD_S) // BUCKET_S) - bucket))
        return [pack_vector(v, df_terms), bucket, self.nbuckets, self.shards, repr(ev.W_CONTENT), repr(ev.W_TITLE),
                repr(ev.W_ENTITIES), repr(ev.W_HOURS), repr(ev.W_RARE), repr(ev.BIAS), int(ev.IDLE_HOURS * 3600),
                int(ev.MAX_HOURS * 3600), ev.RARE_CAP, POST_LIMIT, MAX_CANDIDATES, ev.CONTENT_TERMS, ev.TITLE_TERMS,
                ev.ENTITY_TERMS, int(ev.MAX_HOURS * 3600 + BUCKET_S), repr(ev.QUANT), df_epoch(v.t), DF_TTL_S, ahead]
