"""Exactly once per (watch, story, sink) with a real Celery worker, real Redis and local receivers.

Each scenario has its own sink and receiver; one worker (two pool processes, queue "alert") serves them all.
Test-only overrides shorten product constants that would make this take many minutes: the ledger's
claim TTL (120 s → 4 s), the retry backoff (5 s × 2^n → 0.25 s × 2^n, Retry-After still honoured) and the
retry budget (8 → 6 retries, about 16 s).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from celery import Celery

import tests.harness as harness
from feeds.models import Alert
from tests.harness import HTTPServer, Worker, wait_for
from workers.daemon.embedded import EmbeddedRedis

CLAIM_TTL_S = 4
OVERRIDES = {"alert_claim_ttl_s": CLAIM_TTL_S, "max_retries": 6, "countdown_base": 0.25}
# The harness boot, plus the retry overrides (read at call time: MAX_RETRIES by send_alert, countdown by the
# task base's retry_later).
BOOT = """
import json, os, sys
ov = json.loads(os.environ.get("MARSAD_TEST_OVERRIDES") or "{}")
import workers.stores.ledger as s
s.ALERT_CLAIM_TTL_S = ov["alert_claim_ttl_s"]
import workers.tasks.alert as ta
ta.MAX_RETRIES = int(ov["max_retries"])
base = float(ov["countdown_base"])
def countdown(retries, exc):
    return max(base * 2 ** retries, float(getattr(exc, "retry_after", None) or 0))
