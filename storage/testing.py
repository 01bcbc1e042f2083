"""Throwaway databases for tests and benchmarks."""

from __future__ import annotations

import os

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import metadata


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def create_postgres_database(admin_url: str, suffix: str | None = None) -> str:
    """Create a fresh database beside ``admin_url``'s and return its URL.

    Each test session gets its own database, so runs on one server do not collide.
    """
    base = make_url(admin_url)
    name = f"{base.database}_{suffix or os.getpid()}"
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Delete every row but keep the schema (faster than migrating again)."""
    names = [t.name for t in metadata.sorted_tables]
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(names):
                await conn.execute(text(f"DELETE FROM {name}"))
