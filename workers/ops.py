"""The periodic side of alerting: digests due, held alerts released, throttle notices, spikes, ops alerts."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import redis
from pydantic import BaseModel, ConfigDict, Field

from feeds.digest import Notice, build_digest
from feeds.errors import Permanent, Transient
from feeds.models import Alert
from workers import routing
from workers.logging import get_logger
from workers.routing import Duration
from workers.stores import AlertKey, P

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = get_logger("marsad.ops")

# A digest whose sink keeps failing transiently is retried on each tick (one a minute) this many times
# (about an hour, the span of a typical provider outage) before its alerts are dead-lettered.
DIGEST_MAX_FAILURES = 60
# A spike alerts again only after its watch has been below the threshold for this long: no flapping.
SPIKE_COOLDOWN_S = 3600
# Inter-arrival gaps remembered per feed for its rhythm; and how many are needed before judging silence.
RHYTHM_GAPS = 20
RHYTHM_MIN_GAPS = 5
# Failures in a row before a feed or sink can count as failing at all: one error is never an alert.
MIN_FAILURES = 2
RAISED = P + "ops:raised"


class SpikesConfig(BaseModel):
    """`spikes:` in marsad.yaml: alert when a watch's last hour exceeds factor × its usual hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sink: str
    watches: list[str] = Field(default_factory=list, description="watch ids; empty = every watch")
    factor: float = Field(3.0, gt=1)
    min_articles: int = Field(5, ge=1)


