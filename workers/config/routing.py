"""How a sink paces its alerts, as config: digest schedules, quiet hours, throttles (state lives in workers.alerts)."""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workers.config.env import Duration

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# Digest period when a sink needs one (mode digest, quiet-hours downgrade, throttle overflow) but names none.
DEFAULT_DIGEST_S = 3600


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
    """The routing fields every sink config carries (workers.alerts.sinks.base.SinkConfigBase)."""

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
