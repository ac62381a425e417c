"""Claims in Redis: entry URLs seen once, short locks, and delivery counts of task messages (SET NX EX)."""

from __future__ import annotations

import uuid

import redis

from workers.stores.keys import SEEN_TTL_S, P

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
