"""The /metrics endpoint: HTTP Basic when a password is set, and no bind beyond loopback without one."""

from __future__ import annotations

import base64
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from feeds.errors import InvalidInput
from workers.daemon import metrics_http
from workers.daemon.embedded import EmbeddedRedis


def get(url: str, user: str | None = None, password: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "metrics.example.org"])
def test_a_bind_beyond_loopback_without_a_password_is_refused(host: str) -> None:
    with pytest.raises(InvalidInput, match="MARSAD_METRICS_PASSWORD"):
        metrics_http.check_bind(host, None)
    metrics_http.check_bind(host, "s3cret")  # with one it may


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_password(host: str) -> None:
    metrics_http.check_bind(host, None)


@pytest.fixture
def cli_env(redis_server: EmbeddedRedis, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "marsad.yaml").write_text(f"redis_url: {redis_server.url}\ndata_dir: {tmp_path}\n",
                                          encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    return env | {"MARSAD_CONFIG": str(tmp_path / "marsad.yaml")}


@pytest.fixture
def served(cli_env: dict[str, str], redis_client: redis.Redis) -> Iterator[str]:
    """`marsad metrics` as a process, on a free loopback port, with a password: its /metrics URL."""
    env = cli_env | {"MARSAD_METRICS_PASSWORD": "s3cret", "MARSAD_METRICS_USER": "scraper"}
    proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "metrics", "--port", "0"], env=env,
                            stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr
    assert stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True).start()
    seen, url = [], None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=0.5))
        except queue.Empty:
            continue
        m = re.search(r"metrics on (http://\S+/metrics)", seen[-1])
        url = m.group(1) if m else None
    try:
        assert url, f"no URL printed: {seen}"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_scrapes_need_the_credentials(served: str) -> None:
    assert get(served)[0] == 401
    assert get(served, "scraper", "wrong")[0] == 401
    assert get(served, "prometheus", "s3cret")[0] == 401  # the configured user, not the default
    status, body = get(served, "scraper", "s3cret")
    assert status == 200
    assert 'marsad_queue_depth{queue="article"} 0.0' in body  # read from Redis at scrape time


def test_the_command_refuses_a_public_bind_without_a_password(cli_env: dict[str, str]) -> None:
    res = subprocess.run([sys.executable, "-m", "workers.cli", "metrics", "--host", "0.0.0.0", "--port", "0"],
                         env=cli_env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "refusing to listen on 0.0.0.0 without authentication" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_scrape_while_redis_is_down_answers_redis_up_0() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from workers.daemon.metrics import RedisCollector

    registry = CollectorRegistry()
    registry.register(RedisCollector(redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=1)))  # closed
    text = generate_latest(registry).decode()
    assert "marsad_redis_up 0.0" in text and "marsad_queue_depth" not in text


def test_a_scrape_with_redis_answers_redis_up_1(redis_client: redis.Redis) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from workers.daemon.metrics import RedisCollector

    registry = CollectorRegistry()
    registry.register(RedisCollector(redis_client))
    text = generate_latest(registry).decode()
    assert "marsad_redis_up 1.0" in text and 'marsad_queue_depth{queue="poll"} 0.0' in text
