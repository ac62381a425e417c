"""Thin Celery tasks; what is retryable, and how long to wait, is decided here once for all of them."""

from __future__ import annotations

import redis

from feeds.errors import Transient
from workers.app import MAX_RETRY_COUNTDOWN_S

# The closed set of errors worth retrying. Everything else is a bug or a Permanent outcome.
RETRYABLE: tuple[type[BaseException], ...] = (Transient, redis.exceptions.ConnectionError,
                                              redis.exceptions.TimeoutError)
MAX_RETRIES = 8
# Deliveries of one message (retries and redeliveries after crashes) before it is quarantined.
MAX_DELIVERIES = MAX_RETRIES + 4


def countdown(retries: int, exc: BaseException) -> float:
    """Exponential backoff (5 s, 10 s, 20 s …) honouring Retry-After, below the visibility timeout."""
    wait = 5.0 * 2 ** retries
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        wait = max(wait, float(retry_after))
    return min(wait, MAX_RETRY_COUNTDOWN_S)
