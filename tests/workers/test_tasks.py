"""What the task base decides once for all tasks: retry countdowns (exponential, jittered, capped)."""

from __future__ import annotations

import random

from feeds.errors import Transient
from workers.config.limits import MAX_RETRY_COUNTDOWN_S
from workers.tasks import countdown


def test_retry_countdowns_are_spread_not_synchronised() -> None:
    rng = random.Random(1)
    waits = [countdown(2, Transient("x"), rng) for _ in range(200)]
    assert all(10.0 <= w <= 20.0 for w in waits)
    assert len({round(w, 1) for w in waits}) > 50  # after an outage the retries do not all fire at once


def test_retry_after_is_a_floor_and_the_cap_holds() -> None:
    assert countdown(0, Transient("x", retry_after=42)) == 42
    assert countdown(30, Transient("x")) == MAX_RETRY_COUNTDOWN_S
