"""Alembic environment: runs migrations on the async engine Kassa uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.database import create_engine
from storage.shared_locks import lock_key
from storage.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two `kassa db upgrade` at once (two instances' start-up scripts): the second
            # waits for the first's commit, then finds the schema current. Without it both
            # created the version table, and one failed on its duplicate key.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": lock_key("kassa-migrations", 0)})
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:  # a refused migration (a newer schema's revision) leaves no connection open
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `kassa db upgrade`")
asyncio.run(_run_async())
