"""Beat's alerting tick: held alerts released, digests that are due sent, throttle notices, then spikes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis

from feeds.alerts.digest import Notice, build_digest
from feeds.errors import Permanent, Transient
from feeds.models import Alert
from workers.alerts import routing
from workers.alerts.health import record_sink_result
from workers.alerts.spikes import check_spikes, check_surges
from workers.config.limits import SEND_CLAIM_TTL_S
from workers.config.models import SpikesConfig
from workers.config.routing import schedule
from workers.logging import get_logger
from workers.runtime import Runtime
from workers.stores.keys import P
from workers.stores.ledger import AlertKey

log = get_logger("marsad.ops")

# A digest whose sink keeps failing transiently is retried on each tick (one a minute) this many times
# (about an hour, the span of a typical provider outage) before its alerts are dead-lettered.
DIGEST_MAX_FAILURES = 60

_TAKE_BATCH = """
if redis.call('exists', KEYS[2]) == 0 and redis.call('exists', KEYS[1]) == 1 then
  redis.call('rename', KEYS[1], KEYS[2])
end
return redis.call('hgetall', KEYS[2])
"""


def release_due(r: redis.Redis, now: float, limit: int = 500) -> list[tuple[str, dict[str, Any], str]]:
    """Held alerts whose time has come: (field, alert dict, sink id). Enqueue each, then `unhold(field)`:
    a crash in between enqueues it twice, and the ledger drops the second."""
    fields: list[bytes] = r.zrangebyscore(routing.HELD_DUE, "-inf", now, start=0, num=limit)  # type: ignore[assignment]
    if not fields:
        return []
    bodies: list[bytes | None] = r.hmget(routing.HELD, fields)  # type: ignore[assignment]
    out = []
    for f, b in zip(fields, bodies, strict=True):
        if b is None:
            r.zrem(routing.HELD_DUE, f)
            continue
        data = json.loads(b)
        out.append((f.decode(), data["alert"], data["sink"]))
    return out


def unhold(r: redis.Redis, field: str) -> None:
    pipe = r.pipeline()
    pipe.hdel(routing.HELD, field)
    pipe.zrem(routing.HELD_DUE, field)
    pipe.execute()


def digest_due(r: redis.Redis, sink_id: str, boundary: float) -> bool:
    """A failed batch waits to be re-sent, or items have been pending since before the boundary."""
    if r.exists(routing.batch_key(sink_id)):
        return True
    since = r.hget(routing.pending_key(sink_id), routing.SINCE)
    return since is not None and float(since) < boundary


def take_batch(r: redis.Redis, sink_id: str) -> list[Alert]:
    """The alerts of the digest to send now: the pending ones, or the batch whose send failed before."""
    flat: list[bytes] = r.register_script(_TAKE_BATCH)(keys=[routing.pending_key(sink_id),
                                                            routing.batch_key(sink_id)])
    return [Alert.from_dict(json.loads(flat[i + 1])) for i in range(0, len(flat), 2)
            if flat[i].decode() != routing.SINCE]


def once(r: redis.Redis, key: str, ttl_s: float, send: Callable[[], None]) -> bool:
    """Run `send` at most once per key across workers and beats: claim, send, mark (the alert ledger's
    pattern). False if done or in progress; a failing `send` gives the claim back and raises."""
    k = P + "once:" + key
    if not r.set(k, "sending", nx=True, ex=SEND_CLAIM_TTL_S):
        return False
    try:
        send()
    except BaseException:
        r.delete(k)
        raise
    r.set(k, "sent", ex=max(int(ttl_s), SEND_CLAIM_TTL_S + 1))
    return True


def _send_digest(rt: Runtime, sink_id: str, boundary: float, tz: str) -> None:
    alerts = take_batch(rt.redis, sink_id)
    sink = rt.sink(sink_id)
    if alerts and sink is not None:
        names = {f.id: f.name for f in rt.settings.feeds.values()}

        def story(story_id: str) -> tuple[tuple[str, ...], int] | None:
            info = rt.stories.story(story_id)
            return (tuple(names.get(o, o) for o in info.outlets), info.articles) if info else None

        digest = build_digest(sink_id, boundary, tz, alerts, story)
        sink.send_digest(digest)
        log.info("digest_sent", sink=sink_id, stories=digest.stories, watches=len(digest.watches))
    rt.redis.delete(routing.batch_key(sink_id), P + f"digest:{sink_id}:failures")
    record_sink_result(rt.redis, sink_id, True, boundary)


def _digest_failed(rt: Runtime, sink_id: str, exc: Transient | Permanent, now: float) -> None:
    r = rt.redis
    record_sink_result(r, sink_id, False, now)
    n = int(r.incr(P + f"digest:{sink_id}:failures"))
    if isinstance(exc, Transient) and n < DIGEST_MAX_FAILURES:
        log.warning("digest_retry", sink=sink_id, attempt=n, reason=exc.reason)
        return
    # Out of budget: each alert goes to the dead letters with its ledger entry cleared, so that
    # `marsad alerts retry` routes it again (into the next digest) instead of finding it "already sent".
    alerts = take_batch(r, sink_id)
    for a in alerts:
        r.delete(AlertKey(a.watch_id, a.story_id, sink_id).redis_key())
        rt.dead.add("alert", {"alert": a.to_dict(), "sink": sink_id}, f"digest: {exc.reason}")
    r.delete(routing.batch_key(sink_id), P + f"digest:{sink_id}:failures")
    log.error("digest_dead_letter", sink=sink_id, alerts=len(alerts), reason=exc.reason)


def digest_tick(rt: Runtime, now: float, enqueue: Callable[[dict[str, Any], str], None]) -> dict[str, int]:
    """Release held alerts, send the digests that are due, throttle notices, spike alerts. Idempotent."""
    r, stats = rt.redis, Counter[str]()
    for field, alert, sink_id in release_due(r, now):
        enqueue(alert, sink_id)
        unhold(r, field)  # after the enqueue: a crash between re-sends, the ledger drops it
        stats["released"] += 1
    stats["notices"] = _throttle_notices(rt, now)  # before the digest that holds the overflow
    for sink_id, cfg in rt.settings.sinks.items():
        if cfg.quiet_hours is not None and cfg.quiet_hours.active(now):
            continue  # the digest goes out when quiet hours end
        sched = schedule(cfg)
        b = sched.boundary(now)
        if not digest_due(r, sink_id, b):
            continue
        try:
            sent = once(r, f"digest:{sink_id}:{b:.0f}", sched.length() * 2,
                        lambda s=sink_id, b=b, tz=sched.tz: _send_digest(rt, s, b, tz))  # type: ignore[misc]
            stats["digests"] += sent
        except (Transient, Permanent) as exc:
            _digest_failed(rt, sink_id, exc, now)
    spikes: SpikesConfig | None = getattr(rt.settings, "spikes", None)
    if spikes is not None:
        stats["spikes"] = check_spikes(rt, spikes, now)
    stats["surges"] = check_surges(rt, now)
    return {k: v for k, v in stats.items() if v}


def _throttle_notices(rt: Runtime, now: float) -> int:
    r, sent = rt.redis, 0
    rows: list[bytes] = r.zrangebyscore(routing.THROTTLE_OPEN, "-inf", now)  # type: ignore[assignment]
    for row in rows:
        sink_id, watch_id, start_s = row.decode().split("\x1f")
        start = float(start_s)
        cfg, sink = rt.settings.sinks.get(sink_id), rt.sink(sink_id)
        if cfg is not None and cfg.quiet_hours is not None and cfg.quiet_hours.active(now):
            continue
        if cfg is not None and cfg.throttle is not None and sink is not None:
            t = cfg.throttle
            extra = int(r.hlen(f"{P}throttle:{sink_id}:{watch_id}:{int(start)}")) - t.max
            if extra > 0:
                w = rt.watch(watch_id)
                sched = schedule(cfg)
                zone = ZoneInfo(sched.tz)
                span = "–".join(datetime.fromtimestamp(x, zone).strftime("%H:%M") for x in (start, start + t.per))
                notice = Notice("throttle", f"{w.name if w else watch_id}: {extra} more in digest", (
                    f"More than {t.max} alerts for this watch between {span} {sched.tz}; the other {extra} are "
                    f"in the next digest ({datetime.fromtimestamp(sched.next(now), zone):%Y-%m-%d %H:%M}).",),
                    f"throttle:{sink_id}:{watch_id}:{int(start)}")
                try:
                    sent += once(r, notice.key, t.per * 2, lambda s=sink, n=notice: s.send_notice(n))  # type: ignore[misc]
                except (Transient, Permanent) as exc:
                    log.warning("throttle_notice_failed", sink=sink_id, watch=watch_id, reason=exc.reason)
                    continue  # the window stays open: the next tick tries again
        r.zrem(routing.THROTTLE_OPEN, row)
    return sent
