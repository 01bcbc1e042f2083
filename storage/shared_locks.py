"""Locks that hold across processes: PostgreSQL advisory locks, keyed by a name and a number.

Several bot instances on one database take one of these around each passenger's turn
(bot/turns.py), so that the passenger's updates are handled one at a time whichever
instance each reaches. On SQLite (one process: the demo, the tests) there is nothing to
take: the caller's own in-process lock is the whole story.

Each lock held is a session-level advisory lock on a connection of its own, from a pool kept
apart from the one the work uses: a turn that held a working connection while it waited for
another would let a full pool of waiting turns stop every one of them. (The turn's own read
and write of its person's row go through its lock's connection: storage/bot_state.py,
TurnRows.) The pool is asyncpg's own, without SQLAlchemy: taking and giving back a lock
through SQLAlchemy's pool and statement layer cost 0.46 ms of CPU and 1.4 ms per turn,
through asyncpg's 0.16 ms and 0.42 ms (loopback, a loaded 2-core machine). A lock is given
back by the pool's reset of the connection (``pg_advisory_unlock_all``), one round trip that
cannot leave it held: a connection whose reset fails or is cancelled is closed, and
PostgreSQL ends its locks with its session. A turn that ends with a write gives its lock
back in that write's round trip instead, once the write has committed, and says so
(``unlocked``): its reset is skipped. The connections must reach PostgreSQL directly (or
through a pooler in session mode): advisory locks belong to a session.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

from storage.database import is_sqlite

# How long a turn waits for the same passenger's turn on another instance. A turn is one
# update's handling, milliseconds usually; a wait this long means that instance is stuck,
# and the caller goes on without the lock (the state's compare-and-set still keeps the
# newer copy) rather than leave the passenger with no answer.
WAIT_MS = 10_000
# Connections over the turns an instance runs at once, for the jobs' turns and the
# webhook's record of an update that is nobody's turn (a moment's use each; the others are
# recorded in their turn's lock: bot/turns.py).
SPARE_CONNECTIONS = 4
CLOSE_SECONDS = 10.0

# What is committed on these connections is a turn's bookkeeping, never money or seats: the
# record of an update's id and the person's conversation state (storage/bot_state.py). Two
# such commits per update each waited for their WAL flush, and on a 2-core machine shared
# with PostgreSQL that flush cost more than any statement of the update
# (bench/conversation.py: 0.28-0.30 -> 0.31-0.34 of the echo bot). Without the wait, a
# crash of PostgreSQL itself (not of an instance) can forget the last fraction of a second
# of them: a passenger then finds their conversation a step back, and an update whose
# record is forgotten was not answered yet, so Telegram sends it again. Everything else
# commits synchronously, and any such commit flushes these ones with it (the WAL is one
# sequence): once a hold or a payment made in a turn is durable, so is the record of the
# update that made it. What they write is seen by every other connection at once either way.
TURN_COMMITS = "off"

_LOCK = "SELECT pg_advisory_lock($1)"
_TRY_LOCK = "SELECT pg_try_advisory_lock($1)"


def lock_key(name: str, number: int) -> int:
    """The advisory lock key (a signed 64-bit integer) of ``number`` in ``name``'s space:
    a hash, so that Telegram's ids (up to 52 bits, negative for groups) of different spaces
    never share a key in practice; a collision would only make two turns wait in line."""
    digest = hashlib.blake2b(f"{name}:{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SharedLocks:
    """Advisory locks on the database at ``url``; none to take on SQLite (or with no url)."""

    def __init__(self, url: str | None, *, connections: int, wait_ms: int = WAIT_MS) -> None:
        self._connect: dict[str, Any] | None = None
        if url is not None and not is_sqlite(url):
            # SQLAlchemy's reading of the URL (host, port, user, database, ssl...), so the
            # locks reach the database the work does.
            _args, self._connect = PGDialect_asyncpg().create_connect_args(make_url(url))
        self._size = connections + SPARE_CONNECTIONS
        self._wait_ms = wait_ms
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        # The connections (by server process id) lent for a block that takes no lock.
        self._lockless: set[int] = set()

    @property
    def shared(self) -> bool:
        """Whether the locks hold across processes (False on SQLite)."""
        return self._connect is not None

    @asynccontextmanager
    async def connection(self, *, locking: bool = True) -> AsyncIterator[asyncpg.Connection | None]:
        """A connection of the locks' pool for the block (None on SQLite): every advisory
        lock taken on it is given back when the block ends, by the pool's reset. A turn
        takes its lock on it and reads and writes its person's row there too
        (storage/bot_state.py, TurnRows), without SQLAlchemy.

        Not ``locking``: for a block that takes no lock (the webhook's record of an
        update that is nobody's turn, storage/webhook_updates.py), given back without the
        reset's round trip;
        nor is one whose block said it gave its locks back itself (``unlocked``).
        """
        if self._connect is None:
            yield None
            return
        pool = self._pool or await self._open()
        server_pid = None
        try:
            async with pool.acquire() as conn:  # given back: the reset unlocks
                server_pid = conn.get_server_pid()
                if not locking:
                    self._lockless.add(server_pid)
                yield conn
        finally:
            # After the reset, whether it ran or not (a connection closed has none): a
            # new connection given this process id later is unlocked as any other.
            if server_pid is not None:
                self._lockless.discard(server_pid)

    def unlocked(self, conn: asyncpg.Connection) -> None:
        """The block's own last statement gave back every lock of ``conn`` (one of
        connection()): given back, it is not unlocked again. Nothing may lock on it after."""
        self._lockless.add(conn.get_server_pid())

    @asynccontextmanager
    async def hold(self, key: int, *, wait: bool = True) -> AsyncIterator[bool]:
        """Hold the lock ``key`` for the block; yields whether it is held.

        With ``wait`` it waits up to ``wait_ms`` (WAIT_MS) for another holder to finish;
        without, it only takes a free lock. False: busy (without ``wait``) or still held
        after the wait.
        On SQLite it yields True at once.
        """
        async with self.connection() as conn:
            yield True if conn is None else await take(conn, key, wait=wait)

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    min_size=0, max_size=self._size, reset=self._unlock_all,
                    server_settings={"lock_timeout": str(self._wait_ms),
                                     "synchronous_commit": TURN_COMMITS,
                                     "application_name": "kassa-locks"},
                    **(self._connect or {}))
        return self._pool

    async def _unlock_all(self, conn: asyncpg.Connection) -> None:
        """The pool's reset of a connection given back: every advisory lock of its session
        (unless it was lent for a block that takes none)."""
        if conn.get_server_pid() not in self._lockless:
            await conn.execute("SELECT pg_advisory_unlock_all()")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CLOSE_SECONDS)
        except TimeoutError:  # a turn that does not end: its session ends here
            pool.terminate()


async def take(conn: asyncpg.Connection, key: int, *, wait: bool = True) -> bool:
    """Take the lock ``key`` on ``conn`` (one of SharedLocks.connection()); whether it is
    held, as SharedLocks.hold says."""
    if wait:
        try:
            await conn.execute(_LOCK, key)
        except asyncpg.LockNotAvailableError:  # lock_timeout: the wait went by
            return False
        return True
    return bool(await conn.fetchval(_TRY_LOCK, key))
