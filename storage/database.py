"""Engine creation for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from booking.ports import LockTimeout
from booking.read_memo import forget_reads

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
    """An engine set up for Kassa's transactions on either backend.

    On PostgreSQL ``pool_size`` connections serve steady load and as many again a peak,
    as before; but every connection, once opened, is kept. A pool of ``pool_size`` plus
    as many "overflow" closed the extra ones whenever a lull left more than ``pool_size``
    idle, and opened them again at the next burst: a new connection costs about 4 ms of
    this process's CPU and 15 ms of PostgreSQL's (a backend forked, its caches and
    Kassa's prepared statements built again), and the booking API's bursts did that 13-16
    times a second under bench/api.py (a hold costs about 0.7 ms of each).
    """
    if is_sqlite(url):
        busy_ms = lock_timeout_ms or SQLITE_BUSY_TIMEOUT_MS
        return _sqlite_engine(url, pool_size=pool_size, echo=echo, busy_ms=busy_ms)
    return create_async_engine(
        url,
        echo=echo,
        pool_size=2 * pool_size,
        max_overflow=0,
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

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, _record: Any, _error: Any) -> None:
        # A task cancelled while its query runs makes SQLAlchemy drop the connection (it
        # cannot know the connection's state) without rolling back or closing the cursor.
        # Python's sqlite3 then closes a connection whose SELECT was not read to the end
        # only in name: it lives on, with its transaction and the database's write lock,
        # until that cursor is garbage collected, and the cancelled task's traceback keeps
        # it. Every writer meanwhile waited out the busy timeout and heard "busy" (the
        # cancellations of test_cancelled_holds_leave_no_open_transaction left the lock
        # held in 13 runs of 100; tests/test_unit_of_work.py cancels at each statement).
        # aiosqlite runs one call at a time, in order, so this rollback comes before the
        # close, even if the wait for it is cancelled in turn.
        with suppress(Exception):  # e.g. outside a greenlet, where nothing can be awaited
            dbapi_connection.rollback()

    _sqlite_writers[engine.sync_engine] = _WriterQueue(asyncio.Lock(), busy_ms / 1000)
    return engine


class _WriterQueue:
    """SQLite admits one writer at a time. Writers of this process wait their turn here, in
    order, and are woken the moment it comes; SQLite's own busy handler polls with growing
    sleeps, which under load turns a few milliseconds of waiting into seconds. The busy
    timeout still guards against writers in other processes."""

    def __init__(self, lock: asyncio.Lock, timeout_s: float) -> None:
        self.lock = lock
        self.timeout_s = timeout_s


_sqlite_writers: weakref.WeakKeyDictionary[Any, _WriterQueue] = weakref.WeakKeyDictionary()


async def wait_for_write_turn(engine: AsyncEngine) -> asyncio.Lock | None:
    """Take this process's writer turn on a SQLite engine (None elsewhere); release it after."""
    queue = _sqlite_writers.get(engine.sync_engine)
    if queue is None:
        return None
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for runs the acquire in a task of
    # its own, and a cancellation that arrives as the turn does is swallowed: the
    # cancelled writer goes on to write (tests/test_unit_of_work.py). Acquired in this
    # task, a turn is either ours or passed on by the lock itself.
    try:
        async with asyncio.timeout(queue.timeout_s):
            await queue.lock.acquire()
    except TimeoutError as error:
        raise LockTimeout("waited too long for the SQLite write lock") from error
    return queue.lock


def without_transactions(engine: AsyncEngine) -> AsyncEngine:
    """The engine (same pool) for work that is a single statement: a read, or an insert or
    upsert that is atomic alone. PostgreSQL then runs it without BEGIN and COMMIT around it,
    which were two of its three round trips."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def single_write(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for one writing statement: SQLite's writer turn and transaction as
    write_transaction takes them; on PostgreSQL no transaction around the statement."""
    if engine.dialect.name == "sqlite":
        async with write_transaction(engine) as conn:
            yield conn
        return
    async with without_transactions(engine).connect() as conn:
        yield conn


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """``engine.begin()`` for a transaction that writes, taking SQLite's write lock up front.
    A scope's read memo (booking/read_memo.py) forgets what it read, as for a writing unit
    of work (a timetable import changes trips)."""
    forget_reads()
    turn = await wait_for_write_turn(engine)
    try:
        async with engine.connect() as conn:
            if turn is not None:
                conn = await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                yield conn
    finally:
        if turn is not None:
            turn.release()
