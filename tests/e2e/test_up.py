"""`marsad up`: embedded Redis on a unix socket with AOF under data_dir, worker + beat, clean Ctrl-C, resume on
the next run; the other commands find it from the config alone, and say so plainly when it is not running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO
from workers.daemon.embedded import free_port

pytestmark = pytest.mark.e2e

CONFIG = """
redis_url: null
data_dir: var
feeds: feeds.yaml
watchlists: watchlists/
sinks: {console: {type: log}}
fetch: {timeout_s: 2, allow_private_addresses: true}
schedule: {tick_s: 1, reload_s: 1}
"""


def _up(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("MARSAD_REDIS_URL", "MARSAD_CONFIG")}
    with log.open("ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "workers.cli", "up", "--config", str(cfg), "--workers", "1"],
                                cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _starts(log: Path) -> int:
    """How many times `marsad up` printed its start block (its redis line names the embedded socket)."""
    return sum(1 for ln in log.read_text(errors="replace").splitlines() if ln.startswith("  redis     embedded, "))


def _socket_url(tmp: Path) -> str:
    return f"unix://{tmp / 'var' / 'redis' / 'redis.sock'}"


def marsad(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Another terminal: a `marsad` command with nothing but the config file."""
    env = {k: v for k, v in os.environ.items() if k not in ("MARSAD_REDIS_URL", "MARSAD_CONFIG")}
    return subprocess.run([sys.executable, "-m", "workers.cli", *args, "--config", str(cfg)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def _wait(cond: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("timed out:\n" + log.read_text(errors="replace")[-3000:])


def _polls(url: str) -> int:
    try:
        return int(redis.Redis.from_url(url, socket_connect_timeout=1).hget("marsad:feed:dead", "polls_failed") or 0)
    except redis.exceptions.ConnectionError:
        return 0


def _ctrl_c(proc: subprocess.Popen[bytes]) -> int:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does to the foreground group
    return proc.wait(60)


def test_up_runs_embedded_redis_and_stops_cleanly_on_ctrl_c_then_resumes(tmp_path: Path) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "w.yaml").write_text("watches: []\n")
    # A feed on a closed port: every poll fails fast and is recorded, which is all this test needs.
    (tmp_path / "feeds.yaml").write_text('feeds:\n  - {id: dead, url: "http://127.0.0.1:9/feed", interval: 1s, '
                                         "min_interval: 1s, max_interval: 1s}\n")
    cfg = tmp_path / "marsad.yaml"
    cfg.write_text(CONFIG)
    log = tmp_path / "up.log"
    url = _socket_url(tmp_path)
    proc = _up(cfg, log)
    try:
        _wait(lambda: _starts(log) == 1, 30, log)
        _wait(lambda: _polls(url) >= 3, 60, log)
        sock = tmp_path / "var" / "redis" / "redis.sock"
        assert (sock.parent.stat().st_mode & 0o777) == 0o700 and sock.is_socket()
        assert redis.Redis.from_url(url).config_get("port")["port"] == "0"  # no TCP listener at all
        assert redis.Redis.from_url(url).config_get("appendonly")["appendonly"] == "yes"
        second = marsad(cfg, "up", "--workers", "1")  # a second `up` on the same data_dir is refused at once
        assert second.returncode == 1 and "another `marsad up` is running with this data_dir" in second.stderr, \
            second.stderr
        assert f"(pid {proc.pid})" in second.stderr and "Traceback" not in second.stderr
        assert redis.Redis.from_url(url).ping()  # and the first one's Redis is untouched
        before = _polls(url)
    finally:
        code = _ctrl_c(proc)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()  # the embedded server stopped too
    assert list((tmp_path / "var" / "redis").glob("**/*.aof*")), "AOF files under data_dir"

    proc = _up(cfg, log)  # the second run finds the state the first one left
    try:
        _wait(lambda: _starts(log) == 2, 30, log)
        again = _socket_url(tmp_path)
        _wait(lambda: _polls(again) > 0, 30, log)
        assert _polls(again) >= before >= 3
        _wait(lambda: _polls(again) > before, 60, log)  # and it goes on polling
    finally:
        assert _ctrl_c(proc) == 0


def test_other_commands_find_the_embedded_redis_from_the_config_alone(tmp_path: Path) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "w.yaml").write_text("watches: []\n")
    (tmp_path / "feeds.yaml").write_text('feeds:\n  - {id: dead, url: "http://127.0.0.1:9/feed", interval: 1s, '
                                         "min_interval: 1s, max_interval: 1s}\n")
    cfg = tmp_path / "marsad.yaml"
    cfg.write_text(CONFIG)
    for args in (("status",), ("alerts", "failed"), ("alerts", "retry"), ("metrics", "--port", "1")):
        res = marsad(cfg, *args)
        assert res.returncode == 1, (args, res.stderr)
        assert "Marsad is not running (no Redis at unix://" in res.stderr and "marsad up" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    log = tmp_path / "up.log"
    proc = _up(cfg, log)
    try:
        _wait(lambda: _polls(_socket_url(tmp_path)) >= 1, 60, log)
        status = marsad(cfg, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert '"id": "dead"' in status.stdout and '"poll":' in status.stdout
        failed = marsad(cfg, "alerts", "failed")
        assert failed.returncode == 0 and failed.stdout.strip() == "0 failed", failed.stdout + failed.stderr
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MARSAD_REDIS_URL", "MARSAD_CONFIG")}
        metrics = subprocess.Popen([sys.executable, "-m", "workers.cli", "metrics", "--port", str(port), "--config",
                                    str(cfg)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            body = ""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "marsad_feeds_polled" not in body:
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                except OSError:
                    time.sleep(0.3)
            assert "marsad_feeds_polled" in body
        finally:
            metrics.terminate()
            metrics.wait(10)
        block = log.read_text(errors="replace")
        assert "  config    " + str(cfg) in block and "  loaded    1 feed, 0 watches, 1 sink (console)" in block
    finally:
        assert _ctrl_c(proc) == 0
