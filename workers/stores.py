"""Redis adapters: seen-entry claims, feed state, the alert ledger, locks, dead letters, attempt counts."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import redis

P = "marsad:"
# An entry URL stays "seen" this long: far beyond any feed's memory (feeds list days, not months),
# so an old item re-appearing in a feed never re-alerts.
SEEN_TTL_S = 90 * 86400
# A send in progress holds its claim this long: longer than any sink timeout (≤ 60 s) plus
# rendering, shorter than the broker's visibility timeout (600 s) so a redelivered task can send.
ALERT_CLAIM_TTL_S = 120
# A sent alert is remembered this long: longer than the dedup window, so a story that lingers in
# feeds for weeks never alerts twice.
ALERT_SENT_TTL_S = 60 * 86400
DEAD_LETTERS = P + "alerts:failed"
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class SeenStore:
    """Claims entry URLs so each is enqueued once across all workers and restarts."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def claim(self, canonical_url: str) -> bool:
        return bool(self.r.set(P + "seen:" + canonical_url, "1", nx=True, ex=SEEN_TTL_S))

    def release(self, canonical_url: str) -> None:
        self.r.delete(P + "seen:" + canonical_url)


class Locks:
    """Short-lived mutual exclusion with SET NX EX and a compare-and-delete release."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self._release = r.register_script(_RELEASE)

    def acquire(self, name: str, ttl_s: float) -> str | None:
        token = uuid.uuid4().hex
        ok = self.r.set(P + "lock:" + name, token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if ok else None

    def release(self, name: str, token: str) -> None:
        self._release(keys=[P + "lock:" + name], args=[token])


class FeedStateStore:
    """Per-feed polling state and health, one Redis hash per feed."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def key(self, feed_id: str) -> str:
        return P + "feed:" + feed_id

    def get(self, feed_id: str) -> dict[str, str]:
        raw: dict[bytes, bytes] = self.r.hgetall(self.key(feed_id))  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}

    def update(self, feed_id: str, **fields: Any) -> None:
        clean = {k: ("" if v is None else str(v)) for k, v in fields.items()}
        if clean:
            self.r.hset(self.key(feed_id), mapping=clean)  # type: ignore[arg-type]

    def incr(self, feed_id: str, field: str, by: int = 1) -> None:
        self.r.hincrby(self.key(feed_id), field, by)


LedgerState = Literal["claimed", "sent", "busy"]


@dataclass(frozen=True)
class AlertKey:
    watch: str
    story: str
    sink: str

    def redis_key(self) -> str:
        return f"{P}alert:{self.watch}:{self.story}:{self.sink}"


class AlertLedger:
    """Exactly-once bookkeeping per (watch, story, sink): claim, send, then mark sent."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def claim(self, key: AlertKey) -> LedgerState:
        """'claimed' if this worker may send; 'sent' if already done; 'busy' if another is sending."""
        k = key.redis_key()
        if self.r.set(k, "sending", nx=True, ex=ALERT_CLAIM_TTL_S):
            return "claimed"
        return "sent" if self.r.get(k) == b"sent" else "busy"

    def mark_sent(self, key: AlertKey) -> None:
        self.r.set(key.redis_key(), "sent", ex=ALERT_SENT_TTL_S)

    def release(self, key: AlertKey) -> None:
        """Give the claim back after a failed send, so a retry can claim it at once."""
        k = key.redis_key()
        if self.r.get(k) == b"sending":
            self.r.delete(k)

    def record_recent(self, entry: dict[str, Any], keep: int = 200) -> None:
        pipe = self.r.pipeline()
        pipe.lpush(P + "alerts:recent", json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(P + "alerts:recent", 0, keep - 1)
        pipe.execute()

    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        rows: list[bytes] = self.r.lrange(P + "alerts:recent", 0, n - 1)  # type: ignore[assignment]
        return [json.loads(r) for r in rows]


class DeadLetters:
    """Alerts that used up their retry budget, kept for `marsad alerts failed` / `retry`."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def add(self, kind: str, payload: dict[str, Any], reason: str) -> None:
        entry = {"kind": kind, "payload": payload, "reason": reason, "at": time.time()}
        self.r.rpush(DEAD_LETTERS, json.dumps(entry, ensure_ascii=False))

    def all(self) -> list[dict[str, Any]]:
        rows: list[bytes] = self.r.lrange(DEAD_LETTERS, 0, -1)  # type: ignore[assignment]
        return [json.loads(r) for r in rows]

    def pop_all(self) -> list[dict[str, Any]]:
        pipe = self.r.pipeline()
        pipe.lrange(DEAD_LETTERS, 0, -1)
        pipe.delete(DEAD_LETTERS)
        rows, _ = pipe.execute()
        return [json.loads(r) for r in rows]


class Attempts:
    """Counts deliveries of one task message, so a poison input cannot loop forever."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def bump(self, task_id: str, ttl_s: int = 86400) -> int:
        k = P + "attempts:" + task_id
        pipe = self.r.pipeline()
        pipe.incr(k)
        pipe.expire(k, ttl_s)
        n, _ = pipe.execute()
        return int(n)

    def clear(self, task_id: str) -> None:
        self.r.delete(P + "attempts:" + task_id)
