"""One log stream: structlog events and Celery's stdlib lines through one formatter; Celery's trace quiet."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from workers.logging import QUIET, get_logger, reset_logging, setup_logging, wants_json


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    yield io.StringIO()
    reset_logging()


def test_json_lines_hold_our_events_and_celerys_own_lines(stderr: io.StringIO) -> None:
    setup_logging("INFO", "json", stderr)
    get_logger("marsad.flows").info("feed_polled", feed="f1", status="ok")
    logging.getLogger("celery.worker.consumer.connection").info("Connected to redis://x")
    logging.getLogger("celery.app.trace").info("Task marsad.tick[1] succeeded in 0.0008s: 0")  # quiet
    logging.getLogger("celery.app.trace").error("Task marsad.tick[1] raised")
    rows = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert [r["event"] for r in rows] == ["feed_polled", "Connected to redis://x", "Task marsad.tick[1] raised"]
    assert rows[0]["feed"] == "f1" and rows[0]["level"] == "info" and rows[0]["logger"] == "marsad.flows"
    assert rows[2]["level"] == "error" and "timestamp" in rows[2]


def test_other_libraries_tracebacks_are_text_and_uvicorns_colour_codes_are_dropped(stderr: io.StringIO) -> None:
    setup_logging("INFO", "json", stderr)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 7,
                                            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    started, failed = (json.loads(line) for line in stderr.getvalue().splitlines())
    assert started["event"] == "Started server process [7]" and "color_message" not in started
    assert "\x1b" not in stderr.getvalue()
    assert "ValueError: boom" in failed["exception"] and "exc_info" not in failed


def test_console_lines_are_key_value_not_json(stderr: io.StringIO) -> None:
    setup_logging("INFO", "console", stderr)
    get_logger("marsad.flows").warning("feed_polled", feed="f1", status="failed")
    line = stderr.getvalue().strip()
    assert "feed_polled" in line and "feed=f1" in line and "status=failed" in line and not line.startswith("{")


def test_debug_shows_celerys_trace_again(stderr: io.StringIO) -> None:
    setup_logging("DEBUG", "json", stderr)
    assert all(logging.getLogger(n).level == logging.DEBUG for n in QUIET)
    setup_logging("INFO", "json", stderr)
    assert all(logging.getLogger(n).level == logging.WARNING for n in QUIET)


def test_auto_is_json_off_a_terminal() -> None:
    assert wants_json("auto", io.StringIO()) and wants_json("json") and not wants_json("console")


def test_control_characters_a_library_logs_are_escaped_on_the_console(stderr: io.StringIO) -> None:
    # trafilatura logs the (redirect-chosen) URL of a page it discards: a hostile one clears the screen
    setup_logging("INFO", "console", stderr)
    logging.getLogger("trafilatura.core").warning("discarding data: %s",
                                                  "http://x/p\x1b[2J\x1b[1;31mFAKE ALERT\x1b[0m\nforged_line")
    out = stderr.getvalue()
    assert "\x1b" not in out and "\\x1b[2J" in out
    assert out.count("\n") == 1 and "\\x0aforged_line" in out


def test_a_process_line_inside_a_task_carries_none_of_the_tasks_context(stderr: io.StringIO) -> None:
    import structlog

    from workers.logging import without_task_context

    setup_logging("INFO", "json", stderr)
    structlog.contextvars.bind_contextvars(task="send_alert", sink="ops-hook", attempt=8)
    try:
        with without_task_context():
            get_logger("marsad.runtime").info("config_reloaded", watches=8)
        get_logger("marsad.flows").info("alert_sent")
    finally:
        structlog.contextvars.clear_contextvars()
    reload, sent = (json.loads(line) for line in stderr.getvalue().splitlines())
    assert "sink" not in reload and "task" not in reload and reload["watches"] == 8
    assert sent["sink"] == "ops-hook" and sent["attempt"] == 8  # bound again after
