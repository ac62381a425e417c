"""Logging, all in one place: structlog events and the stdlib lines of Celery and kombu through one formatter,
readable coloured key-value lines on a terminal, JSON lines elsewhere; Celery's per-task trace kept quiet."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, Literal

import structlog

LogFormat = Literal["auto", "console", "json"]
# Celery's own INFO lines that repeat for every task ("Task … received", "… succeeded in 0.0008s") or every
# beat tick ("Scheduler: Sending due task"): the outcome lines of Marsad say the same once, with the why.
# They show at WARNING unless the level asked for is DEBUG.
QUIET = ("celery.app.trace", "celery.worker.strategy", "celery.beat", "celery.worker.consumer.mingle",
         "celery.worker.consumer.gossip")
_state: dict[str, Any] = {"configured": False}


def wants_json(fmt: str, stream: Any = None) -> bool:
    """`auto` is JSON unless the stream is a terminal."""
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    return not (stream or sys.stderr).isatty()


def _drop_color_message(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)
    return event


# C0/C1 control characters: a URL or page text that a library logs (trafilatura logs the redirect target it
# discards) must not clear the analyst's terminal, colour it or start a forged log line.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The message with control characters written as escapes (\\x1b); JSON escapes them anyway, but the
    console renderer prints the message as it is (other values it prints as repr)."""
    msg = event.get("event")
    if isinstance(msg, str) and _CONTROLS.search(msg):
        event["event"] = _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", msg)
    return event


def setup_logging(level: str | None = None, fmt: str | None = None, stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger (once per process; `reset_logging` undoes it).

    level: MARSAD_LOG_LEVEL or INFO; fmt: auto | console | json (MARSAD_LOG_FORMAT or auto)."""
    level = (level or os.environ.get("MARSAD_LOG_LEVEL") or "INFO").upper()
    fmt = fmt or os.environ.get("MARSAD_LOG_FORMAT") or "auto"
    stream = stream or sys.stderr
    use_json = wants_json(fmt, stream)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if use_json \
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        # Celery's, kombu's and uvicorn's own lines: their tracebacks rendered as text like ours, and uvicorn's
        # `color_message` (the message again, with terminal colour codes) dropped.
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message,
                           structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _escape_event, renderer],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Celery's SecurityWarning and the like become log lines, not stray text
    for name in QUIET:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
    os.environ["MARSAD_LOG_FORMAT"] = fmt  # child processes (the worker of `marsad up`) log the same way
    _state["configured"] = True


def keep_for_celery() -> None:
    """Celery's worker and beat configure logging themselves unless a `setup_logging` receiver exists: connect
    one that keeps ours, and give billiard's pool logger (which does not propagate) our handler too."""
    from celery.signals import setup_logging as celery_setup_logging

    def keep(**_: Any) -> None:
        root = logging.getLogger()
        pool = logging.getLogger("multiprocessing")
        pool.handlers = list(root.handlers)
        pool.setLevel(logging.WARNING)  # "Process … exited" and the like; its INFO chatter is Celery's

    celery_setup_logging.connect(keep, weak=False)


def reset_logging() -> None:
    """Back to the defaults (tests)."""
    structlog.reset_defaults()
    logging.getLogger().handlers = []
    _state["configured"] = False


@contextlib.contextmanager
def without_task_context() -> Iterator[None]:
    """Log lines about the process, not the task that happened to run (a config reload noticed during a
    send_alert must not carry its watch, sink and attempt); the task's context is bound again after."""
    saved = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    try:
        yield
    finally:
        structlog.contextvars.bind_contextvars(**saved)


def get_logger(name: str = "marsad") -> Any:
    return structlog.get_logger(name)
