"""Coverage spikes: matches counted per watch in ten-minute buckets, against the watch's usual hour."""

from __future__ import annotations

import statistics
import uuid
from typing import TYPE_CHECKING

import redis

from feeds.alerts.digest import Notice
from feeds.errors import Permanent, Transient
from workers.config.models import SpikesConfig
from workers.logging import get_logger
from workers.runtime import Runtime
from workers.stores.keys import P

if TYPE_CHECKING:
    from workers.alerts.sinks import Sink

log = get_logger("marsad.spikes")

# A spike alerts again only after its watch has been below the threshold for this long: no flapping.
SPIKE_COOLDOWN_S = 3600

# Match counts per watch in ten-minute buckets: "the last hour" is the last six of them, so a spike is seen
# within ten minutes of its start; a bucket outlives the hour it can count in.
BUCKET_S = 600
BUCKET_TTL_S = 2 * 3600
# Hourly counts for the baseline: seven days of trailing hours, plus a day of slack before pruning.
HOURS_KEEP_S = 8 * 86400
# A match counts once: KEYS[4] remembers the article for the bucket's lifetime, so a task re-run in a
# later bucket (a retry, a redelivery after a crash) does not count it again.
_COUNT = """
if redis.call('set', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then
  redis.call('sadd', KEYS[1], ARGV[1])
  redis.call('hincrby', KEYS[3], ARGV[3], 1)
end
redis.call('sadd', KEYS[2], ARGV[2])
redis.call('expire', KEYS[1], ARGV[4])
redis.call('expire', KEYS[2], ARGV[4])
redis.call('expire', KEYS[3], ARGV[5])
return 1
"""


def spike_keys(watch_id: str, bucket: int) -> tuple[str, str]:
    return f"{P}spike:{watch_id}:m:{bucket}", f"{P}spike:{watch_id}:o:{bucket}"


def hours_key(watch_id: str) -> str:
    return f"{P}spike:{watch_id}:hours"


