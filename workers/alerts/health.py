"""Ops health alerts: feeds failing or silent against their own rhythm, sinks failing, queues backing up."""

from __future__ import annotations

import json
import statistics
from collections import Counter

import redis

from feeds.alerts.digest import Notice
from feeds.errors import Permanent, Transient
from workers.config.models import OpsConfig
from workers.logging import get_logger
from workers.runtime import Runtime
from workers.stores.keys import QUEUES, P

log = get_logger("marsad.ops")

# Inter-arrival gaps remembered per feed for its rhythm; and how many are needed before judging silence.
RHYTHM_GAPS = 20
RHYTHM_MIN_GAPS = 5
# Failures in a row before a feed or sink can count as failing at all: one error is never an alert.
MIN_FAILURES = 2
RAISED = P + "ops:raised"


def human(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.0f}h" if s < 172800 \
        else f"{s / 86400:.0f}d"


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
