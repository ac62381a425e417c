"""The `marsad` commands that look at running state: status, and the dead-letter alerts (failed, retry, test)."""

from __future__ import annotations

import json
from typing import Any

import click

from feeds.errors import MarsadError
from workers.cli import common
from workers.cli.common import config_option


def _ago(ts: float | str | None, now: float) -> str:
    if not ts:
        return "never"
    delta = now - float(ts)
    if delta < 0:
        return f"in {int(-delta)} s"
    return f"{int(delta)} s ago" if delta < 120 else f"{int(delta // 60)} min ago"



def render(data: dict[str, Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    now = data["now"]
    t = Table(title="Feeds")
    for col in ("feed", "state", "last poll", "last success", "new", "items/day", "304s", "next poll", "last error"):
        t.add_column(col)
    for f in data["feeds"]:
        share = "-" if f["share_304"] is None else f"{f['share_304']:.0%}"
        t.add_row(f["id"], f["state"], _ago(f["last_poll"], now), _ago(f["last_success"], now), str(f["last_new"]),
                  str(f["items_per_day"]), share, _ago(f["next_poll"], now),
                  escape((f["last_error"] or "")[:60]))  # error texts quote servers: no markup from them
    console.print(t)
    console.print("queues: " + ", ".join(f"{q}={n}" for q, n in data["queues"].items())
                  + f"; failed alerts: {data['failed_alerts']}")
    if data["workers"]:
        wt = Table(title="Workers")
        for col in ("worker", "state", "queues", "up since", "last task finished", "last task"):
            wt.add_column(col)
        for w in data["workers"]:
            wt.add_row(escape(w["worker"]), w["state"], ",".join(w["queues"]),
                       _ago(str(w["started"]) if w["started"] else None, now),
                       _ago(str(w["last_finished"]) if w["last_finished"] else None, now),
                       escape(w["last_task"] or ""))
        console.print(wt)
    else:
        console.print("workers: none running")
    for a in data["recent_alerts"]:
        console.print(f"  alert {a['watch']} → {a['sink']}: {a['title']!r}", markup=False)


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True)
def status(config: str | None, as_json: bool) -> None:
    """Feeds (last poll, last success, new items, last error, next poll), queue depths, recent alerts."""
    from workers.status import collect

    s = common.load(config)
    data = collect(s, common.require_redis(s))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        render(data)


@click.group()
def alerts() -> None:
    """Inspect and re-send alerts that failed after all retries; send a test alert."""


@alerts.command(name="failed")
@config_option
def alerts_failed(config: str | None) -> None:
    """List the dead-letter list: alerts that could not be delivered, with the reason.

    One tab-separated line each: when it failed (UTC), kind, alert id (what `marsad feedback` takes), watch,
    story, sink, reason and title (or URL); then the count.
    """
    from datetime import UTC, datetime

    from workers.stores.ledger import DeadLetters

    rows = DeadLetters(common.require_redis(common.load(config))).all()
    for r in rows:
        p = r["payload"]
        when = datetime.fromtimestamp(float(r.get("at") or 0), UTC).strftime("%Y-%m-%d %H:%M:%S")
        a = p.get("alert", {}) if r["kind"] == "alert" else {}
        ids = [_alert_id(a), str(a.get("watch_id", "-")), str(a.get("story_id", "-"))]
        title = a.get("title", "") if a else p.get("url", "")
        # repr: the reason and title come from sinks and feeds, and must not reach the terminal raw
        click.echo("\t".join([when, r["kind"], *ids, str(p.get("sink", "-")), repr(str(r["reason"])), repr(title)]))
    click.echo(f"{len(rows)} failed")


def _alert_id(alert: dict[str, Any]) -> str:
    from feeds.models import Alert

    try:
        return Alert.from_dict(alert).alert_id if alert else "-"
    except (KeyError, TypeError, ValueError):
        return "-"


@alerts.command(name="retry")
@config_option
def alerts_retry(config: str | None) -> None:
    """Re-enqueue every failed alert (and quarantined article) for another try."""
    s = common.load(config)  # first: importing the tasks builds the Celery app from MARSAD_CONFIG
    client = common.require_redis(s)
    from workers.app import use_redis
    from workers.stores.ledger import DeadLetters
    from workers.tasks.retry import retry_dead_letters

    use_redis(s.redis_url)
    n = retry_dead_letters(DeadLetters(client))
    click.echo(f"re-enqueued {n}")


@alerts.command(name="test")
@click.argument("sink_id")
@config_option
def alerts_test(sink_id: str, config: str | None) -> None:
    """Send a sample alert, built from a real article, to SINK_ID now (no ledger, no queue)."""
    from workers.alerts.sample import sample_alert
    from workers.alerts.sinks import build_sink

    s = common.load(config)
    if sink_id not in s.sinks:
        why = s.unconfigured_sinks.get(sink_id, "unknown sink")
        raise click.ClickException(f"sink {sink_id!r} cannot be used: {why}")
    try:
        build_sink(sink_id, s.sinks[sink_id]).send(sample_alert(s))
    except MarsadError as exc:
        raise click.ClickException(f"{sink_id}: {exc.reason}") from exc
    click.echo(f"sent a sample alert to {sink_id}")
