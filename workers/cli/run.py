"""The `marsad` commands that run the daemons (up, worker, beat, metrics) and check the configuration."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from feeds.errors import InvalidInput
from workers.cli.common import config_option, load, require_redis

LOGLEVEL = click.option("--loglevel", default=None, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING… (default: $MARSAD_LOG_LEVEL or INFO).")


def _worker_argv(queues: str, concurrency: int, beat: bool, data_dir: Path, loglevel: str, quiet: bool,
                 events: bool = False) -> list[str]:
    # --quiet (a global option of celery, before the subcommand): no banner; `marsad up` prints its own start
    # block, and JSON logs want none.
    argv = ["--quiet"] if quiet else []
    argv += ["worker", "-Q", queues, "-c", str(concurrency), "-l", loglevel, "--without-gossip",
             "--without-mingle", "-n", f"marsad-{os.getpid()}@%h"]
    if events:
        argv.append("-E")  # task events, for Flower (off by default: they cost a Redis publish per task state)
    if beat:
        data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["-B", "--schedule", str(data_dir / "celerybeat-schedule")]
    return argv


def _level(loglevel: str | None) -> str:
    """The level asked for; when --loglevel gives one, logging is set up again with it (Celery's quiet
    loggers speak again at DEBUG)."""
    if loglevel:
        from workers.logging import setup_logging

        setup_logging(level=loglevel)
    return (loglevel or os.environ.get("MARSAD_LOG_LEVEL") or "INFO").upper()


def counted(settings: Any) -> str:
    """"10 feeds, 7 watches, 1 sink": what a config holds, in words."""
    def n(k: int, one: str, many: str) -> str:
        return f"{k} {one if k == 1 else many}"
    return (f"{n(len(settings.feeds), 'feed', 'feeds')}, {n(len(settings.watches), 'watch', 'watches')}, "
            f"{n(len(settings.sinks), 'sink', 'sinks')}")


def start_block(settings: Any, where: str, queues: str, logs: str) -> list[str]:
    """What `marsad up` says once at start: config, Redis, queues, what was loaded, what is not configured."""
    lines = [f"Marsad {version()}",
             f"  config    {settings.path}",
             f"  redis     {where}",
             f"  queues    {queues} (one worker, beat inside it)",
             f"  loaded    {counted(settings)} ({', '.join(sorted(settings.sinks)) or 'none'})"]
    for sid, why in sorted(settings.unconfigured_sinks.items()):
        lines.append(f"  not configured: sink {sid}: {why}")
    lines.append(f"  logs      {logs}")
    return lines


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("marsad")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        return "(not installed)"


@click.command()
@config_option
@click.option("--workers", "concurrency", default=2, show_default=True, help="Worker processes.")
@LOGLEVEL
def up(config: str | None, concurrency: int, loglevel: str | None) -> None:
    """Run everything on this machine: embedded Redis (unless redis_url is set), a worker on all queues, beat,
    and the console on http://127.0.0.1:8470 (web: in marsad.yaml; the address is printed at start).

    The embedded Redis listens on a unix socket in data_dir (no TCP port), where every other `marsad`
    command finds it from the config alone. The worker runs as a child process and is restarted if it stalls
    (its queues hold work but it stopped consuming, see schedule.stall_after_s) or is killed. Ctrl-C stops it
    cleanly: tasks in flight finish or go back to the queue; running it again resumes where it stopped
    (state lives in data_dir).
    """
    from workers.daemon.companion import Companion
    from workers.daemon.embedded import EmbeddedRedis
    from workers.daemon.lock import AlreadyRunning, hold
    from workers.daemon.supervisor import Supervisor
    from workers.logging import wants_json
    from workers.stores import connect
    from workers.web import server as web_server

    settings = load(config)
    try:
        # two `up`s on one data_dir would run two Redis servers on one socket path and one AOF (corrupting it)
        lock = hold(settings.data_dir)
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc)) from None
    server = None
    url = settings.redis_url
    if settings.embedded:
        server = EmbeddedRedis(settings.data_dir / "redis", unix=True)
        try:
            server.start()
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        url = server.url
        where = f"embedded, {server.socket} (AOF in {server.data_dir})"
    else:
        where = connect.parse(url).safe()
    fmt = os.environ.get("MARSAD_LOG_FORMAT") or settings.log_format
    logs = "stderr, " + ("JSON lines" if wants_json(fmt) else "readable lines (--log-format json for JSON)")
    env = {**os.environ, "MARSAD_CONFIG": str(settings.path), "MARSAD_REDIS_URL": url}
    console, sock, note = None, None, ""
    if settings.web.enabled:
        try:
            sock = web_server.bind(settings.web.host, settings.web.port)
            note = web_server.url_of(sock)
        except InvalidInput as exc:
            note = f"not started: {exc.reason}"  # the pipeline runs without it
    else:
        note = "off (web.enabled: false)"
    block = start_block(settings, where, "poll, article, alert", logs)
    click.echo("\n".join([*block[:-1], f"  console   {note}", block[-1]]), err=True)
    if sock is not None:
        sock.set_inheritable(True)
        console = Companion("console", [sys.executable, "-m", "workers.cli", "web", "--fd", str(sock.fileno())],
                            env, pass_fds=[sock.fileno()]).start()
    argv = [sys.executable, "-m", "workers.cli", "worker", "--beat", "-c", str(concurrency), "--quiet",
            "--loglevel", _level(loglevel)]
    try:
        code = Supervisor(argv, env).run()
    finally:
        if console is not None:
            console.stop()
        if server is not None:
            server.stop()
        lock.close()
    sys.exit(code)


@click.command()
@config_option
@click.option("-Q", "--queues", default="poll,article,alert", show_default=True, help="Queues to consume.")
@click.option("-c", "--concurrency", default=2, show_default=True, help="Worker processes.")
@click.option("--beat", is_flag=True, help="Also run beat inside this worker (one per cluster).")
@click.option("--quiet", is_flag=True, help="No Celery banner at start.")
@click.option("--events", is_flag=True, help="Send task events (what Flower shows).")
@LOGLEVEL
def worker(config: str | None, queues: str, concurrency: int, beat: bool, quiet: bool, events: bool,
           loglevel: str | None) -> None:
    """Run a worker against the shared redis_url (refuses to start on invalid config).

    If its queues hold work while it receives and finishes nothing for schedule.stall_after_s, it stops
    itself with exit status 75, for systemd, compose or `marsad up` to start a fresh one.
    """
    from workers.app import app, use_redis
    from workers.daemon import watchdog
    from workers.logging import keep_for_celery, wants_json
    from workers.runtime import preload

    settings = load(config)
    keep_for_celery()
    use_redis(settings.redis_url)
    preload(settings)
    quiet = quiet or wants_json(os.environ.get("MARSAD_LOG_FORMAT") or settings.log_format)
    app.worker_main(_worker_argv(queues, concurrency, beat, settings.data_dir, _level(loglevel), quiet, events))
    # worker_main drops the worker's exit status; the supervisor needs it (75 after a stall).
    sys.exit(watchdog.exit_status())


@click.command()
@config_option
@LOGLEVEL
def beat(config: str | None, loglevel: str | None) -> None:
    """Run the scheduler. A second beat never double-polls: each feed's poll is claimed in Redis."""
    from workers.app import app, use_redis
    from workers.logging import keep_for_celery

    settings = load(config)
    keep_for_celery()
    use_redis(settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "-l", _level(loglevel), "--schedule", str(settings.data_dir / "celerybeat-schedule")])


