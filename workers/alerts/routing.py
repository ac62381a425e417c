"""Where an alert goes now: immediate, into a sink's digest, or held through quiet hours (state in Redis)."""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import redis

from feeds.models import Alert
from workers.config.routing import Routed, Throttle
from workers.stores.keys import ALERT_SENT_TTL_S, P
from workers.stores.ledger import AlertKey

Decision = Literal["immediate", "digest", "wait"]


def pending_key(sink_id: str) -> str:
    return f"{P}digest:{sink_id}:pending"


def batch_key(sink_id: str) -> str:
    return f"{P}digest:{sink_id}:batch"


def _member(alert: Alert) -> str:
    return f"{alert.watch_id}\x1f{alert.story_id}"


HELD = P + "held:alerts"
HELD_DUE = P + "held:due"
THROTTLE_OPEN = P + "throttle:open"

# Into the digest exactly once: the (watch, story, sink) ledger key turns "sent" in the same atomic
# step, so a re-run task sees "already sent", and an alert already sent immediately is never added.
# The pending hash also keeps when its first item came (field SINCE): a digest is due for a period
# boundary only with items from before it, so an item arriving mid-period never goes out at once.
_ADD_DIGEST = """
if redis.call('get', KEYS[1]) == 'sent' then return 0 end
redis.call('set', KEYS[1], 'sent', 'EX', ARGV[3])
redis.call('hsetnx', KEYS[2], ARGV[1], ARGV[2])
redis.call('hsetnx', KEYS[2], ARGV[5], ARGV[4])
return 1
"""
SINCE = "\x00since"
# A story's rank among the watch's alerts of one throttle window; the same story keeps its rank.
_RANK = """
local n = redis.call('hget', KEYS[1], ARGV[1])
if n then return tonumber(n) end
n = redis.call('hlen', KEYS[1]) + 1
redis.call('hset', KEYS[1], ARGV[1], n)
redis.call('expire', KEYS[1], ARGV[2])
return n
"""
_HOLD = """
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[2], ARGV[3], ARGV[1])
return 1
"""


def _script(r: redis.Redis, src: str) -> Any:
    return r.register_script(src)


def add_to_digest(r: redis.Redis, alert: Alert, sink_id: str, now: float) -> bool:
    """Queue the alert for the sink's next digest; False if it was already sent or queued."""
    key = AlertKey(alert.watch_id, alert.story_id, sink_id).redis_key()
    body = json.dumps(alert.to_dict(), ensure_ascii=False)
    return bool(_script(r, _ADD_DIGEST)(keys=[key, pending_key(sink_id)],
                                        args=[_member(alert), body, ALERT_SENT_TTL_S, now, SINCE]))


def throttle_rank(r: redis.Redis, sink_id: str, alert: Alert, throttle: Throttle, now: float) -> tuple[int, float]:
    """(rank of this story in its watch's current window, window start)."""
    start = math.floor(now / throttle.per) * throttle.per
    key = f"{P}throttle:{sink_id}:{alert.watch_id}:{int(start)}"
    rank = int(_script(r, _RANK)(keys=[key], args=[alert.story_id, int(throttle.per * 2) + 60]))
    return rank, start


def hold(r: redis.Redis, alert: Alert, sink_id: str, until: float) -> None:
    """Keep the alert until `until` (end of quiet hours); `release_due` hands it back to be sent."""
    field = f"{sink_id}\x1f{alert.watch_id}\x1f{alert.story_id}"
    body = json.dumps({"alert": alert.to_dict(), "sink": sink_id}, ensure_ascii=False)
    _script(r, _HOLD)(keys=[HELD, HELD_DUE], args=[field, body, until])


def wait_seconds(config: Routed, now: float) -> float:
    """How long an alert routed "wait" is held: until the sink's quiet hours end (0 when not quiet)."""
    q = config.quiet_hours
    return max(0.0, q.ends(now) - now) if q is not None else 0.0


def route(r: redis.Redis, alert: Alert, sink_id: str, sink_config: Routed, now: float) -> Decision:
    """Decide and record: "immediate" (send now), "digest" (queued for the next digest, done) or "wait"
    (held in Redis until quiet hours end; the digest tick re-enqueues it then: do not send, do not retry).

    Idempotent: a re-run with the same alert gives the same answer and records nothing twice.
    """
    if sink_config.mode == "digest":
        add_to_digest(r, alert, sink_id, now)
        return "digest"
    quiet = sink_config.quiet_hours
    if quiet is not None and quiet.active(now):
        if quiet.action == "digest":
            add_to_digest(r, alert, sink_id, now)
            return "digest"
        hold(r, alert, sink_id, quiet.ends(now))
        return "wait"
    t = sink_config.throttle
    if t is not None:
        rank, start = throttle_rank(r, sink_id, alert, t, now)
        if rank > t.max:
            add_to_digest(r, alert, sink_id, now)
            r.zadd(THROTTLE_OPEN, {f"{sink_id}\x1f{alert.watch_id}\x1f{int(start)}": start + t.per})
            return "digest"
    return "immediate"
