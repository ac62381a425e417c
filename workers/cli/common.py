"""What every `marsad` command shares: the --config option, a date option type, loading the settings or exiting
with the problems, logging set up once, and Redis required or a clear "not running" message."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from feeds.errors import InvalidInput

CONFIG_HELP = "Path to marsad.yaml (default: $MARSAD_CONFIG or config/marsad.yaml)."
config_option = click.option("--config", type=click.Path(dir_okay=False), help=CONFIG_HELP)
_chosen: dict[str, Any] = {"format": False, "level": None}  # what start_logging chose, for load()


class IsoDate(click.ParamType[datetime]):
    """A date or time in ISO form (2018-05-06, 2018-05-06T10:30, with or without offset): a bad one is a usage
    error naming the option, not a traceback."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)", param, ctx)


ISO_DATE = IsoDate()


def start_logging(log_format: str | None, daemon: bool = True) -> None:
    """Logging before anything else runs; the flag (or $MARSAD_LOG_FORMAT) wins over the config's log_format.
    A command that is not a daemon logs warnings and errors only, unless $MARSAD_LOG_LEVEL says otherwise:
    what it did is its own output (`why` already says whether the model was active, for one)."""
    from workers.logging import setup_logging

    _chosen["format"] = bool(log_format or os.environ.get("MARSAD_LOG_FORMAT"))
    _chosen["level"] = os.environ.get("MARSAD_LOG_LEVEL") or ("INFO" if daemon else "WARNING")
    setup_logging(level=_chosen["level"], fmt=log_format)


def load(config: str | None) -> Any:
    """The settings of `config` (also exported as MARSAD_CONFIG for the Celery app and child processes);
    on invalid config, every problem as `file: field: message` on stderr and exit status 1."""
    from workers.config.load import load_settings
    from workers.logging import setup_logging

    if config:
        os.environ["MARSAD_CONFIG"] = str(Path(config).resolve())
    try:
        settings = load_settings(config)
    except InvalidInput as exc:
        for line in exc.reason.splitlines():
            click.echo(line, err=True)
        sys.exit(1)
    if not _chosen["format"] and settings.log_format != "auto":
        setup_logging(level=_chosen["level"], fmt=settings.log_format)
    return settings


def require_redis(settings: Any) -> Any:
    """A Redis client that answered, or the reason on stderr and exit status 1 (never a traceback)."""
    from workers.stores import connect

    try:
        return connect.require(settings.redis_url, settings.embedded)
    except connect.NotRunning as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
