"""The command group: which commands log at INFO (daemons) and which only warn (the ones that print a result)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "tests" / "fixtures" / "seed" / "000_ac810ad0bcec6acb.txt"


def why(tmp_path: Path, **env: str) -> str:
    """stderr of `marsad why` in a process of its own (loggers are configured once per process)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    res = subprocess.run([sys.executable, "-m", "workers.cli", "--log-format", "json", "why", "--watch",
                          "topic-idlib", str(SEED), "--no-color", "--config", str(REPO / "config" / "marsad.yaml")],
                         env=base | {"MARSAD_DATA_DIR": str(tmp_path)} | env,  # its own model cache: trains
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "relevance model: inactive" in res.stdout  # the command says it itself
    return res.stderr


def test_a_command_that_prints_its_result_logs_no_info_lines(tmp_path: Path) -> None:
    assert "relevance_model_loaded" not in why(tmp_path)


def test_marsad_log_level_still_chooses(tmp_path: Path) -> None:
    assert '"event": "relevance_model_loaded"' in why(tmp_path, MARSAD_LOG_LEVEL="INFO")
