"""End to end with real parts only: embedded Redis, a real Celery worker with beat, a local feed/page server,
a local Slack-webhook receiver and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller

from tests.conftest import FIXTURES, REPO
from tests.harness import HTTPServer as _Server
from tests.harness import Mailbox as _Mailbox
from workers.daemon.embedded import EmbeddedRedis, free_port

pytestmark = pytest.mark.e2e

SEED_PAGE = (FIXTURES / "e2e" / "seed_page.html").read_bytes()
OTHER = json.loads((FIXTURES / "e2e" / "unrelated_article.json").read_text(encoding="utf-8"))
OTHER_PAGE = (
    "<html lang='ar'><head><meta charset='utf-8'><title>{t}</title></head><body><article><h1>{t}</h1>{p}"
    "</article></body></html>"
).format(t=html.escape(OTHER["title"]),
         p="".join(f"<p>{html.escape(x)}</p>" for x in OTHER["text"].split("\n") if x.strip())).encode()


def rss(base: str) -> bytes:
    items = [
        ("لبحث الأوضاع في ليبيا وسوريا.. بوتين يجري اتصالًا هاتفيًا بأردوغان", f"{base}/news/seed.html?utm_source=rss",
         "أجرى الرئيس الروسي فلاديمير بوتين اتصالا هاتفيا بنظيره التركي", "Wed, 30 Sep 2020 09:42:00 GMT"),
        (OTHER["title"], f"{base}/news/other.html", OTHER["abstract"], "Mon, 12 Feb 2018 05:40:07 GMT"),
    ]
    body = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link><guid>{html.escape(u)}</guid>"
        f"<description>{html.escape(d)}</description><pubDate>{p}</pubDate></item>" for t, u, d, p in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>اختبار</title>'
            f"<link>{base}/</link><description>test</description>{body}</channel></rss>").encode()


@pytest.fixture
def world(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[dict[str, Any]]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    feed_srv = _Server(lambda p: {
        "/feed.xml": (200, "application/rss+xml; charset=utf-8", rss(feed_srv.base)),
        "/news/seed.html": (200, "text/html; charset=utf-8", SEED_PAGE),
        "/news/other.html": (200, "text/html; charset=utf-8", OTHER_PAGE),
    }.get(p.split("?")[0]))
    slack = _Server(lambda p: None)
    box = _Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=free_port())
    smtp.start()
    cfg = tmp_path / "config"
    (cfg / "watchlists").mkdir(parents=True)
    for name in ("idlib.yaml", "libya.yaml"):
        (cfg / "watchlists" / name).write_text((REPO / "config/watchlists" / name).read_text(encoding="utf-8"))
    (cfg / "feeds.yaml").write_text(
        f'feeds:\n  - {{id: test-feed, url: "{feed_srv.base}/feed.xml", name: "Test feed", interval: 2s, '
        f"min_interval: 1s}}\n", encoding="utf-8")
    (cfg / "marsad.yaml").write_text(f"""
redis_url: {redis_server.url}
data_dir: ../var
feeds: feeds.yaml
watchlists: watchlists/
sinks:
  desk-slack: {{type: slack, webhook_url: "{slack.base}/hooks/T000/B000/XXX"}}
  analysts: {{type: email, host: 127.0.0.1, port: {smtp.port}, sender: marsad@localhost, to: [desk@example.org]}}
  console: {{type: log}}
fetch: {{timeout_s: 5, max_bytes: 5000000, user_agent: "Marsad-test", allow_private_addresses: true}}
schedule: {{tick_s: 1, reload_s: 1}}
""", encoding="utf-8")
    yield {"config": cfg / "marsad.yaml", "slack": slack, "smtp": box, "feed": feed_srv, "redis": client,
           "log": tmp_path / "worker.log"}
    feed_srv.close()
    slack.close()
    smtp.stop()
    client.close()


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MARSAD_CONFIG": str(config), "MARSAD_LOG_LEVEL": "INFO"}
    env.pop("MARSAD_REDIS_URL", None)
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "worker", "--config", str(config), "--beat", "-c", "2"],
            cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown: in-flight tasks finish or go back to the queue
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(cond: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n--- worker log tail ---\n{tail}")


def polls(client: redis.Redis) -> int:
    st = client.hgetall("marsad:feed:test-feed")
    return sum(int(v) for k, v in st.items() if k.startswith(b"polls_"))


def subjects(box: _Mailbox) -> list[str]:
    return [str(make_header(decode_header(message_from_bytes(m)["Subject"]))) for m in box.messages]


def test_seed_article_alerts_once_per_watch_and_sink_and_never_again(world: dict[str, Any]) -> None:
    slack, box, client, log = world["slack"], world["smtp"], world["redis"], world["log"]
    proc = start_worker(world["config"], log)
    try:
        wait_for(lambda: len(slack.posts) >= 2 and len(box.messages) >= 2, 90, "2 Slack + 2 email alerts", log)
        # Both pages fetched, so the unrelated article was processed too; give its alerts (if any) time.
        wait_for(lambda: "/news/other.html" in world["feed"].gets, 30, "the unrelated page fetch", log)
        time.sleep(3)
        texts = [json.loads(p)["text"] for p in slack.posts]
        assert len(slack.posts) == 2, texts
        assert len(box.messages) == 2, subjects(box)
        assert sum("Idlib" in t or "idlib" in t for t in texts) == 1, texts
        assert all("بوتين" in t for t in texts), texts
        assert all("بوتين" in s for s in subjects(box)), subjects(box)
        # Re-polling (the feed is due every 2 s) brings nothing new.
        before = polls(client)
        wait_for(lambda: polls(client) >= before + 2, 30, "two more polls", log)
        time.sleep(2)
        assert (len(slack.posts), len(box.messages)) == (2, 2)
    finally:
        stop_worker(proc)
    # A restarted worker resumes from Redis state: more polls, no new alerts.
    before = polls(client)
    proc = start_worker(world["config"], log)
    try:
        wait_for(lambda: polls(client) >= before + 2, 60, "polls after restart", log)
        time.sleep(2)
        assert (len(slack.posts), len(box.messages)) == (2, 2)
    finally:
        stop_worker(proc)
    print(f"e2e: slack={len(slack.posts)} email={len(box.messages)} polls={polls(client)}")
