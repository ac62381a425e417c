"""One `marsad up` per data_dir: the lock refuses a second holder, names the first, and goes with its file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workers.daemon.lock import LOCK_NAME, AlreadyRunning, hold


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    first = hold(tmp_path / "var")
    running = rf"another `marsad up` is running with this data_dir \(pid {os.getpid()}\)"
    with pytest.raises(AlreadyRunning, match=running):
        hold(tmp_path / "var")
    first.close()  # as when the process ends, however it ends
    again = hold(tmp_path / "var")
    assert (tmp_path / "var" / LOCK_NAME).read_text(encoding="utf-8") == f"{os.getpid()}\n"
    again.close()
