"""feeds.ingest.schedule: rhythm-based intervals with jitter, backoff with Retry-After, and feed health states."""

from __future__ import annotations

import random

import pytest

from feeds.ingest.schedule import (
    FAILING_AFTER,
    FAILING_AFTER_PERMANENT,
    JITTER,
    SILENT_MIN_S,
    SILENT_NO_RHYTHM_S,
    FeedState,
    backoff,
    health,
    next_interval,
    rhythm,
)
from feeds.models import FeedSource

FEED = FeedSource(id="f", url="http://n.example/rss", name="f", interval_s=300, min_interval_s=120,
                  max_interval_s=7200)
NOW = 1_700_000_000.0


def every(gap: float, n: int = 20, end: float = NOW) -> tuple[float, ...]:
    return tuple(end - gap * i for i in range(n))[::-1]


def test_rhythm_is_the_median_gap_and_ignores_one_long_pause() -> None:
    times = (*every(600, 10, NOW - 8 * 3600), *every(600, 10))  # an overnight pause between two busy spells
    assert rhythm(times) == 600
    assert rhythm(every(600, 3)) is None  # two gaps are not a rhythm yet


@pytest.mark.parametrize(("gap", "expected"), [
    (600, 300),  # an item every 10 min → poll every 5 min
    (60, 120),  # faster than min_interval → clamped to 2 min
    (6 * 3600, 7200),  # slower than max_interval → clamped to 2 h
])
def test_interval_follows_half_the_rhythm_within_bounds(gap: float, expected: float) -> None:
    rng = random.Random(7)
    values = [next_interval(FEED, FeedState(new_item_times=every(gap)), rng) for _ in range(200)]
    assert all(FEED.min_interval_s <= v <= FEED.max_interval_s for v in values)
    assert min(values) >= max(expected * (1 - JITTER), FEED.min_interval_s)
    assert max(values) <= min(expected * (1 + JITTER), FEED.max_interval_s)


def test_jitter_spreads_feeds_with_the_same_rhythm() -> None:
    rng = random.Random(1)
    values = {round(next_interval(FEED, FeedState(new_item_times=every(600)), rng)) for _ in range(50)}
    assert len(values) > 20


def test_no_rhythm_uses_the_configured_interval() -> None:
    v = next_interval(FEED, FeedState(), random.Random(3))
    assert 300 * (1 - JITTER) <= v <= 300 * (1 + JITTER)


def test_backoff_doubles_and_is_capped_at_max_interval() -> None:
    assert [backoff(FEED, n) for n in (1, 2, 3, 4, 5)] == [300, 600, 1200, 2400, 4800]
    assert backoff(FEED, 6) == backoff(FEED, 500) == 7200  # capped, never given up


def test_retry_after_is_honoured_without_jitter_and_still_capped() -> None:
    state = FeedState(failures=1, retry_after=1800)
    assert next_interval(FEED, state, random.Random(0)) == 1800
    assert next_interval(FEED, FeedState(failures=1, retry_after=86_400), random.Random(0)) == 7200


def test_failure_backoff_is_jittered_within_bounds() -> None:
    values = [next_interval(FEED, FeedState(failures=3), random.Random(i)) for i in range(30)]
    assert all(1200 * (1 - JITTER) <= v <= 1200 * (1 + JITTER) for v in values) and len(set(values)) > 1


def test_health_states() -> None:
    assert health(FEED, FeedState(first_poll=NOW - 60, last_new=NOW - 60), NOW) == "ok"
    assert health(FEED, FeedState(failures=1), NOW) == "backing_off"
    assert health(FEED, FeedState(failures=FAILING_AFTER - 1), NOW) == "backing_off"
    assert health(FEED, FeedState(failures=FAILING_AFTER), NOW) == "failing"
    assert health(FEED, FeedState(failures=FAILING_AFTER_PERMANENT, permanent=True), NOW) == "failing"


def test_silent_when_nothing_new_for_far_longer_than_the_rhythm() -> None:
    hourly = every(3600, 20, NOW - 3 * 86_400)
    assert health(FEED, FeedState(last_new=NOW - 3 * 86_400, new_item_times=hourly), NOW) == "silent"
    assert health(FEED, FeedState(last_new=NOW - 5 * 3600, new_item_times=every(3600, 20, NOW - 5 * 3600)),
                  NOW) == "ok"  # 5 quiet hours of an hourly feed: below the one-day floor
    weekly = every(7 * 86_400, 5, NOW - 20 * 86_400)
    assert health(FEED, FeedState(last_new=NOW - 20 * 86_400, new_item_times=weekly), NOW) == "ok"
    assert health(FEED, FeedState(first_poll=NOW - SILENT_NO_RHYTHM_S - 1), NOW) == "silent"  # never a new item
    assert health(FEED, FeedState(first_poll=NOW - SILENT_MIN_S), NOW) == "ok"


def test_state_from_a_redis_hash() -> None:
    state = FeedState.from_mapping({"failures": "3", "last_error": "timeout after 20 s", "permanent": "0",
                                    "retry_after": "", "last_success": "1700000000.5",
                                    "new_item_times": "1,2,x,4", "unknown": "ignored"})
    assert state == FeedState(last_success=1_700_000_000.5, failures=3, last_error="timeout after 20 s",
                              new_item_times=(1.0, 2.0, 4.0))
