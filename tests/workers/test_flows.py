"""The edge flows on a real Redis and a real local HTTP server: poll, process, deliver, hot reload."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from feeds.errors import Transient
from feeds.models import Alert, Entry
from tests.conftest import REPO
from tests.e2e.test_pipeline_e2e import SEED_PAGE, _Server, rss
from workers import flows
from workers.alerts import deliver
from workers.config.load import load_settings
from workers.daemon.embedded import EmbeddedRedis
from workers.runtime import Runtime, _Holder


@pytest.fixture
def site() -> Iterator[_Server]:
    srv = _Server(lambda p: {
        "/feed.xml": (200, "application/rss+xml; charset=utf-8", rss(srv.base)),
        "/news/seed.html": (200, "text/html; charset=utf-8", SEED_PAGE),
        "/news/other.html": (200, "text/html; charset=utf-8", b"<html><body><p>x</p></body></html>"),
    }.get(p.split("?")[0]))
    yield srv
    srv.close()


@pytest.fixture
def rt(tmp_path: Path, site: _Server, redis_server: EmbeddedRedis, redis_client: redis.Redis) -> Runtime:
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config" / "watchlists", cfg / "watchlists")
    (cfg / "feeds.yaml").write_text(f'feeds:\n  - {{id: t, url: "{site.base}/feed.xml", name: T, interval: 60s}}\n')
    (cfg / "marsad.yaml").write_text(
        f"redis_url: {redis_server.url}\nfeeds: feeds.yaml\nwatchlists: watchlists/\n"
        "sinks: {desk-slack: {type: log}, analysts: {type: log}, console: {type: log}}\n"
        "fetch: {timeout_s: 5, allow_private_addresses: true}\nschedule: {tick_s: 1, reload_s: 0.01}\n")
    return Runtime(load_settings(cfg / "marsad.yaml", env={}), client=redis_client)


def test_poll_enqueues_each_new_entry_once_and_records_feed_state(rt: Runtime) -> None:
    feed = rt.settings.feeds["t"]
    got: list[Entry] = []
    first = flows.poll_feed(rt, feed, got.append)
    assert first.status == "ok" and len(got) == 2
    # The same feed again: 304-less server, same body → not_modified by body hash, nothing enqueued.
    second = flows.poll_feed(rt, feed, got.append)
    assert second.status == "not_modified" and len(got) == 2
    state = rt.feed_state.get("t")
    assert state["polls_ok"] == "1" and state["polls_not_modified"] == "1" and state["last_new"] == "0"
    # Next poll in the feed's interval (60 s) with the scheduler's ±15 % jitter.
    assert 60 * 0.85 - 1 <= rt.redis.ttl(flows.due_key("t")) <= 60 * 1.15


def test_failed_enqueue_releases_the_claim_so_the_next_poll_retries(rt: Runtime) -> None:
    feed = rt.settings.feeds["t"]

    def broken(_: Entry) -> None:
        raise redis.exceptions.ConnectionError("broker down")

    with pytest.raises(redis.exceptions.ConnectionError):
        flows.poll_feed(rt, feed, broken)
    rt.redis.delete(rt.feed_state.key("t"))  # forget the body hash, as after a changed feed
    got: list[Entry] = []
    flows.poll_feed(rt, feed, got.append)
    assert len(got) == 2


def test_processing_the_seed_entry_matches_both_watches_and_enqueues_per_sink(rt: Runtime) -> None:
    entries: list[Entry] = []
    flows.poll_feed(rt, rt.settings.feeds["t"], entries.append)
    seed = next(e for e in entries if "seed" in e.url)
    sent: list[tuple[Alert, str]] = []
    result = flows.process_entry(rt, seed, lambda a, s: sent.append((a, s)))
    assert result.outcome == "new" and result.article is not None and result.article.source == "page"
    assert {m.watch_id for m in result.matches} >= {"idlib", "libya-ceasefire"}
    pairs = {(a.watch_id, s) for a, s in sent}
    assert {("idlib", "desk-slack"), ("idlib", "analysts"), ("libya-ceasefire", "analysts")} <= pairs
    idlib = next(a for a, _ in sent if a.watch_id == "idlib")
    assert any(idlib.sentence[s:e].endswith("إدلب") for s, e in idlib.highlights), idlib
    # The same entry processed again (a redelivered task) joins its own story: same id, no new story.
    again = flows.process_entry(rt, seed, lambda a, s: None)
    assert again.story is not None and result.story is not None
    assert again.story.story_id == result.story.story_id


def test_delivery_is_once_per_watch_story_and_sink(rt: Runtime) -> None:
    alert = Alert(watch_id="idlib", watch_name="Idlib", severity="high", story_id="s1", url="https://x.example/a",
                  title="عنوان", feed_id="t", feed_name="T", published=None)
    assert deliver.deliver(rt, alert, "console").outcome == "sent"
    assert deliver.deliver(rt, alert, "console").outcome == "already_sent"
    assert deliver.deliver(rt, alert, "analysts").outcome == "sent"
    assert deliver.deliver(rt, alert, "nope").outcome == "not_configured"


def test_a_send_in_progress_elsewhere_makes_the_task_retry(rt: Runtime) -> None:
    alert = Alert(watch_id="idlib", watch_name="Idlib", severity="high", story_id="s2", url="https://x.example/a",
                  title="عنوان", feed_id="t", feed_name="T", published=None)
    from workers.stores.ledger import AlertKey

    assert rt.ledger.claim(AlertKey("idlib", "s2", "console")) == "claimed"
    with pytest.raises(Transient):
        deliver.deliver(rt, alert, "console")


def test_hot_reload_takes_a_valid_change_and_refuses_a_broken_one(rt: Runtime, monkeypatch: Any) -> None:
    monkeypatch.setenv("MARSAD_CONFIG", str(rt.settings.path))
    holder = _Holder()
    first = holder.get()
    watch_file = rt.settings.path.parent / "watchlists" / "extra.yaml"
    watch_file.write_text("watches:\n  - {id: extra, name: Extra, query: سرت, notify: [console]}\n", encoding="utf-8")
    time.sleep(0.05)
    second = holder.get()
    assert second is not first and "extra" in second.watches
    broken = "watches:\n  - {id: extra, name: Extra, query: '(سرت', notify: [console]}\n"
    watch_file.write_text(broken, encoding="utf-8")
    time.sleep(0.05)
    third = holder.get()
    assert third is second  # the broken change is refused; the last good config keeps running
    assert json.dumps(sorted(third.watches)) == json.dumps(sorted(second.watches))


def test_a_reload_that_fails_unexpectedly_keeps_the_last_config_and_is_tried_again(rt: Runtime,
                                                                                    monkeypatch: Any) -> None:
    import workers.runtime as runtime_module

    monkeypatch.setenv("MARSAD_CONFIG", str(rt.settings.path))
    holder = _Holder()
    first = holder.get()
    real = runtime_module.Runtime

    def failing(*args: Any, **kwargs: Any) -> Runtime:
        raise RecursionError("maximum recursion depth exceeded")  # a bug, not the user's file

    monkeypatch.setattr(runtime_module, "Runtime", failing)
    watch_file = rt.settings.path.parent / "watchlists" / "extra.yaml"
    watch_file.write_text("watches:\n  - {id: extra, name: Extra, query: سرت, notify: [console]}\n", encoding="utf-8")
    time.sleep(0.05)
    assert holder.get() is first  # no exception reaches the task; the last good config runs
    monkeypatch.setattr(runtime_module, "Runtime", real)
    time.sleep(0.05)
    again = holder.get()  # the same edit, tried again at the next check
    assert again is not first and "extra" in again.watches


def test_a_copy_from_another_outlet_sends_one_follow_up_when_the_watch_asks(
        tmp_path: Path, site: _Server, redis_server: EmbeddedRedis, redis_client: redis.Redis) -> None:
    cfg = tmp_path / "fu"
    (cfg / "watchlists").mkdir(parents=True)
    (cfg / "watchlists" / "w.yaml").write_text(
        "watches:\n  - {id: idlib, name: Idlib, query: إدلب, notify: [desk-slack], follow_ups: true}\n",
        encoding="utf-8")
    (cfg / "feeds.yaml").write_text(
        f'feeds:\n  - {{id: a, url: "{site.base}/feed.xml"}}\n  - {{id: b, url: "{site.base}/feed.xml"}}\n')
    (cfg / "marsad.yaml").write_text(
        f"redis_url: {redis_server.url}\nfeeds: feeds.yaml\nwatchlists: watchlists/\n"
        f'sinks: {{desk-slack: {{type: slack, webhook_url: "{site.base}/hook"}}}}\n'
        "fetch: {timeout_s: 5, allow_private_addresses: true}\n")
    rt = Runtime(load_settings(cfg / "marsad.yaml", env={}), client=redis_client)
    queued: list[tuple[Alert, str]] = []

    def entry(feed: str, query: str) -> Entry:
        return Entry(feed_id=feed, url=f"{site.base}/news/seed.html?{query}", guid=query, title="", summary="")

    def run(e: Entry) -> None:
        queued.clear()
        flows.process_entry(rt, e, lambda a, s: queued.append((a, s)))
        for a, s in queued:
            deliver.deliver(rt, a, s)

    run(entry("a", "v=1"))
    assert len(site.posts) == 1
    run(entry("a", "v=2"))  # the same outlet again under another URL: nothing new
    assert len(site.posts) == 1
    run(entry("b", "v=3"))  # another outlet's copy: one follow-up
    assert len(site.posts) == 2
    follow_up = json.loads(site.posts[1])
    assert follow_up["text"].startswith("Follow-up, 2 outlets")
    run(entry("b", "v=4"))  # that outlet again: no second follow-up
    assert len(site.posts) == 2
