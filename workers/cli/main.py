"""The `marsad` command: run the daemons, check config, classify and explain articles, inspect state."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from workers.cli import backfill, feeds, inspect, state
from workers.cli.common import config_option, load


def _worker_argv(queues: str, concurrency: int, beat: bool, data_dir: Path, loglevel: str) -> list[str]:
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "-l", loglevel, "--without-gossip",
            "--without-mingle", "-n", f"marsad-{os.getpid()}@%h"]
    if beat:
        data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["-B", "--schedule", str(data_dir / "celerybeat-schedule")]
    return argv


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Marsad (مرصد): monitor Arabic news feeds, classify articles by region and actor, alert on watches."""
    from workers.logging import setup_logging

    setup_logging(os.environ.get("MARSAD_LOG_LEVEL", "INFO"))


@main.command()
@config_option
@click.option("--workers", "concurrency", default=2, show_default=True, help="Worker processes.")
@click.option("--loglevel", default="INFO", show_default=True)
def up(config: str | None, concurrency: int, loglevel: str) -> None:
    """Run everything on this machine: embedded Redis (unless redis_url is set), a worker on all queues, beat.

    The worker runs as a child process and is restarted if it stalls (its queues hold work but it stopped
    consuming, see schedule.stall_after_s) or is killed. Ctrl-C stops it cleanly: tasks in flight finish
    or go back to the queue; running it again resumes where it stopped (state lives in data_dir).
    """
    from workers.daemon.embedded import EmbeddedRedis
    from workers.daemon.supervisor import Supervisor

    settings = load(config)
    server = None
    url = settings.redis_url or os.environ.get("MARSAD_REDIS_URL")
    if not url:
        server = EmbeddedRedis(settings.data_dir / "redis").start()
        url = server.url
        click.echo(f"embedded Redis on {url} (AOF in {settings.data_dir / 'redis'})", err=True)
    env = {**os.environ, "MARSAD_CONFIG": str(settings.path), "MARSAD_REDIS_URL": url}
    argv = [sys.executable, "-m", "workers.cli", "worker", "--beat", "-c", str(concurrency), "--loglevel", loglevel]
    try:
        code = Supervisor(argv, env).run()
    finally:
        if server is not None:
            server.stop()
    sys.exit(code)


@main.command()
@config_option
@click.option("-Q", "--queues", default="poll,article,alert", show_default=True, help="Queues to consume.")
@click.option("-c", "--concurrency", default=2, show_default=True, help="Worker processes.")
@click.option("--beat", is_flag=True, help="Also run beat inside this worker (one per cluster).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(config: str | None, queues: str, concurrency: int, beat: bool, loglevel: str) -> None:
    """Run a worker against the shared redis_url (refuses to start on invalid config).

    If its queues hold work while it receives and finishes nothing for schedule.stall_after_s, it stops
    itself with exit status 75, for systemd, compose or `marsad up` to start a fresh one.
    """
    from workers.app import app
    from workers.config.env import broker_url
    from workers.daemon import watchdog

    settings = load(config)
    app.conf.broker_url = settings.redis_url or broker_url(settings.path)
    app.worker_main(_worker_argv(queues, concurrency, beat, settings.data_dir, loglevel))
    # worker_main drops the worker's exit status; the supervisor needs it (75 after a stall).
    sys.exit(watchdog.exit_status())


@main.command()
@config_option
@click.option("--loglevel", default="INFO", show_default=True)
def beat(config: str | None, loglevel: str) -> None:
    """Run the scheduler. A second beat never double-polls: each feed's poll is claimed in Redis."""
    from workers.app import app
    from workers.config.env import broker_url

    settings = load(config)
    app.conf.broker_url = settings.redis_url or broker_url(settings.path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "-l", loglevel, "--schedule", str(settings.data_dir / "celerybeat-schedule")])


@main.command()
@config_option
def check(config: str | None) -> None:
    """Validate config, feeds, watchlists and gazetteer; print `file: field: message` per problem (exit 1)."""
    s = load(config)
    extra = "".join(f"; sink {k} not configured: {v}" for k, v in sorted(s.unconfigured_sinks.items()))
    click.echo(f"config OK: {s.path}: {len(s.feeds)} feeds, {len(s.watches)} watches, "
               f"{len(s.sinks)} sinks{extra}")


@main.command()
@config_option
@click.option("--port", default=9108, show_default=True, help="Port of the /metrics endpoint.")
@click.option("--host", default="0.0.0.0", show_default=True)
def metrics(config: str | None, port: int, host: str) -> None:
    """Serve Prometheus metrics (shared counters, histograms, queue depths, worker heartbeats) from Redis."""
    import time

    from prometheus_client import CollectorRegistry, start_http_server

    from workers.config.env import broker_url
    from workers.daemon.metrics import RedisCollector
    from workers.runtime import redis_client

    settings = load(config)
    registry = CollectorRegistry()
    registry.register(RedisCollector(redis_client(settings.redis_url or broker_url(settings.path))))
    start_http_server(port, addr=host, registry=registry)
    click.echo(f"metrics on http://{host}:{port}/metrics", err=True)
    while True:
        time.sleep(3600)


for command in (inspect.classify, inspect.why, inspect.eval_, state.status, state.alerts, feeds.feeds,
                backfill.backfill):
    main.add_command(command)
