"""The timing relations that keep work from being lost or sent twice hold, and are enforced in code."""

from __future__ import annotations

import pytest
import redis
from pydantic import ValidationError

from workers.alerts.sinks.email import EmailSinkConfig
from workers.alerts.sinks.slack import SlackSinkConfig
from workers.alerts.sinks.webhook import WebhookSinkConfig
from workers.config import limits
from workers.stores.ledger import AlertKey, AlertLedger


def test_every_relation_holds() -> None:
    limits.check(limits.RELATIONS)
    assert limits.TASK_HARD_LIMIT_S < limits.ALERT_CLAIM_TTL_S < limits.VISIBILITY_TIMEOUT_S
    assert limits.MAX_SINK_TIMEOUT_S < limits.TASK_SOFT_LIMIT_S


def test_a_violated_relation_stops_with_both_names() -> None:
    with pytest.raises(limits.LimitError) as err:
        limits.check([("ALERT_CLAIM_TTL_S", 120, "TASK_HARD_LIMIT_S", 60), ("A", 1, "B", 2)])
    assert str(err.value) == "ALERT_CLAIM_TTL_S (120 s) must be below TASK_HARD_LIMIT_S (60 s)"


@pytest.mark.parametrize("make", [
    lambda t: SlackSinkConfig(webhook_url="https://hooks.example/x", timeout_s=t),
    lambda t: WebhookSinkConfig(url="https://hooks.example/x", timeout_s=t),
    lambda t: EmailSinkConfig(host="smtp.example", sender="a@b.org", to=["c@d.org"], timeout_s=t),
])
def test_a_sink_timeout_cannot_outlast_the_send_claim(make: object) -> None:
    """A sink that may take 120 s to time out could still be sending when its claim expired (120 s before)."""
    assert make(limits.MAX_SINK_TIMEOUT_S).timeout_s == limits.MAX_SINK_TIMEOUT_S  # type: ignore[operator]
    with pytest.raises(ValidationError):
        make(limits.MAX_SINK_TIMEOUT_S + 1)  # type: ignore[operator]


def test_a_claim_is_taken_back_by_its_own_task_only(redis_client: redis.Redis) -> None:
    ledger = AlertLedger(redis_client)
    key = AlertKey("w", "s", "desk")
    assert ledger.claim(key, "task-1") == "claimed"
    assert ledger.claim(key, "task-2") == "busy"
    assert ledger.claim(key, "task-1") == "claimed"  # the same task redelivered after its worker died
    assert 0 < redis_client.ttl(key.redis_key()) <= limits.ALERT_CLAIM_TTL_S
    ledger.mark_sent(key)
    assert ledger.claim(key, "task-1") == "sent"
