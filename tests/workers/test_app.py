"""The Celery app's settings that follow the config: the broker for each kind of redis_url, and the feed tick."""

from __future__ import annotations

import pickle
from datetime import timedelta
from pathlib import Path

from workers.app import ConfigTick
from workers.stores import connect


def test_the_feed_tick_follows_a_changed_tick_s_without_a_restart(tmp_path: Path) -> None:
    cfg = tmp_path / "marsad.yaml"
    cfg.write_text("schedule: {tick_s: 5}\n", encoding="utf-8")
    tick = ConfigTick(str(cfg), reread_s=0)
    assert tick.run_every == timedelta(seconds=5)
    cfg.write_text("schedule: {tick_s: 20}\n", encoding="utf-8")
    assert tick.run_every == timedelta(seconds=20)
    assert pickle.loads(pickle.dumps(tick)).run_every == timedelta(seconds=20)  # beat's shelve keeps it
    cfg.write_text("schedule: {tick_s: -3}\n", encoding="utf-8")
    assert tick.run_every == timedelta(seconds=15)  # invalid: the default (`marsad check` reports it)


def test_broker_urls_for_each_kind_of_redis_url() -> None:
    assert connect.broker("redis://:pw@10.0.0.5:6380/2") == ("redis://:pw@10.0.0.5:6380/2", {})
    assert connect.broker("unix:///var/lib/marsad/redis/redis.sock") == (
        "redis+socket:///var/lib/marsad/redis/redis.sock?virtual_host=0", {})
    url, opts = connect.broker("sentinel://:s3cret@h1:26379,h2:26380/mymaster/1")
    assert url == "sentinel://:s3cret@h1:26379/1;sentinel://:s3cret@h2:26380/1"
    assert opts["master_name"] == "mymaster"
    t = connect.parse("sentinel://:s3cret@h1:26379,h2:26380/mymaster/1")
    assert t.hosts == (("h1", 26379), ("h2", 26380)) and t.db == 1 and "s3cret" not in t.safe()
    assert "pw" not in connect.parse("redis://:pw@10.0.0.5:6380/2").safe()