class OpsConfig(BaseModel):
    """`ops:` in marsad.yaml: alert a sink when feeds, sinks or queues stay unhealthy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sink: str
    feed_failing_after: Duration = 3600.0
    feed_silent_factor: float = Field(10.0, gt=1)
    feed_silent_min: Duration = 7200.0  # never "silent" sooner than this (news sleeps at night)
    queue_backlog: int = Field(1000, ge=1)
    queue_backlog_for: Duration = 300.0
    sink_failing_after: Duration = 1800.0


def human(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.0f}h" if s < 172800 \
        else f"{s / 86400:.0f}d"


# ------------------------------------------------------------------------------------------- digest tick

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
    if not r.set(k, "sending", nx=True, ex=routing.SEND_CLAIM_TTL_S):
        return False
    try:
        send()
    except BaseException:
        r.delete(k)
        raise
    r.set(k, "sent", ex=max(int(ttl_s), routing.SEND_CLAIM_TTL_S + 1))
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
        sched = routing.schedule(cfg)
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
                sched = routing.schedule(cfg)
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


# ------------------------------------------------------------------------------------------------ spikes

def last_hour(r: redis.Redis, watch_id: str, now: float) -> tuple[int, int]:
    """(matches, distinct outlets) in the last six ten-minute buckets, the current one included."""
    cur = int(now // routing.BUCKET_S)
    keys = [routing.spike_keys(watch_id, b) for b in range(cur - 5, cur + 1)]
    pipe = r.pipeline(transaction=False)
    for m, _ in keys:
        pipe.scard(m)
    pipe.sunion([o for _, o in keys])
    *counts, outlets = pipe.execute()
    return int(sum(counts)), len(outlets)


def baseline(r: redis.Redis, watch_id: str, now: float) -> float:
    """Median hourly match count over the trailing 7 days (hours with no match count as 0)."""
    cur = int(now // 3600)
    raw: dict[bytes, bytes] = r.hgetall(routing.hours_key(watch_id))  # type: ignore[assignment]
    counts = {int(k): int(v) for k, v in raw.items()}
    old = [k for k in counts if k < cur - 192]
    if old:
        r.hdel(routing.hours_key(watch_id), *old)
    return float(statistics.median(counts.get(h, 0) for h in range(cur - 168, cur)))


def check_spikes(rt: Runtime, cfg: SpikesConfig, now: float) -> int:
    r, sink, fired = rt.redis, rt.sink(cfg.sink), 0
    for wid in cfg.watches or [w.id for w in rt.settings.watches]:
        count, outlets = last_hour(r, wid, now)
        base = baseline(r, wid, now)
        active = P + f"spike:{wid}:active"
        if count < cfg.min_articles or count <= cfg.factor * base:
            continue
        if not r.set(active, "1", nx=True, ex=SPIKE_COOLDOWN_S):
            r.expire(active, SPIKE_COOLDOWN_S)  # still spiking: stay quiet
            continue
        w = rt.watch(wid)
        title = (f"{w.name if w else wid} coverage spiking: {count} articles in the last hour from {outlets} "
                 f"outlet{'s' if outlets != 1 else ''}")
        why = (f"Usual: {base:g} per hour (median hour of the last 7 days); alerting above {cfg.factor:g}× "
               f"and at least {cfg.min_articles}.")
        notice = Notice("spike", title, (why,), f"spike:{wid}:{int(now // 3600)}",
                        severity=w.severity if w else "medium")
        try:
            if sink is None:
                raise Permanent(f"sink {cfg.sink!r} is not configured")
            sink.send_notice(notice)
            fired += 1
        except (Transient, Permanent) as exc:
            r.delete(active)  # not told: try again on the next tick
            log.warning("spike_notice_failed", watch=wid, reason=exc.reason)
    return fired


# --------------------------------------------------------------------------------------------------- ops

def record_sink_result(r: redis.Redis, sink_id: str, ok: bool, now: float) -> None:
    """Consecutive delivery failures per sink (reset by a success), for the "sink failing" ops alert."""
    key = P + "ops:sink:" + sink_id
    if ok:
        r.delete(key)
        return
    pipe = r.pipeline()
    pipe.hincrby(key, "failures", 1)
    pipe.hsetnx(key, "since", now)
    pipe.execute()


Conditions = dict[str, tuple[str, tuple[str, ...]]]


def _feed_conditions(rt: Runtime, cfg: OpsConfig, now: float) -> Conditions:
    r, out = rt.redis, Conditions()
    for fid, feed in rt.settings.feeds.items():
        st = rt.feed_state.get(fid)
        failures = int(st.get("failures") or 0)
        rhythm = P + "ops:rhythm:" + fid
        if failures == 0:
            r.hdel(rhythm, "failing_since")
        else:
            r.hsetnx(rhythm, "failing_since", now)
        h = {k.decode(): v.decode() for k, v in r.hgetall(rhythm).items()}  # type: ignore[union-attr]
        since = float(st.get("last_success") or h.get("failing_since") or now)
        if failures >= MIN_FAILURES and now - since > cfg.feed_failing_after:
            out["feed_failing:" + fid] = (f"Feed {feed.name} failing for {human(now - since)}", (
                f"{failures} failed polls in a row; last error: {st.get('last_error') or '?'}",))
        items = int(st.get("items_total") or 0)
        gaps: list[float] = json.loads(h.get("gaps") or "[]")
        if items > int(h.get("items") or -1):
            if "last_new" in h and h.get("items"):
                gaps = [*gaps, now - float(h["last_new"])][-RHYTHM_GAPS:]
            r.hset(rhythm, mapping={"items": items, "last_new": now, "gaps": json.dumps(gaps)})
            continue
        usual = statistics.median(gaps) if len(gaps) >= RHYTHM_MIN_GAPS else None
        quiet = now - float(h.get("last_new") or now)
        if usual is not None and failures == 0 and quiet > max(cfg.feed_silent_min, cfg.feed_silent_factor * usual):
            out["feed_silent:" + fid] = (f"Feed {feed.name} silent for {human(quiet)}", (
                f"It usually brings a new item every {human(usual)}; its polls succeed but nothing new comes.",))
    return out


def ops_conditions(rt: Runtime, cfg: OpsConfig, now: float) -> Conditions:
    """Every unhealthy condition now: id → (title, lines)."""
    from workers.app import QUEUES

    r, out = rt.redis, _feed_conditions(rt, cfg, now)
    for sid in rt.settings.sinks:
        h = {k.decode(): v.decode() for k, v in r.hgetall(P + "ops:sink:" + sid).items()}  # type: ignore[union-attr]
        n, since = int(h.get("failures") or 0), float(h.get("since") or now)
        if n >= MIN_FAILURES and now - since > cfg.sink_failing_after:
            out["sink_failing:" + sid] = (f"Sink {sid} failing for {human(now - since)}", (
                f"{n} failed deliveries in a row; alerts are retried and then kept in `marsad alerts failed`.",))
    for q in QUEUES:
        depth = int(r.llen(q))
        key = P + "ops:queue"
        if depth <= cfg.queue_backlog:
            r.hdel(key, q)
            continue
        r.hsetnx(key, q, now)
        since = float(r.hget(key, q) or now)
        if now - since >= cfg.queue_backlog_for:
            out["queue_backlog:" + q] = (f"Queue {q} backing up: {depth} waiting", (
                f"Above {cfg.queue_backlog} for {human(now - since)}: are enough workers running?",))
    return out


def ops_check(rt: Runtime, cfg: OpsConfig, now: float) -> dict[str, int]:
    """Alert once when a condition starts, once when it clears (best effort); idempotent across beats."""
    r, sink = rt.redis, rt.sink(cfg.sink)
    conds = ops_conditions(rt, cfg, now)
    raised = {k.decode(): json.loads(v) for k, v in r.hgetall(RAISED).items()}  # type: ignore[union-attr]
    stats = Counter[str]()
    todo = [(cid, Notice("ops", t, lines, f"ops:{cid}:{now:.0f}", "high"), True)
            for cid, (t, lines) in conds.items() if cid not in raised]
    todo += [(cid, Notice("resolved", "Resolved: " + v["title"], (), f"resolved:{cid}:{now:.0f}", "low"), False)
             for cid, v in raised.items() if cid not in conds]
    for cid, notice, up in todo:
        # HSETNX/HDEL decide which of two racing checks speaks; the loser says nothing.
        won = r.hsetnx(RAISED, cid, json.dumps({"title": notice.title, "at": now})) if up else r.hdel(RAISED, cid)
        if not won:
            continue
        try:
            if sink is None:
                raise Permanent(f"ops sink {cfg.sink!r} is not configured")
            sink.send_notice(notice)
            stats["raised" if up else "resolved"] += 1
        except (Transient, Permanent) as exc:
            if up:
                r.hdel(RAISED, cid)  # not told: the next check tries again
            log.warning("ops_notice_failed", condition=cid, reason=exc.reason)
    return dict(stats)