import workers.tasks as tasks
tasks.countdown = countdown
from workers.cli.main import main
sys.argv[0] = "marsad"
main()
"""
_STORY = re.compile(r"example\.org/n/(\w+)")


@dataclass
class Scripted:
    """A receiver answering from a script: answer(n) → (status, headers, seconds to wait before answering).
    Every request is recorded as it arrives (`accepted`), i.e. before the sender hears the answer."""

    answer: Callable[[int], tuple[int, dict[str, str], float]]
    accepted: list[tuple[float, str, str]] = field(default_factory=list)  # (time, story, delivery id)
    answered: list[tuple[float, int]] = field(default_factory=list)
    url: str = ""

    def start(self) -> Scripted:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                n = len(outer.accepted)
                m = _STORY.search(body.decode("utf-8", "replace"))
                outer.accepted.append((time.monotonic(), m.group(1) if m else "?",
                                       self.headers.get("X-Marsad-Delivery", "")))
                status, headers, wait = outer.answer(n)
                time.sleep(wait)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    outer.answered.append((time.monotonic(), status))
                except OSError:
                    pass  # the sender timed out and hung up

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stories(self) -> Counter[str]:
        return Counter(s for _, s, _ in self.accepted)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Env:
    tmp: Path
    client: redis.Redis
    producer: Celery
    config: Path
    receivers: dict[str, Any]
    workers: list[Worker]

    def send(self, sink: str, story: str) -> None:
        alert = Alert(watch_id="w", watch_name="W", severity="high", story_id=story,
                      url=f"https://example.org/n/{story}", title=f"عنوان {story}", feed_id="f", feed_name="F",
                      published=None)
        self.producer.send_task("marsad.send_alert", args=[alert.to_dict(), sink], queue="alert")

    def worker(self) -> Worker:
        w = Worker(self.config, self.tmp / f"worker{len(self.workers)}.log", ("worker", "-Q", "alert", "-c", "2"),
                   OVERRIDES)  # type: ignore[arg-type]
        self.workers.append(w.start())
        return w

    @property
    def logs(self) -> list[Path]:
        return [w.log for w in self.workers]


def _config(tmp: Path, redis_url: str, sinks: dict[str, str]) -> Path:
    (tmp / "watchlists").mkdir(parents=True, exist_ok=True)
    (tmp / "feeds.yaml").write_text('feeds:\n  - {id: f, url: "http://127.0.0.1:9/feed", interval: 1h}\n')
    (tmp / "watchlists" / "w.yaml").write_text("watches:\n  - {id: w, name: W, query: 'زلزال', notify: [console]}\n",
                                               encoding="utf-8")
    lines = "\n".join(f"  {k}: {v}" for k, v in sinks.items())
    path = tmp / "marsad.yaml"
    path.write_text(f"redis_url: {redis_url}\ndata_dir: ../var\nfeeds: feeds.yaml\nwatchlists: watchlists/\n"
                    f"sinks:\n  console: {{type: log}}\n{lines}\nschedule: {{tick_s: 60, reload_s: 60}}\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("delivery")
    server = EmbeddedRedis(tmp / "redis").start()
    flaky_until: list[float] = []

    def flaky(n: int) -> tuple[int, dict[str, str], float]:
        if not flaky_until:
            flaky_until.append(time.monotonic() + 5.0)  # 500s for 5 s from the first request
        return (500 if time.monotonic() < flaky_until[0] else 200), {}, 0.0

    down_state = {"status": 500}
    rx: dict[str, Any] = {
        "kill": HTTPServer(lambda p: None, post_hold=lambda n: 3.0 if n == 0 else 0.0),
        "flaky": Scripted(flaky).start(),
        "limited": Scripted(lambda n: (429, {"Retry-After": "2"}, 0.0) if n == 0 else (200, {}, 0.0)).start(),
        # Accepts (records) the first request, then answers after the sender's 1 s timeout.
        "slowack": Scripted(lambda n: (200, {}, 2.0 if n == 0 else 0.0)).start(),
        "race": Scripted(lambda n: (200, {}, 0.3)).start(),
        "down": Scripted(lambda n: (down_state["status"], {}, 0.0)).start(),
        "stream": HTTPServer(lambda p: None),
    }
    rx["down"].state = down_state
    url = {k: (f"{v.base}/hook" if isinstance(v, HTTPServer) else v.url) for k, v in rx.items()}
    sinks = {k: f'{{type: webhook, url: "{url[k]}"}}' for k in rx}
    sinks["limited"] = f'{{type: slack, webhook_url: "{url["limited"]}"}}'
    sinks["slowack"] = f'{{type: webhook, url: "{url["slowack"]}", timeout_s: 1}}'
    config = _config(tmp / "config", server.url, sinks)
    old_boot = harness._BOOT
    harness._BOOT = BOOT
    e = Env(tmp, redis.Redis.from_url(server.url), Celery("producer", broker=server.url), config, rx, [])
    e.worker()
    e.send("down", "d1")  # retries run in the background while the other scenarios do
    try:
        yield e
    finally:
        harness._BOOT = old_boot
        for w in e.workers:
            w.stop(timeout=10)
        for v in rx.values():
            v.close()
        e.client.close()
        server.stop()


def _once_each(counts: Counter[str], stories: list[str]) -> None:
    doubled = {k: n for k, n in counts.items() if n > 1}
    assert sorted(counts) == sorted(stories) and not doubled, f"got {dict(counts)}"


def test_pool_process_sigkilled_mid_send_delivers_once(env: Env) -> None:
    rx: HTTPServer = env.receivers["kill"]
    env.send("kill", "k1")
    wait_for(lambda: bool(rx.in_flight), 30, "the held POST", env.logs)
    proc = env.workers[0].process_talking_to(rx.port)
    assert proc is not None and proc.pid != env.workers[0].pid
    proc.send_signal(signal.SIGKILL)
    wait_for(lambda: len(rx.posts) >= 1, 30, "the redelivered alert", env.logs)
    time.sleep(1.0)
    assert len(rx.aborted) == 1 and len(rx.posts) == 1  # the killed send never completed; the retry did


def test_receiver_500s_then_recovering_delivers_once(env: Env) -> None:
    rx: Scripted = env.receivers["flaky"]
    env.send("flaky", "f1")
    wait_for(lambda: any(s == 200 for _, s in rx.answered), 30, "a 200 after the 500s", env.logs)
    time.sleep(1.0)
    statuses = [s for _, s in rx.answered]
    assert statuses[-1] == 200 and statuses.count(200) == 1 and statuses.count(500) >= 3
    _once_each(Counter(s for (_, s, _), (_, st) in zip(rx.accepted, rx.answered, strict=True) if st == 200), ["f1"])


def test_429_waits_for_retry_after_then_delivers_once(env: Env) -> None:
    rx: Scripted = env.receivers["limited"]
    env.send("limited", "l1")
    wait_for(lambda: len(rx.answered) >= 2, 30, "the retry after the 429", env.logs)
    time.sleep(0.5)
    [(t429, s1), (t200, s2)] = rx.answered
    assert (s1, s2) == (429, 200)
    assert t200 - t429 >= 1.9, f"retried {t200 - t429:.2f} s after a Retry-After of 2 s"


def test_timeout_after_accept_is_resent_with_the_same_delivery_id(env: Env) -> None:
    """At-least-once: a sender that timed out cannot know the receiver took it, so it sends again (a lost
    alert is worse than a doubled one); the repeat carries the same id, so the receiver can drop it."""
    rx: Scripted = env.receivers["slowack"]
    env.send("slowack", "t1")
    wait_for(lambda: len(rx.accepted) >= 2, 30, "the re-send after the timeout", env.logs)
    time.sleep(2.5)
    assert [s for _, s, _ in rx.accepted] == ["t1", "t1"]
    ids = {d for _, _, d in rx.accepted}
    assert len(ids) == 1 and ids != {""}
    assert len({(s, d) for _, s, d in rx.accepted}) == 1  # exactly once after dedup by delivery id


def test_two_workers_racing_on_the_same_alerts_deliver_each_once(env: Env) -> None:
    rx: Scripted = env.receivers["race"]
    second = env.worker()
    stories = [f"r{i}" for i in range(8)]
    for s in stories * 3:  # every alert enqueued three times, consumed by four pool processes
        env.send("race", s)
    wait_for(lambda: len(rx.stories()) == len(stories), 60, "every raced alert", env.logs)
    time.sleep(CLAIM_TTL_S + 1)  # a wrongly re-claimed copy would arrive now
    _once_each(rx.stories(), stories)
    second.stop(timeout=15)


def test_after_the_retry_budget_the_alert_is_dead_lettered_and_retry_resends_it(env: Env) -> None:
    rx: Scripted = env.receivers["down"]
    wait_for(lambda: env.client.llen("marsad:alerts:failed") == 1, 40, "the dead letter", env.logs)
    assert len(rx.accepted) == 7  # the first try and 6 retries
    cli = [sys.executable, "-c", "from workers.cli.main import main; main()"]
    out = subprocess.run([*cli, "alerts", "failed", "--config", str(env.config)], capture_output=True, text=True,
                         cwd=harness.REPO, timeout=60)
    assert "down" in out.stdout and "HTTP 500" in out.stdout, out.stdout + out.stderr
    [line, count] = out.stdout.splitlines()
    when, kind, alert_id, watch, story, sink, *_ = line.split("\t")
    assert (kind, sink, count) == ("alert", "down", "1 failed") and re.fullmatch(r"[0-9a-f]{10}", alert_id)
    assert watch != "-" and story != "-" and when.startswith("20")
    rx.state["status"] = 200
    # MARSAD_CONFIG as well as --config: `alerts retry` imports the Celery app (which reads the broker URL
    # from the config) before it reads --config (reported to the lead).
    done = subprocess.run([*cli, "alerts", "retry", "--config", str(env.config)], capture_output=True, text=True,
                          cwd=harness.REPO, timeout=60, env={**os.environ, "MARSAD_CONFIG": str(env.config)})
    assert done.returncode == 0, done.stderr[-3000:]
    wait_for(lambda: any(s == 200 for _, s in rx.answered), 30, "the re-sent alert", env.logs)
    time.sleep(1.0)
    assert [s for _, s in rx.answered].count(200) == 1 and env.client.llen("marsad:alerts:failed") == 0


def test_measure_crash_between_send_and_mark(env: Env) -> None:
    """SIGKILL pool processes at random while 400 alerts stream out; count the doubles that result."""
    rx: HTTPServer = env.receivers["stream"]
    stories = [f"s{i:04d}" for i in range(400)]
    for s in stories:
        env.send("stream", s)
    rng, kills = random.Random(7), 0
    while len(set(rx.posts)) < len(stories) and kills < 40:
        time.sleep(rng.uniform(0.05, 0.25))
        children = env.workers[0].children()
        if children:
            try:
                rng.choice(children).send_signal(signal.SIGKILL)
                kills += 1
            except psutil.NoSuchProcess:
                pass
    got = lambda: Counter(m.group(1) for p in rx.posts if (m := _STORY.search(p.decode())))  # noqa: E731
    wait_for(lambda: len(got()) == len(stories), 90, "every streamed alert", env.logs)
    time.sleep(CLAIM_TTL_S + 1)
    counts = got()
    doubles = sum(n - 1 for n in counts.values())
    assert sorted(counts) == stories  # nothing lost
    assert doubles <= kills  # at most one double per crash, and only from a crash
    print(f"\ncrash between send and mark: {kills} SIGKILLs during {len(stories)} sends -> {doubles} doubled "
          f"alerts ({doubles / max(1, kills):.1%} of crashes, {doubles / len(stories):.2%} of alerts); "
          f"aborted sends {len(rx.aborted)}")
    print(json.dumps({"kills": kills, "alerts": len(stories), "doubles": doubles}))
