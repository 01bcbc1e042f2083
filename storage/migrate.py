"""Schema migrations through Alembic, configured in code (no alembic.ini to find)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; call where no event loop runs."""
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` from async code (Alembic runs its own loop)."""
    await asyncio.to_thread(upgrade_sync, url, revision)


def downgrade_sync(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


SchemaStatus = Literal["current", "behind", "ahead"]


async def current_revisions(url: str) -> set[str]:
    """The migrations the database at ``url`` is at; none for a database without Kassa's
    schema yet."""
    from alembic.runtime.migration import MigrationContext

    from storage.database import create_engine

    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: set(MigrationContext.configure(sync).get_current_heads()))
    finally:
        await engine.dispose()


async def schema_status(url: str) -> SchemaStatus:
    """The database's schema beside this code's migrations: the newest, older (run
    ``kassa db upgrade``), or migrated by a newer release than this one (a rollout under
    way: this instance is the one to replace)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(url))
    heads = set(scripts.get_heads())
    current = await current_revisions(url)
    if current == heads:
        return "current"
    known = {script.revision for script in scripts.walk_revisions()}
    return "behind" if current <= known else "ahead"
