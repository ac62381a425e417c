"""`marsad up`: embedded Redis with AOF under data_dir, worker + beat, clean Ctrl-C, resume on the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO

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


def _redis_urls(log: Path) -> list[str]:
    return [ln.split()[3] for ln in log.read_text(errors="replace").splitlines() if ln.startswith("embedded Redis on ")]


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
    proc = _up(cfg, log)
    try:
        _wait(lambda: len(_redis_urls(log)) == 1, 30, log)
        url = _redis_urls(log)[0]
        _wait(lambda: _polls(url) >= 3, 60, log)
        assert redis.Redis.from_url(url).config_get("appendonly")["appendonly"] == "yes"
        before = _polls(url)
    finally:
        code = _ctrl_c(proc)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()  # the embedded server stopped too
    assert list((tmp_path / "var" / "redis").glob("**/*.aof*")), "AOF files under data_dir"

    proc = _up(cfg, log)  # the second run finds the state the first one left
    try:
        _wait(lambda: len(_redis_urls(log)) == 2, 30, log)
        again = _redis_urls(log)[1]
        _wait(lambda: _polls(again) > 0, 30, log)
        assert _polls(again) >= before >= 3
        _wait(lambda: _polls(again) > before, 60, log)  # and it goes on polling
    finally:
        assert _ctrl_c(proc) == 0
