"""What every `marsad` command shares: the --config option, and loading the settings or exiting with the problems."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from feeds.errors import InvalidInput

CONFIG_HELP = "Path to marsad.yaml (default: $MARSAD_CONFIG or config/marsad.yaml)."
config_option = click.option("--config", type=click.Path(dir_okay=False), help=CONFIG_HELP)


def load(config: str | None) -> Any:
    """The settings of `config` (also exported as MARSAD_CONFIG for the Celery app and child processes);
    on invalid config, every problem as `file: field: message` on stderr and exit status 1."""
    from workers.config.load import load_settings

    if config:
        os.environ["MARSAD_CONFIG"] = str(Path(config).resolve())
    try:
        return load_settings(config)
    except InvalidInput as exc:
        for line in exc.reason.splitlines():
            click.echo(line, err=True)
        sys.exit(1)
