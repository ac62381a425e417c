"""Alembic's entry point: runs the archive's migrations on the connection `workers.archive.engine` hands in."""

from __future__ import annotations

from alembic import context

from workers.archive.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the archive's migrations run through workers.archive.engine.migrate()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
