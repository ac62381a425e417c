"""The digest and ops ticks on real Redis, sending to a real local webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from feeds.alerts.digest import Notice
from feeds.models import Alert, FeedSource, Watch
from workers.alerts import health, routing, spikes, ticks
from workers.alerts.sinks import Sink, build_sink
from workers.alerts.sinks import validate as validate_sink
from workers.config import models
from workers.stores.feedstate import FeedStateStore
from workers.stores.ledger import AlertKey, AlertLedger, DeadLetters

HOUR = 3600.0
T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR  # an hour boundary
ALERT = Alert(watch_id="idlib", watch_name="Idlib", severity="high", story_id="s0",
              url="https://example.org/a", title="قصف في إدلب", feed_id="f1", feed_name="Feed One", published=None)


@dataclass
class Receiver:
    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # scripted answers; 200 when empty


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.statuses.pop(0) if state.statuses else 200
            if status == 200:
                state.bodies.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


class FakeStories:
    """The story store's `story()` answer for a few stories (the real store is tested elsewhere)."""

    def story(self, story_id: str, now: float | None = None) -> Any:
        if story_id == "s0":
            return SimpleNamespace(outlets=("f1", "f2", "f3"), articles=4)
        return None


def make_rt(r: redis.Redis, sinks: dict[str, dict[str, Any]], **extra: Any) -> Any:
    """The parts of a Runtime the ticks use, over real Redis and real sinks."""
    configs = {k: validate_sink(v) for k, v in sinks.items()}
    built: dict[str, Sink] = {}
    watches = {"idlib": Watch("idlib", "Idlib", "idlib", severity="high"), "libya": Watch("libya", "Libya", "x")}
    settings = SimpleNamespace(sinks=configs, watches=list(watches.values()),
                               feeds={f: FeedSource(f, "http://x", f"Outlet {f}") for f in ("f1", "f2", "f3")},
                               **extra)

    def sink(sid: str) -> Sink | None:
        if sid in configs and sid not in built:
            built[sid] = build_sink(sid, configs[sid])
        return built.get(sid)

    return SimpleNamespace(redis=r, settings=settings, sink=sink, watch=watches.get, stories=FakeStories(),
                           dead=DeadLetters(r), feed_state=FeedStateStore(r), ledger=AlertLedger(r))


def tick(rt: Any, now: float) -> dict[str, int]:
    return ticks.digest_tick(rt, now, lambda a, s: rt.enqueued.append((a, s)))


def test_digest_goes_out_once_per_period_with_outlets_even_with_two_ticks(redis_client: redis.Redis,
                                                                          receiver: Receiver) -> None:
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url, "mode": "digest"}})
    cfg = rt.settings.sinks["desk"]
    for i in range(3):
        assert routing.route(redis_client, replace(ALERT, story_id=f"s{i}"), "desk", cfg, T0 + 60 + i) == "digest"
    assert tick(rt, T0 + 120) == {}  # nothing from before this period's boundary yet
    # Two beats at the next boundary, racing: one digest.
    threads = [threading.Thread(target=tick, args=(rt, T0 + HOUR + 1)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tick(rt, T0 + HOUR + 30)
    [body] = receiver.bodies
    assert body["type"] == "marsad.digest"
    [watch] = body["watches"]
    assert watch["stories"][0]["story_id"] == "s0"  # the most-covered story first
    assert watch["stories"][0]["outlets"] == ["Outlet f1", "Outlet f2", "Outlet f3"]
    assert watch["stories"][0]["articles"] == 4 and len(watch["stories"]) == 3
    # An alert arriving in the new period waits for the next boundary.
    routing.route(redis_client, replace(ALERT, story_id="s9"), "desk", cfg, T0 + HOUR + 40)
    tick(rt, T0 + HOUR + 100)
    assert len(receiver.bodies) == 1
    tick(rt, T0 + 2 * HOUR + 5)
    assert [s["story_id"] for s in receiver.bodies[1]["watches"][0]["stories"]] == ["s9"]


def test_failed_digest_is_resent_whole_on_the_next_tick(redis_client: redis.Redis, receiver: Receiver) -> None:
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url, "mode": "digest"}})
    routing.route(redis_client, ALERT, "desk", rt.settings.sinks["desk"], T0 + 1)
    receiver.statuses = [500, 503]
    tick(rt, T0 + HOUR + 1)
    routing.route(redis_client, replace(ALERT, story_id="s5"), "desk", rt.settings.sinks["desk"], T0 + HOUR + 2)
    tick(rt, T0 + HOUR + 61)
    assert receiver.bodies == []
    tick(rt, T0 + HOUR + 121)
    [body] = receiver.bodies
    assert [s["story_id"] for s in body["watches"][0]["stories"]] == ["s0"]  # s5 is for the next period
    tick(rt, T0 + HOUR + 181)
    assert len(receiver.bodies) == 1


