"""Opening the archive database: URLs, SQLite's one-writer rules (WAL, BEGIN IMMEDIATE), migrations under a lock."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from feeds.errors import InvalidInput
from workers.logging import get_logger

log = get_logger("marsad.archive")
# Alembic's own INFO lines ("Context impl SQLiteImpl.") would open every command's output; ours says it once.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a writer waits for SQLite's one write lock before the statement fails (and the article is kept
# in the backlog): several workers' transactions take milliseconds each, so 30 s is a stuck writer.
SQLITE_BUSY_MS = 30_000
# PostgreSQL advisory lock key that serialises migrations between processes ("marsad" in ASCII).
PG_MIGRATE_LOCK = 0x6D61727361640001


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'archive.db'}"


def check_url(url: str) -> str:
    """The URL if it names a database the archive supports, else InvalidInput naming what is wrong."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise InvalidInput(f"archive_url: not a database URL: {exc}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"archive_url: {parsed.get_backend_name()!r}: use sqlite:///PATH or postgresql://…")
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() not in ("psycopg", "psycopg2"):
        raise InvalidInput("archive_url: use postgresql:// or postgresql+psycopg://")
    return url


def _sqlite_pragmas(dbapi: Any, _: Any) -> None:
    # The driver's own transaction handling is switched off: the "begin" hook below opens every writing
    # transaction with BEGIN IMMEDIATE, which takes the write lock up front, so two workers never both read and
    # then deadlock trying to upgrade to writing (SQLITE_BUSY at commit, which busy_timeout cannot wait out).
    # Reads (the console, search, backfill) begin deferred and take no write lock.
    dbapi.isolation_level = None
    cur = dbapi.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the web console) never block the writer, nor it them
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across a process crash, one fsync per checkpoint
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.close()


# The execution option that marks a connection as a writer's (`writer(engine)`).
WRITE = "marsad_write"


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def writer(engine: sa.Engine) -> sa.Engine:
    """The engine as writers use it: on SQLite their transactions take the write lock when they begin."""
    return engine.execution_options(**{WRITE: True})


def create(url: str) -> sa.Engine:
    """An engine for the archive URL (postgresql:// is driven by psycopg 3)."""
    u = sa.engine.make_url(check_url(url))
    if u.get_backend_name() == "postgresql" and u.get_driver_name() == "psycopg2":
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(u, pool_pre_ping=True, pool_size=2, max_overflow=4)


def _alembic(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        return rev


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        db = engine.url.database or ""
        if not db or db == ":memory:":
            yield
            return
        with open(db + ".migrate.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": PG_MIGRATE_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_MIGRATE_LOCK})
            conn.commit()


def migrate(engine: sa.Engine) -> bool:
    """Bring the schema to the head revision; True if it changed. Safe when many processes start at once."""
    if current(engine) == head():
        return False
    with _migration_lock(engine):
        if current(engine) == head():
            return False  # another process migrated while this one waited
        before = current(engine)
        with writer(engine).begin() as conn:
            command.upgrade(_alembic(conn), "head")
    log.info("archive_migrated", dialect=engine.dialect.name, revision=head(), previous=before)
    return True


