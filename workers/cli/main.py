"""`marsad`: the command group, its global options (logging), and every command registered on it."""

from __future__ import annotations

import click

from workers.cli import backfill, feeds, inspect, relevance, run, state, stories, web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-format", type=click.Choice(["auto", "console", "json"]), default=None,
              help="Log lines: readable (console), JSON, or auto: readable on a terminal, JSON elsewhere "
                   "(default: $MARSAD_LOG_FORMAT, else log_format in marsad.yaml, else auto).")
@click.pass_context
def main(ctx: click.Context, log_format: str | None) -> None:
    """Marsad (مرصد): monitor Arabic news feeds, classify articles by region and actor, alert on watches.

    Daemons log at INFO; the other commands print their own result and log only warnings and errors
    ($MARSAD_LOG_LEVEL chooses for both).
    """
    from workers.cli import common

    common.start_logging(log_format, daemon=ctx.invoked_subcommand in DAEMONS)


# The long-running commands, whose log is their output; the rest report on stdout and stderr themselves.
DAEMONS = frozenset({"up", "worker", "beat", "web", "metrics"})

for command in (run.up, run.worker, run.beat, run.check, run.metrics, inspect.classify, inspect.why,
                inspect.eval_, state.status, state.alerts, feeds.feeds, backfill.backfill, stories.stories,
                stories.why_same, web.web, web.archive, relevance.train, relevance.feedback, relevance.suggest):
    main.add_command(command)
