"""Where an alert goes now: immediate, into a sink's digest, or held through quiet hours (state in Redis)."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from feeds.models import Alert
from workers.stores import ALERT_SENT_TTL_S, AlertKey, P

Decision = Literal["immediate", "digest", "wait"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# Digest period when a sink needs one (mode digest, quiet-hours downgrade, throttle overflow) but names none.
DEFAULT_DIGEST_S = 3600
# A digest or notice being sent holds its (sink, period) claim this long: longer than any sink timeout
# (≤ 120 s) plus rendering; if the sender dies, the next tick after this can send it.
SEND_CLAIM_TTL_S = 300


def seconds(value: object) -> float:
    """'90s', '30m', '1h', '1d' or a number of seconds → seconds (> 0)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        out = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 30m, 1h, 1d)")
        out = float(m.group(1)) * _UNITS[m.group(2)]
    if out <= 0:
        raise ValueError("must be longer than zero")
    return out


Duration = Annotated[float, BeforeValidator(seconds)]


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"not a time of day: {value!r} (use HH:MM, e.g. 07:00)")
    return value


def _tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name, e.g. Asia/Beirut)") from None
    return value


def _clock(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


class DigestSchedule(BaseModel):
    """`{every: 1h}` (periods aligned to the epoch, UTC) or `{at: "07:00", tz: Asia/Beirut}` (daily)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    every: Duration | None = None
    at: list[str] | None = None  # one or more times of day; a single string is accepted
    tz: str = "UTC"

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("at")
    @classmethod
    def _at_times(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_hhmm(t) for t in v]

    _zone = field_validator("tz")(_tz)

    @model_validator(mode="after")
    def _one(self) -> DigestSchedule:
        if (self.every is None) == (not self.at):
            raise ValueError("give either `every` (e.g. 1h) or `at` (e.g. \"07:00\")")
        return self

    def boundary(self, now: float) -> float:
        """The latest period boundary at or before `now` (Unix seconds): the digest due now is for it."""
        if self.every is not None:
            return math.floor(now / self.every) * self.every
        zone = ZoneInfo(self.tz)
        local = datetime.fromtimestamp(now, zone)
        best = -math.inf
        for t in self.at or ():
            for day in (local.date(), local.date() - timedelta(days=1)):
                ts = datetime.combine(day, _clock(t), zone).timestamp()
                if ts <= now:
                    best = max(best, ts)
                    break
        return best

    def next(self, now: float) -> float:
        """The first boundary after `now`: when the digest collecting now goes out."""
        if self.every is not None:
            return self.boundary(now) + self.every
        zone = ZoneInfo(self.tz)
        day = datetime.fromtimestamp(now, zone).date()
        return min(ts for d in (day, day + timedelta(days=1)) for t in self.at or ()
                   if (ts := datetime.combine(d, _clock(t), zone).timestamp()) > now)

    def length(self) -> float:
        return self.every if self.every is not None else 86400.0 / max(1, len(self.at or ()))


class QuietHours(BaseModel):
    """No immediate alerts between `from` and `to` (local time; may wrap past midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    tz: str = "UTC"
    action: Literal["wait", "digest"] = "wait"
    _times = field_validator("start", "end")(_hhmm)
    _zone = field_validator("tz")(_tz)

    def active(self, now: float) -> bool:
        t = datetime.fromtimestamp(now, ZoneInfo(self.tz)).time()
        a, b = _clock(self.start), _clock(self.end)
        return a <= t < b if a <= b else (t >= a or t < b)

    def ends(self, now: float) -> float:
        """When the quiet period holding `now` ends (Unix seconds); `now` itself when not quiet."""
        if not self.active(now):
            return now
        zone = ZoneInfo(self.tz)
        local = datetime.fromtimestamp(now, zone)
        for day in (local.date(), local.date() + timedelta(days=1)):
            ts = datetime.combine(day, _clock(self.end), zone).timestamp()
            if ts > now:
                return ts
        return now + 86400


class Throttle(BaseModel):
    """At most `max` immediate alerts per watch per `per` (fixed windows aligned to the epoch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max: int = Field(ge=1)
    per: Duration


class Routed(Protocol):
    """The routing fields every sink config carries (workers.sinks._Base)."""

    @property
    def mode(self) -> Literal["immediate", "digest"]: ...
    @property
    def digest(self) -> DigestSchedule | None: ...
    @property
    def quiet_hours(self) -> QuietHours | None: ...
    @property
    def throttle(self) -> Throttle | None: ...


def schedule(config: Routed) -> DigestSchedule:
    """The sink's digest schedule, or hourly (the throttle's period if it has one)."""
    if config.digest is not None:
        return config.digest
    return DigestSchedule(every=config.throttle.per if config.throttle else DEFAULT_DIGEST_S)


# ---------------------------------------------------------------------------------------------------- keys

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


# ---------------------------------------------------------------------------------------------------- spikes

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
    _script(r, _COUNT)(keys=[matches, outlets, hours_key(watch_id), seen],
                       args=[token, outlet, int(now // 3600), BUCKET_TTL_S, HOURS_KEEP_S])