@click.command()
@config_option
def check(config: str | None) -> None:
    """Validate config, feeds, watchlists and gazetteer; print `file: field: message` per problem (exit 1)."""
    s = load(config)
    extra = "".join(f"; sink {k} not configured: {v}" for k, v in sorted(s.unconfigured_sinks.items()))
    click.echo(f"config OK: {s.path}: {counted(s)}{extra}")


@click.command()
@config_option
@click.option("--port", default=9108, show_default=True, help="Port of the /metrics endpoint.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but a loopback one needs $MARSAD_METRICS_PASSWORD (HTTP Basic).")
def metrics(config: str | None, port: int, host: str) -> None:
    """Serve Prometheus metrics (shared counters, histograms, queue depths, worker heartbeats) from Redis.

    With $MARSAD_METRICS_PASSWORD set, every scrape needs HTTP Basic credentials (user $MARSAD_METRICS_USER,
    default "prometheus"); without it, the endpoint listens on a loopback address only.
    """
    from prometheus_client import CollectorRegistry

    from workers.daemon import metrics_http
    from workers.daemon.metrics import RedisCollector

    settings = load(config)
    password = os.environ.get(metrics_http.PASSWORD_ENV) or None
    user = os.environ.get(metrics_http.USER_ENV) or "prometheus"
    try:
        metrics_http.check_bind(host, password)  # refused before Redis is asked for (server() checks again)
        registry = CollectorRegistry()
        registry.register(RedisCollector(require_redis(settings)))
        httpd = metrics_http.server(registry, host, port, user, password)
    except InvalidInput as exc:
        raise click.ClickException(exc.reason) from None
    auth = " (HTTP Basic)" if password else ""
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    click.echo(f"metrics on http://{shown}:{httpd.server_port}/metrics{auth}", err=True)
    httpd.serve_forever()
