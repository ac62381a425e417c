"""Per-feed polling state and health in Redis, one hash per feed."""

from __future__ import annotations

from typing import Any

import redis

from workers.stores.keys import P


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