def test_permanently_refused_digest_dead_letters_each_alert_for_retry(redis_client: redis.Redis,
                                                                      receiver: Receiver) -> None:
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url, "mode": "digest"}})
    routing.route(redis_client, ALERT, "desk", rt.settings.sinks["desk"], T0 + 1)
    receiver.statuses = [400]
    tick(rt, T0 + HOUR + 1)
    [dead] = rt.dead.all()
    assert dead["kind"] == "alert" and dead["payload"]["sink"] == "desk" and "HTTP 400" in dead["reason"]
    # The ledger no longer says "sent": `marsad alerts retry` routes it into a digest again.
    assert rt.ledger.claim(AlertKey("idlib", "s0", "desk")) == "claimed"


def test_throttle_overflow_gives_one_notice_with_the_count(redis_client: redis.Redis, receiver: Receiver) -> None:
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url,
                                         "throttle": {"max": 2, "per": "1h"}}})
    cfg = rt.settings.sinks["desk"]
    got = [routing.route(redis_client, replace(ALERT, story_id=f"s{i}"), "desk", cfg, T0 + i) for i in range(6)]
    assert got.count("immediate") == 2
    tick(rt, T0 + 600)
    assert receiver.bodies == []  # the window is still open
    tick(rt, T0 + HOUR + 1)
    tick(rt, T0 + HOUR + 61)
    kinds = [b["type"] for b in receiver.bodies]
    assert sorted(kinds) == ["marsad.digest", "marsad.notice"]
    notice = next(b for b in receiver.bodies if b["type"] == "marsad.notice")
    assert notice["title"] == "Idlib: 4 more in digest" and notice["kind"] == "throttle"
    digest = next(b for b in receiver.bodies if b["type"] == "marsad.digest")
    assert len(digest["watches"][0]["stories"]) == 4


def test_held_alerts_are_handed_back_when_quiet_hours_end(redis_client: redis.Redis, receiver: Receiver) -> None:
    quiet = {"from": "00:00", "to": "06:00", "tz": "UTC"}
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url, "quiet_hours": quiet}})
    rt.enqueued = []
    night = T0 - T0 % 86400 + 3 * HOUR
    assert routing.route(redis_client, ALERT, "desk", rt.settings.sinks["desk"], night) == "wait"
    tick(rt, night + HOUR)
    assert rt.enqueued == []
    tick(rt, night + 3 * HOUR)
    tick(rt, night + 3 * HOUR + 60)
    assert [(Alert.from_dict(a), s) for a, s in rt.enqueued] == [(ALERT, "desk")]


def test_spike_alerts_once_while_coverage_stays_high(redis_client: redis.Redis, receiver: Receiver) -> None:
    spikes_cfg = models.SpikesConfig(sink="desk", watches=["idlib"], factor=3, min_articles=5)
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url}}, spikes=spikes_cfg)
    now = T0 + 1800
    cur = int(now // HOUR)
    redis_client.hset(spikes.hours_key("idlib"), mapping={cur - h: 3 for h in range(1, 169)})  # usual: 3/h
    for i in range(9):
        spikes.count_match(redis_client, "idlib", f"f{i % 6}", now - 60 * i, article_id=f"a{i}")
    tick(rt, now)
    assert receiver.bodies == []  # 9 is not above 3 × 3
    for i in range(9, 14):
        spikes.count_match(redis_client, "idlib", f"f{i % 6}", now, article_id=f"a{i}")
    tick(rt, now + 1)
    tick(rt, now + 61)
    [body] = receiver.bodies
    assert body["kind"] == "spike"
    assert body["title"] == "Idlib coverage spiking: 14 articles in the last hour from 6 outlets"


def test_surge_tells_each_sink_once_and_retries_only_the_one_that_failed(redis_client: redis.Redis,
                                                                          receiver: Receiver) -> None:
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url},
                                "pager": {"type": "webhook", "url": receiver.url + "?pager"}})
    w = Watch("idlib-breaking", "Idlib breaking", "place:idlib", severity="high", notify=["desk", "pager"],
              breaking=True)
    rt.settings.watches = [w]
    rt.settings.watchset = SimpleNamespace(entities=lambda wid: [("place", "idlib")] if wid == w.id else [])
    now = T0 + 1800
    key = spikes.surge_key("place", "idlib")
    redis_client.hset(spikes.hours_key(key), mapping={int(now // HOUR) - h: 1 for h in range(1, 169)})
    for i in range(3):
        spikes.count_story(redis_client, [("place", "idlib")], f"s{i}", f"f{i}", now - 60 * i)
    assert spikes.check_surges(rt, now) == 0  # 3 stories: under the minimum of 4
    for i in range(3, 6):
        spikes.count_story(redis_client, [("place", "idlib")], f"s{i}", f"f{i % 3}", now)
    receiver.statuses = [200, 500]  # desk is told, pager answers 500
    assert spikes.check_surges(rt, now + 1) == 1
    assert spikes.check_surges(rt, now + 61) == 1  # pager again; desk was told already
    assert spikes.check_surges(rt, now + 121) == 0  # both told: quiet while it stays high
    assert len(receiver.bodies) == 2
    assert {b["title"] for b in receiver.bodies} == {
        "Idlib breaking: surge of stories about idlib (6 in the last hour, 3 outlets)"}


def test_ops_feed_failing_alerts_once_and_resolves_once(redis_client: redis.Redis, receiver: Receiver) -> None:
    cfg = models.OpsConfig.model_validate({"sink": "desk", "feed_failing_after": "1h"})
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url}})
    fs = rt.feed_state
    fs.update("f1", failures=1, last_success=T0, last_error="HTTP 503")
    health.ops_check(rt, cfg, T0 + 2 * HOUR)
    assert receiver.bodies == []  # one failure, however old: a transient error is not an alert
    fs.update("f1", failures=5)
    health.ops_check(rt, cfg, T0 + 2 * HOUR + 60)
    health.ops_check(rt, cfg, T0 + 2 * HOUR + 120)
    fs.update("f1", failures=0, last_success=T0 + 3 * HOUR)
    health.ops_check(rt, cfg, T0 + 3 * HOUR + 60)
    health.ops_check(rt, cfg, T0 + 3 * HOUR + 120)
    assert [b["title"] for b in receiver.bodies] == ["Feed Outlet f1 failing for 2h",
                                                     "Resolved: Feed Outlet f1 failing for 2h"]
    assert "HTTP 503" in receiver.bodies[0]["lines"][0]


