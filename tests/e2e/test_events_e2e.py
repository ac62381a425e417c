"""One event, one alert, end to end: real Redis, a real worker and beat, two local outlets publishing real
reports (tests/fixtures/events): four events each reported by both outlets in their own words alert once each;
three look-alike pairs (same day, places and actors, different happenings) alert twice each. A boundary of the
event index's buckets falls between the two reports of one event, and either may arrive first."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import event_fixtures
from tests.harness import HTTPServer, Item, NewsSite, WatchSpec, Worker, alert_keys, wait_for, write_config
from workers.daemon.embedded import EmbeddedRedis
from workers.stores.events import BUCKET_S

pytestmark = pytest.mark.e2e

DOCS, PAIRS = event_fixtures()


def test_rewrites_alert_once_and_look_alike_events_twice(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    feeds = ["outlet-a", "outlet-b"]
    # The last bucket boundary at least 20 minutes ago falls between the two reports of the third event (items
    # are 1 minute apart within a pair, 2 between pairs): the one published later is often filed first.
    boundary = (datetime.now(UTC).timestamp() - 1200) // BUCKET_S * BUCKET_S
    t0 = datetime.fromtimestamp(boundary - 270, UTC)
    items, key = [], {}
    for i, (a, b) in enumerate(PAIRS["same_event"] + PAIRS["different_event"]):
        for j, docno in enumerate((a, b)):
            d = DOCS[docno]
            k = f"e{i}{'ab'[j]}"
            key[docno] = k
            items.append(Item(k, feeds[j], d["title"], d["text"], t0 + timedelta(minutes=2 * i + j)))
    site = NewsSite(feeds)
    slack = HTTPServer(lambda p: None)
    cfg = write_config(tmp_path / "config", redis_server.url, {f: site.feed_url(f) for f in feeds},
                       [WatchSpec("all", "lang:ar")], slack_url=f"{slack.base}/hooks/T0/B0/X", interval="1s")
    worker = Worker(cfg, tmp_path / "worker.log").start()
    try:
        site.publish(items)
        expected = len(PAIRS["same_event"]) + 2 * len(PAIRS["different_event"])
        wait_for(lambda: len(slack.posts) >= expected, 180, f"{expected} alerts", [worker.log])
        time.sleep(5)  # a second alert for a rewrite would arrive now
        got = Counter(alert_keys(slack.posts))
        for a, b in PAIRS["same_event"]:
            assert got[key[a]] + got[key[b]] == 1, (a, b, got)
        for a, b in PAIRS["different_event"]:
            assert got[key[a]] == 1 and got[key[b]] == 1, (a, b, got)
        assert sum(got.values()) == expected
    finally:
        worker.stop()
        site.close()
        slack.close()
