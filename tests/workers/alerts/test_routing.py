"""Routing on real Redis: digest mode, quiet hours (wait / digest), throttling, schedules, spike counting."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from pydantic import ValidationError

from feeds.models import Alert
from workers.alerts import routing, spikes, ticks
from workers.alerts.sinks.slack import SlackSinkConfig
from workers.config import routing as config_routing
from workers.config.routing import DigestSchedule, QuietHours, Throttle
from workers.stores.ledger import AlertKey, AlertLedger

BEIRUT = ZoneInfo("Asia/Beirut")
ALERT = Alert(watch_id="idlib", watch_name="Idlib", severity="high", story_id="s1",
              url="https://example.org/a", title="إدلب", feed_id="f", feed_name="F", published=None)
URL = "http://127.0.0.1:9/hook"


def at(text: str, tz: ZoneInfo = BEIRUT) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def sink(**kw: object) -> SlackSinkConfig:
    return SlackSinkConfig.model_validate({"webhook_url": URL, **kw})


def story(i: int, watch: str = "idlib") -> Alert:
    return replace(ALERT, story_id=f"s{i}", watch_id=watch)


def pending(r: redis.Redis, sink_id: str) -> list[str]:
    return sorted(k.decode() for k in r.hkeys(routing.pending_key(sink_id)) if k.decode() != routing.SINCE)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- schedules

def test_quiet_hours_wrap_past_midnight_in_the_sinks_time_zone() -> None:
    q = QuietHours.model_validate({"from": "22:00", "to": "07:00", "tz": "Asia/Beirut"})
    assert q.active(at("2026-11-29T23:30")) and q.active(at("2026-11-29T06:59"))
    assert not q.active(at("2026-11-29T07:00")) and not q.active(at("2026-11-29T21:59"))
    assert q.ends(at("2026-11-29T23:30")) == at("2026-11-30T07:00")
    assert q.ends(at("2026-11-30T03:00")) == at("2026-11-30T07:00")
    assert q.ends(at("2026-11-30T12:00")) == at("2026-11-30T12:00")  # not quiet: no wait


def test_daily_digest_boundary_is_the_last_local_07_00_across_a_dst_change() -> None:
    d = DigestSchedule.model_validate({"at": "07:00", "tz": "Asia/Beirut"})
    assert d.boundary(at("2026-11-29T06:59")) == at("2026-11-28T07:00")
    assert d.boundary(at("2026-11-29T07:00")) == at("2026-11-29T07:00")
    assert d.next(at("2026-11-29T07:00")) == at("2026-11-30T07:00")
    # Lebanon moves its clocks on the last Sunday of March (2026-03-29): still 07:00 local on both sides.
    assert d.boundary(at("2026-03-29T08:00")) == at("2026-03-29T07:00")
    assert at("2026-03-29T07:00") - d.boundary(at("2026-03-28T08:00")) == 23 * 3600


def test_every_schedule_is_aligned_and_several_times_a_day_pick_the_nearest() -> None:
    assert DigestSchedule.model_validate({"every": "1h"}).boundary(7300.0) == 7200.0
    two = DigestSchedule.model_validate({"at": ["07:00", "19:00"], "tz": "Asia/Beirut"})
    assert two.boundary(at("2026-11-29T20:00")) == at("2026-11-29T19:00")
    assert two.next(at("2026-11-29T08:00")) == at("2026-11-29T19:00")


@pytest.mark.parametrize("bad", [
    {"digest": {"every": "1h", "at": "07:00"}}, {"digest": {}}, {"digest": {"at": "7am"}},
    {"digest": {"at": "07:00", "tz": "Mars/Olympus"}}, {"quiet_hours": {"from": "22:00", "to": "25:00"}},
    {"throttle": {"max": 0, "per": "1h"}}, {"throttle": {"max": 5, "per": "soon"}}, {"mode": "later"},
    {"quiet_hours": {"from": "22:00", "to": "07:00", "action": "drop"}},
])
def test_bad_routing_config_is_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        sink(**bad)


# ------------------------------------------------------------------------------------------------ route

def test_digest_mode_queues_once_and_marks_the_ledger(redis_client: redis.Redis) -> None:
    cfg = sink(mode="digest")
    assert routing.route(redis_client, ALERT, "desk", cfg, 1000.0) == "digest"
    assert routing.route(redis_client, ALERT, "desk", cfg, 1001.0) == "digest"  # a re-run task
    assert pending(redis_client, "desk") == ["idlib\x1fs1"]
    assert AlertLedger(redis_client).claim(AlertKey("idlib", "s1", "desk")) == "sent"


def test_an_alert_already_sent_is_not_added_to_a_digest(redis_client: redis.Redis) -> None:
    AlertLedger(redis_client).mark_sent(AlertKey("idlib", "s1", "desk"))
    assert not routing.add_to_digest(redis_client, ALERT, "desk", 1000.0)
    assert pending(redis_client, "desk") == []


def test_quiet_hours_wait_holds_until_they_end(redis_client: redis.Redis) -> None:
    cfg = sink(quiet_hours={"from": "22:00", "to": "07:00", "tz": "Asia/Beirut", "action": "wait"})
    night = at("2026-11-29T23:00")
    assert routing.route(redis_client, ALERT, "desk", cfg, night) == "wait"
    assert routing.route(redis_client, ALERT, "desk", cfg, night + 5) == "wait"  # re-run: still one held
    assert routing.wait_seconds(cfg, night) == 8 * 3600
    assert ticks.release_due(redis_client, at("2026-11-30T06:59")) == []
    [(field, alert, sink_id)] = ticks.release_due(redis_client, at("2026-11-30T07:00"))
    assert Alert.from_dict(alert) == ALERT and sink_id == "desk"
    ticks.unhold(redis_client, field)
    assert ticks.release_due(redis_client, at("2026-11-30T08:00")) == []
    assert routing.route(redis_client, ALERT, "desk", cfg, at("2026-11-30T07:00")) == "immediate"


def test_quiet_hours_digest_action_downgrades_to_the_digest(redis_client: redis.Redis) -> None:
    cfg = sink(quiet_hours={"from": "22:00", "to": "07:00", "tz": "Asia/Beirut", "action": "digest"})
    assert routing.route(redis_client, ALERT, "desk", cfg, at("2026-11-29T02:00")) == "digest"
    assert pending(redis_client, "desk") == ["idlib\x1fs1"]


def test_throttle_sends_max_per_watch_and_window_then_digests_the_rest(redis_client: redis.Redis) -> None:
    cfg = sink(throttle={"max": 5, "per": "1h"})
    now = 36000.0
    got = [routing.route(redis_client, story(i), "desk", cfg, now + i) for i in range(8)]
    assert got == ["immediate"] * 5 + ["digest"] * 3
    # A re-run of an alert that went out keeps its place; another watch has its own budget.
    assert routing.route(redis_client, story(2), "desk", cfg, now + 50) == "immediate"
    assert routing.route(redis_client, story(99, "libya"), "desk", cfg, now + 51) == "immediate"
    assert pending(redis_client, "desk") == ["idlib\x1fs5", "idlib\x1fs6", "idlib\x1fs7"]
    # The next window starts afresh.
    assert routing.route(redis_client, story(20), "desk", cfg, now + 3600) == "immediate"
    rows: list[bytes] = redis_client.zrange(routing.THROTTLE_OPEN, 0, -1)  # type: ignore[assignment]
    assert [r.decode() for r in rows] == [f"desk\x1fidlib\x1f{int(now)}"]


def test_immediate_without_rules_records_nothing(redis_client: redis.Redis) -> None:
    assert routing.route(redis_client, ALERT, "desk", sink(), 1000.0) == "immediate"
    assert redis_client.dbsize() == 0


def test_throttle_config_parses_durations() -> None:
    assert Throttle.model_validate({"max": 3, "per": "30m"}).per == 1800
    assert config_routing.schedule(sink(throttle={"max": 3, "per": "30m"})).every == 1800
    assert config_routing.schedule(sink()).every == config_routing.DEFAULT_DIGEST_S


# ----------------------------------------------------------------------------------------------- spikes

def test_count_match_counts_an_article_once_and_outlets_distinctly(redis_client: redis.Redis) -> None:
    now = 1_000_000.0
    for i, outlet in enumerate(["a", "b", "b", "c"]):
        spikes.count_match(redis_client, "idlib", outlet, now + i, article_id=f"u{i}")
    spikes.count_match(redis_client, "idlib", "a", now + 9, article_id="u0")  # re-run of the first
    spikes.count_match(redis_client, "idlib", "a", now + 700, article_id="u1")  # re-run, next bucket
    assert spikes.last_hour(redis_client, "idlib", now + 760) == (4, 3)
    hours = redis_client.hgetall(spikes.hours_key("idlib"))
    assert {int(k): int(v) for k, v in hours.items()} == {int(now // 3600): 4}
    assert spikes.last_hour(redis_client, "idlib", now + 3 * 3600) == (0, 0)  # the hour has passed


def test_baseline_is_the_median_trailing_hour(redis_client: redis.Redis) -> None:
    now = 2_000_000 * 3600.0
    cur = int(now // 3600)
    # 100 of the last 168 hours had 2 matches, the rest none: the median hour is 2.
    redis_client.hset(spikes.hours_key("w"), mapping={cur - h: 2 for h in range(1, 101)})
    redis_client.hset(spikes.hours_key("w"), mapping={cur: 50, cur - 400: 9})  # the current hour does not count
    assert spikes.baseline(redis_client, "w", now) == 2.0
    assert not redis_client.hexists(spikes.hours_key("w"), str(cur - 400))  # pruned
