"""The alert ledger (claim, send, then mark sent per watch, story and sink), recent alerts, dead letters."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import redis

from workers.config.limits import ALERT_CLAIM_TTL_S
from workers.stores.keys import ALERT_SENT_TTL_S, DEAD_LETTERS, P

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

    def claim(self, key: AlertKey, owner: str = "") -> LedgerState:
        """'claimed' if this task may send; 'sent' if already done; 'busy' if another task is sending.

        `owner` is the task's id: a claim held by the same task id (the task redelivered after its worker
        died mid-send) is taken back at once."""
        k = key.redis_key()
        mine = f"sending:{owner}".encode()
        if self.r.set(k, mine, nx=True, ex=ALERT_CLAIM_TTL_S):
            return "claimed"
        held = self.r.get(k)
        if held == b"sent":
            return "sent"
        if owner and held == mine and self.r.set(k, mine, xx=True, ex=ALERT_CLAIM_TTL_S):
            return "claimed"
        return "busy"

    def mark_sent(self, key: AlertKey) -> None:
        self.r.set(key.redis_key(), "sent", ex=ALERT_SENT_TTL_S)

    def release(self, key: AlertKey) -> None:
        """Give the claim back after a failed send, so a retry can claim it at once."""
        k = key.redis_key()
        held = self.r.get(k)
        if isinstance(held, bytes) and held.startswith(b"sending"):
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

    def count(self) -> int:
        return int(self.r.llen(DEAD_LETTERS))

    def all(self) -> list[dict[str, Any]]:
        rows: list[bytes] = self.r.lrange(DEAD_LETTERS, 0, -1)  # type: ignore[assignment]
        return [json.loads(r) for r in rows]

    def pop_all(self) -> list[dict[str, Any]]:
        pipe = self.r.pipeline()
        pipe.lrange(DEAD_LETTERS, 0, -1)
        pipe.delete(DEAD_LETTERS)
        rows, _ = pipe.execute()
        return [json.loads(r) for r in rows]


class SentParts:
    """The parts of one (watch, story, sink) delivery already done (one per service of a multi-service sink),
    remembered as long as the alert itself, so a retry never repeats them."""

    def __init__(self, r: redis.Redis, key: AlertKey) -> None:
        self.r = r
        self.prefix = key.redis_key() + ":part:"

    def done(self, part: str) -> bool:
        return bool(self.r.exists(self.prefix + part))

    def mark(self, part: str) -> None:
        self.r.set(self.prefix + part, "1", ex=ALERT_SENT_TTL_S)
