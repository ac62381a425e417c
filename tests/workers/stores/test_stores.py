"""Redis adapters on a real Redis server: claims, locks, the alert ledger, dead letters."""

from __future__ import annotations

import redis

from workers.stores.claims import Attempts, Locks, SeenStore
from workers.stores.ledger import AlertKey, AlertLedger, DeadLetters


def test_an_entry_is_claimed_once_and_can_be_released(redis_client: redis.Redis) -> None:
    seen = SeenStore(redis_client)
    assert seen.claim("https://a.example/x")
    assert not seen.claim("https://a.example/x")
    seen.release("https://a.example/x")
    assert seen.claim("https://a.example/x")


def test_a_lock_is_exclusive_and_only_its_holder_releases_it(redis_client: redis.Redis) -> None:
    locks = Locks(redis_client)
    token = locks.acquire("feed-1", 5)
    assert token and locks.acquire("feed-1", 5) is None
    locks.release("feed-1", "not-the-token")
    assert locks.acquire("feed-1", 5) is None
    locks.release("feed-1", token)
    assert locks.acquire("feed-1", 5)


def test_ledger_claim_send_mark_and_release(redis_client: redis.Redis) -> None:
    ledger = AlertLedger(redis_client)
    key = AlertKey("idlib", "story-1", "slack")
    assert ledger.claim(key) == "claimed"
    assert ledger.claim(key) == "busy"  # another worker is mid-send
    ledger.release(key)  # the send failed: the retry may claim at once
    assert ledger.claim(key) == "claimed"
    ledger.mark_sent(key)
    assert ledger.claim(key) == "sent"
    ledger.release(key)  # never undoes a sent mark
    assert ledger.claim(key) == "sent"
    assert redis_client.ttl(key.redis_key()) > 86400


def test_dead_letters_keep_payload_and_reason(redis_client: redis.Redis) -> None:
    dead = DeadLetters(redis_client)
    dead.add("alert", {"sink": "s", "alert": {"title": "عنوان"}}, "HTTP 400")
    rows = dead.all()
    assert rows[0]["reason"] == "HTTP 400" and rows[0]["payload"]["alert"]["title"] == "عنوان"
    assert len(dead.pop_all()) == 1 and dead.all() == []


def test_attempts_count_deliveries(redis_client: redis.Redis) -> None:
    a = Attempts(redis_client)
    assert [a.bump("t1") for _ in range(3)] == [1, 2, 3]
    a.clear("t1")
    assert a.bump("t1") == 1
