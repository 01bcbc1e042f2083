"""Engine creation for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

# A lock wait longer than this becomes LockTimeout, then a bounded retry, then "busy":
# never a hang behind a stuck transaction.
LOCK_TIMEOUT_MS = 2000
SQLITE_BUSY_TIMEOUT_MS = 5000

# Execution option that marks a connection's transaction as a writing one.
WRITE_OPTION = "kassa_write"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, lock_timeout_ms: int | None = None
) -> AsyncEngine:
    """An engine set up for Kassa's transactions on either backend."""
    if is_sqlite(url):
        busy_ms = lock_timeout_ms or SQLITE_BUSY_TIMEOUT_MS
        return _sqlite_engine(url, pool_size=pool_size, echo=echo, busy_ms=busy_ms)
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={
            "server_settings": {
                "lock_timeout": str(lock_timeout_ms or LOCK_TIMEOUT_MS),
                "idle_in_transaction_session_timeout": "60000",
                "application_name": "kassa",
            }
        },
    )


def _sqlite_engine(url: str, *, pool_size: int, echo: bool, busy_ms: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size * 4,
        connect_args={"timeout": busy_ms / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's begin event below issue BEGIN itself, so that a writing
        # transaction can take SQLite's write lock up front (BEGIN IMMEDIATE): a
        # deferred transaction that reads, then writes, fails instead of waiting.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
