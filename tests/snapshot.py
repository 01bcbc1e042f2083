"""Every row of every table, to show that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import metadata


async def database_snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    """Each table's rows, in a stable order (small test databases only)."""
    snapshot: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows: list[Any] = list(await conn.execute(select(table)))
            snapshot[table.name] = sorted(repr(tuple(row)) for row in rows)
    return snapshot
