"""What the benchmarks share: a throwaway database and percentiles."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.database import is_sqlite
from storage.migrate import upgrade
from storage.testing import create_postgres_database, drop_postgres_database

DEFAULT_URL = "sqlite+aiosqlite:///kassa.db"


def database_url_from_env() -> str:
    return os.environ.get("KASSA_DATABASE_URL", DEFAULT_URL)


@asynccontextmanager
async def fresh_database(url: str, name: str) -> AsyncIterator[str]:
    """A migrated, empty database beside the one ``url`` names, dropped afterwards.

    The benchmark never touches the data of the database it was pointed at.
    """
    if is_sqlite(url):
        folder = tempfile.mkdtemp(prefix=f"kassa-{name}-")
        fresh = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        try:
            await upgrade(fresh)
            yield fresh
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        return
    fresh = await create_postgres_database(url, suffix=f"{name}_{os.getpid()}")
    try:
        await upgrade(fresh)
        yield fresh
    finally:
        await drop_postgres_database(url, fresh)


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` (0..1) of the values fall (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
