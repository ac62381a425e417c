"""The `marsad web` command (the console) and `marsad archive` (migrate, prune, size of the archive)."""

from __future__ import annotations

import socket
import time

import click

from feeds.errors import InvalidInput
from workers.archive.store import Archive
from workers.cli import common
from workers.cli.common import config_option
from workers.config.load import Settings


@click.command()
@config_option
@click.option("--host", default=None, help="Listen address (default: web.host in marsad.yaml, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default: web.port, 8470; 0 = any free port, printed at start).")
@click.option("--fd", type=int, default=None, hidden=True, help="A socket already bound (by `marsad up`).")
def web(config: str | None, host: str | None, port: int | None, fd: int | None) -> None:
    """Serve the console: stories, search, trends, feeds, alerts and watches over the archive.

    Without web.user/web.password (or web.proxy_user_header) it listens on 127.0.0.1 only and refuses any
    other address. `marsad up` starts it for you."""
    from workers.web import server

    s = common.load(config)
    cfg = s.web.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    s.web = cfg
    try:
        server.check_bind(cfg)
        sock = socket.socket(fileno=fd) if fd is not None else server.bind(cfg.host, cfg.port)
    except InvalidInput as exc:
        raise click.ClickException(exc.reason) from None
    if fd is None:
        click.echo(f"console   {server.url_of(sock)}", err=True)
    server.serve(s, sock)


@click.group()
def archive() -> None:
    """The archive database (archive_url in marsad.yaml): its schema, retention and size."""


def _open(config: str | None, migrate: bool = True) -> tuple[Archive, Settings]:
    s = common.load(config)
    if s.archive_url is None:
        raise click.ClickException("the archive is off (archive_url: off)")
    return Archive(s.archive_url, migrate=migrate), s


@archive.command(name="upgrade")
@config_option
def archive_upgrade(config: str | None) -> None:
    """Create the archive or bring its schema to this version (workers do it themselves at start)."""
    from workers.archive import engine

    ar, _ = _open(config, migrate=False)
    changed = engine.migrate(ar.engine)
    click.echo(f"archive schema {'upgraded to' if changed else 'already at'} {engine.head()}")


@archive.command(name="prune")
@config_option
def archive_prune(config: str | None) -> None:
    """Delete what is older than archive_keep now (beat does it every hour)."""
    from workers.archive import queries

    ar, s = _open(config)
    before = queries.size(ar)
    while ar.prune(time.time() - s.archive_keep_s) > 0:
        pass
    after = queries.size(ar)
    gone = ", ".join(f"{before[k] - after[k]:,} {k}" for k in ("articles", "stories", "alerts") if k in before)
    click.echo(f"deleted {gone} older than {s.archive_keep_s / 86400:g} days")


@archive.command(name="stats")
@config_option
def archive_stats(config: str | None) -> None:
    """Rows in the archive."""
    from workers.archive import queries

    ar, _ = _open(config)
    for name, n in queries.size(ar).items():
        click.echo(f"{name:10} {n:,}")