def test_ops_sink_failing_and_queue_backlog_need_to_last(redis_client: redis.Redis, receiver: Receiver) -> None:
    cfg = models.OpsConfig.model_validate({"sink": "desk", "sink_failing_after": "30m", "queue_backlog": 10,
                                         "queue_backlog_for": "5m"})
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url}, "other": {"type": "log"}})
    for k in range(3):
        health.record_sink_result(redis_client, "other", False, T0 + k)
    redis_client.rpush("article", *range(50))
    health.ops_check(rt, cfg, T0 + 60)
    assert receiver.bodies == []
    health.ops_check(rt, cfg, T0 + 31 * 60)
    titles = sorted(b["title"] for b in receiver.bodies)
    assert titles == ["Queue article backing up: 50 waiting", "Sink other failing for 31m"]
    health.record_sink_result(redis_client, "other", True, T0 + 32 * 60)
    health.ops_check(rt, cfg, T0 + 33 * 60)
    assert receiver.bodies[-1]["title"] == "Resolved: Sink other failing for 31m"


def test_ops_feed_silent_far_beyond_its_rhythm(redis_client: redis.Redis, receiver: Receiver) -> None:
    cfg = models.OpsConfig.model_validate({"sink": "desk", "feed_silent_factor": 10, "feed_silent_min": "1h"})
    rt = make_rt(redis_client, {"desk": {"type": "webhook", "url": receiver.url}})
    now = T0
    for n in range(1, 8):  # a new item every 10 minutes
        rt.feed_state.update("f1", items_total=n, failures=0)
        health.ops_check(rt, cfg, now)
        now += 600
    health.ops_check(rt, cfg, now + 90 * 60)  # 1h40 of silence: 10 × 10 min
    assert receiver.bodies == []
    health.ops_check(rt, cfg, now + 2 * HOUR)
    assert [b["title"] for b in receiver.bodies] == ["Feed Outlet f1 silent for 2h"]




def test_email_and_log_sinks_send_digests_and_notices(redis_client: redis.Redis) -> None:
    import email as emaillib
    import email.policy

    from aiosmtpd.controller import Controller

    from workers.daemon.embedded import free_port

    got: list[bytes] = []

    class Box:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append(envelope.content)
            return "250 OK"

    ctl = Controller(Box(), hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        rt = make_rt(redis_client, {"mail": {"type": "email", "host": "127.0.0.1", "port": ctl.port,
                                             "sender": "m@example.org", "to": ["d@example.org"], "mode": "digest"},
                                    "log": {"type": "log", "mode": "digest"}})
        for sid in ("mail", "log"):
            routing.route(redis_client, ALERT, sid, rt.settings.sinks[sid], T0 + 1)
        assert tick(rt, T0 + HOUR + 1) == {"digests": 2}
        rt.sink("mail").send_notice(Notice("ops", "Queue article backing up", ("x",), "k"))
    finally:
        ctl.stop()
    digest, notice = (emaillib.message_from_bytes(m, policy=email.policy.default) for m in got)
    assert str(digest["Subject"]) == "[Marsad digest] 1 story: Idlib"
    body = digest.get_body(("plain",))
    assert body is not None and "قصف في إدلب" in body.get_content() and "Outlet f1, Outlet f2" in body.get_content()
    assert str(notice["Subject"]) == "[Marsad ops] Queue article backing up"
