"""When to poll a feed next (rhythm, jitter, backoff, Retry-After) and how healthy it is; pure functions."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from feeds.models import FeedSource

Health = Literal["ok", "backing_off", "failing", "silent"]

# Poll twice per observed publishing gap: a new item then waits at most about half a gap before we see it.
POLLS_PER_GAP = 2.0
# ±15 % keeps feeds that share a rhythm from polling the same hosts in the same second after a restart.
JITTER = 0.15
# The rhythm is the median gap of the last 20 new items: a day of a busy outlet, a week of a slow one;
# the median ignores the overnight pause and the burst of a breaking story.
RHYTHM_ITEMS = 20
MIN_RHYTHM_ITEMS = 3  # fewer gaps than this is noise, keep the configured interval
# Consecutive failures before "backing off" becomes "failing": with doubling from 2 min that is ~1 h of trying.
FAILING_AFTER = 5
# A permanent error (404, not a feed, blocked) is failing sooner: two in a row rule out a deploy hiccup.
FAILING_AFTER_PERMANENT = 2
# Silent: nothing new for SILENT_GAPS times the rhythm, and at least SILENT_MIN_S (a weekend without news from a
# weekly columnist's feed is not sickness); feeds without a rhythm yet use SILENT_NO_RHYTHM_S.
SILENT_GAPS = 10
SILENT_MIN_S = 86_400.0
SILENT_NO_RHYTHM_S = 3 * 86_400.0


@dataclass(frozen=True)
class FeedState:
    """What the scheduler knows about one feed (times are Unix seconds)."""

    first_poll: float | None = None
    last_poll: float | None = None
    last_success: float | None = None
    last_new: float | None = None  # last poll that produced at least one new item
    failures: int = 0  # consecutive failed polls
    last_error: str | None = None
    permanent: bool = False  # whether the last failure was permanent
    retry_after: float | None = None  # seconds, from the last 429/503
    new_item_times: tuple[float, ...] = ()  # publication (or discovery) times of recent new items

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> FeedState:
        """From a Redis hash (strings) or a dict; unknown keys are ignored, missing ones default."""

        def num(key: str) -> float | None:
            value = data.get(key)
            try:
                return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return None

        raw = data.get("new_item_times") or ()
        items = raw.split(",") if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
        times: list[float] = []
        for item in items:
            try:
                times.append(float(item))
            except (TypeError, ValueError):
                continue
        return cls(first_poll=num("first_poll"), last_poll=num("last_poll"), last_success=num("last_success"),
                   last_new=num("last_new_at") or num("last_new"), failures=int(num("failures") or 0),
                   last_error=str(data["last_error"]) if data.get("last_error") else None,
                   permanent=str(data.get("permanent", "")).lower() in ("1", "true"),
                   retry_after=num("retry_after"),
                   new_item_times=tuple(times))


def rhythm(times: Sequence[float]) -> float | None:
    """Median gap (s) between the most recent new items, or None with too few to tell."""
    recent = sorted(times)[-RHYTHM_ITEMS:]
    gaps = [b - a for a, b in itertools.pairwise(recent) if b > a]
    if len(gaps) < MIN_RHYTHM_ITEMS:
        return None
    return float(statistics.median(gaps))


def _clamp(value: float, feed: FeedSource) -> float:
    return float(min(max(value, feed.min_interval_s), feed.max_interval_s))


def backoff(feed: FeedSource, failures: int, retry_after: float | None = None) -> float:
    """Exponential backoff after `failures` consecutive failures, honouring Retry-After, capped at max_interval.

    Never infinite: a dead feed is still polled every max_interval, so its recovery is noticed.
    """
    base = max(feed.interval_s, feed.min_interval_s)
    delay = base * 2.0 ** min(max(failures - 1, 0), 30)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return _clamp(delay, feed)


def next_interval(feed: FeedSource, state: FeedState, rng: random.Random | None = None) -> float:
    """Seconds until this feed's next poll: backoff after failures, else half its rhythm, jittered and clamped."""
    rng = rng or random.Random()
    if state.failures > 0:
        delay = backoff(feed, state.failures, state.retry_after)
        if state.retry_after is not None and delay <= state.retry_after:
            return delay  # the server named a time: jitter would only make us early
    else:
        gap = rhythm(state.new_item_times)
        delay = _clamp(gap / POLLS_PER_GAP if gap is not None else feed.interval_s, feed)
    return _clamp(delay * rng.uniform(1 - JITTER, 1 + JITTER), feed)


def health(feed: FeedSource, state: FeedState, now: float) -> Health:
    """ok / backing_off (failing, still retrying) / failing (persistent errors) / silent (answers, says nothing)."""
    if state.failures > 0:
        limit = FAILING_AFTER_PERMANENT if state.permanent else FAILING_AFTER
        return "failing" if state.failures >= limit else "backing_off"
    gap = rhythm(state.new_item_times)
    quiet_since = state.last_new or state.first_poll
    if quiet_since is None:
        return "ok"
    allowed = max(SILENT_GAPS * gap, SILENT_MIN_S) if gap is not None else SILENT_NO_RHYTHM_S
    return "silent" if now - quiet_since > allowed else "ok"