def count_match(r: redis.Redis, watch_id: str, outlet: str, now: float, article_id: str | None = None) -> None:
    """Count one match of a watch (for spike alerts). With `article_id`, a re-run task counts it once."""
    token = article_id or uuid.uuid4().hex
    matches, outlets = spike_keys(watch_id, int(now // BUCKET_S))
    seen = f"{P}spike:{watch_id}:seen:{token}"
    r.register_script(_COUNT)(keys=[matches, outlets, hours_key(watch_id), seen],
                       args=[token, outlet, int(now // 3600), BUCKET_TTL_S, HOURS_KEEP_S])


def last_hour(r: redis.Redis, watch_id: str, now: float) -> tuple[int, int]:
    """(matches, distinct outlets) in the last six ten-minute buckets, the current one included."""
    cur = int(now // BUCKET_S)
    keys = [spike_keys(watch_id, b) for b in range(cur - 5, cur + 1)]
    pipe = r.pipeline(transaction=False)
    for m, _ in keys:
        pipe.scard(m)
    pipe.sunion([o for _, o in keys])
    *counts, outlets = pipe.execute()
    return int(sum(counts)), len(outlets)


def baseline(r: redis.Redis, watch_id: str, now: float) -> float:
    """Median hourly match count over the trailing 7 days (hours with no match count as 0)."""
    cur = int(now // 3600)
    raw: dict[bytes, bytes] = r.hgetall(hours_key(watch_id))  # type: ignore[assignment]
    counts = {int(k): int(v) for k, v in raw.items()}
    old = [k for k in counts if k < cur - 192]
    if old:
        r.hdel(hours_key(watch_id), *old)
    return float(statistics.median(counts.get(h, 0) for h in range(cur - 168, cur)))


def notify_once(r: redis.Redis, active: str, sink: Sink | None, sink_id: str, notice: Notice, event: str,
                **ctx: str) -> int:
    """Send the notice unless `active` says it went out within SPIKE_COOLDOWN_S (a still-high count keeps
    it quiet); on failure the claim is dropped so the next tick tries again. 1 when sent."""
    if not r.set(active, "1", nx=True, ex=SPIKE_COOLDOWN_S):
        r.expire(active, SPIKE_COOLDOWN_S)  # still high: stay quiet
        return 0
    try:
        if sink is None:
            raise Permanent(f"sink {sink_id!r} is not configured")
        sink.send_notice(notice)
        return 1
    except (Transient, Permanent) as exc:
        r.delete(active)  # not told: try again on the next tick
        log.warning(event, sink=sink_id, reason=exc.reason, **ctx)
        return 0


def check_spikes(rt: Runtime, cfg: SpikesConfig, now: float) -> int:
    r, fired = rt.redis, 0
    for wid in cfg.watches or [w.id for w in rt.settings.watches]:
        count, outlets = last_hour(r, wid, now)
        base = baseline(r, wid, now)
        active = P + f"spike:{wid}:active"
        if count < cfg.min_articles or count <= cfg.factor * base:
            continue
        w = rt.watch(wid)
        title = (f"{w.name if w else wid} coverage spiking: {count} articles in the last hour from {outlets} "
                 f"outlet{'s' if outlets != 1 else ''}")
        why = (f"Usual: {base:g} per hour (median hour of the last 7 days); alerting above {cfg.factor:g}× "
               f"and at least {cfg.min_articles}.")
        notice = Notice("spike", title, (why,), f"spike:{wid}:{int(now // 3600)}",
                        severity=w.severity if w else "medium")
        fired += notify_once(r, active, rt.sink(cfg.sink), cfg.sink, notice, "spike_notice_failed", watch=wid)
    return fired


# ------------------------------------------------------------------------------------------- story surges

# A surge: more new stories about one place or actor in the last hour than SURGE_FACTOR × its median hour of
# the last 7 days, and at least SURGE_MIN of them. Stories, not articles: five outlets reporting one event is
# one story, so a surge means several things happening, what an analyst calls "something is going on in
# Idlib". Measured on the corpus with the event clusterer (bench/breaking_eval.py prints the hours and the
# stories it flags): see docs/dedup.md, "Breaking news".
SURGE_FACTOR = 3.0
SURGE_MIN = 4
# Entities of a story's first article that count it: its most prominent ones only (a passing mention of
# Russia in a story about Idlib is not a story about Russia).
SURGE_ENTITIES = 3


def surge_key(kind: str, entity_id: str) -> str:
    return f"entity:{kind}:{entity_id}"


def count_story(r: redis.Redis, entities: list[tuple[str, str]], story_id: str, outlet: str, now: float) -> None:
    """Count a new story for each of its main entities (once per story: the story id is the token)."""
    for kind, eid in entities:
        count_match(r, surge_key(kind, eid), outlet, now, article_id=story_id)


def check_surges(rt: Runtime, now: float) -> int:
    """For every watch that asks for breaking news, a notice to its sinks when one of the places or actors its
    query names surges; once per entity while it stays high (SPIKE_COOLDOWN_S)."""
    r, fired = rt.redis, 0
    for w in rt.settings.watches:
        if not w.breaking:
            continue
        for kind, eid in rt.settings.watchset.entities(w.id):
            key = surge_key(kind, eid)
            count, outlets = last_hour(r, key, now)
            base = baseline(r, key, now)
            if count < SURGE_MIN or count <= SURGE_FACTOR * base:
                continue
            notice = Notice("spike", f"{w.name}: surge of stories about {eid} ({count} in the last hour, "
                                     f"{outlets} outlet{'s' if outlets != 1 else ''})",
                            (f"Usual: {base:g} new stories per hour about {kind} {eid} (median hour of the last 7 "
                             f"days); alerting above {SURGE_FACTOR:g}× and at least {SURGE_MIN}.",),
                            f"surge:{w.id}:{key}:{int(now // 3600)}", severity=w.severity)
            for sink_id in w.notify:
                sink = rt.sink(sink_id)
                if sink is None:
                    continue  # a console-only route: nothing to send
                # One claim per sink: a sink that failed is tried again on the next tick without the
                # others, which were told, hearing it twice.
                fired += notify_once(r, P + f"spike:{key}:active:{w.id}:{sink_id}", sink, sink_id, notice,
                                     "surge_notice_failed", watch=w.id, entity=key)
    return fired
