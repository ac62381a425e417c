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


def test_a_retry_the_broker_cannot_take_requeues_the_message_instead_of_dropping_it() -> None:
    """Celery rejects without requeue when it cannot publish the retry; once Redis is back that loses the
    message. The task base turns it into a requeue (the message goes back to its queue, or stays unacked)."""
    import socket

    import pytest
    from celery import Celery
    from celery.exceptions import Reject

    from workers.tasks import retry_later

    with socket.socket() as s:  # a port nothing listens on: the broker is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Celery("t", broker=f"redis://127.0.0.1:{port}/0", set_as_current=False)
    app.conf.task_publish_retry = False
    app.conf.broker_connection_timeout = 1

    @app.task(bind=True, max_retries=3)
    def job(self):  # type: ignore[no-untyped-def]
        return None

    job.push_request(id="t1", retries=0, called_directly=False, is_eager=False, delivery_info={})
    try:
        with pytest.raises(Reject) as rejected:
            raise retry_later(job, Transient("upstream 503"))
    finally:
        job.pop_request()
    assert rejected.value.requeue is True
