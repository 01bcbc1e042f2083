"""Locks that hold across processes: PostgreSQL advisory locks, keyed by a name and a number.

Several bot instances on one database take one of these around each passenger's turn
(bot/turns.py), so that the passenger's updates are handled one at a time whichever
instance each reaches. On SQLite (one process: the demo, the tests) there is nothing to
take: the caller's own in-process lock is the whole story.

Each lock held is a session-level advisory lock on a connection of its own, from a pool kept
apart from the one the work uses: a turn that held a working connection while it waited for
another would let a full pool of waiting turns stop every one of them. The pool is asyncpg's
own, without SQLAlchemy: taking and giving back a lock through SQLAlchemy's pool and
statement layer cost 0.46 ms of CPU and 1.4 ms per turn, through asyncpg's 0.16 ms and
0.42 ms (loopback, a loaded 2-core machine). A lock is given back by the pool's reset of
the connection (``pg_advisory_unlock_all``), one round trip that cannot leave it held: a
connection whose reset fails or is cancelled is closed, and PostgreSQL ends its locks with
its session. The connections must reach PostgreSQL directly (or through a pooler in session
mode): advisory locks belong to a session.
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
# Connections over the turns an instance runs at once, for the jobs' turns.
SPARE_CONNECTIONS = 4
CLOSE_SECONDS = 10.0

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

    @property
    def shared(self) -> bool:
        """Whether the locks hold across processes (False on SQLite)."""
        return self._connect is not None

    @asynccontextmanager
    async def hold(self, key: int, *, wait: bool = True) -> AsyncIterator[bool]:
        """Hold the lock ``key`` for the block; yields whether it is held.

        With ``wait`` it waits up to ``wait_ms`` (WAIT_MS) for another holder to finish;
        without, it only takes a free lock. False: busy (without ``wait``) or still held
        after the wait.
        On SQLite it yields True at once.
        """
        if self._connect is None:
            yield True
            return
        pool = self._pool or await self._open()
        async with pool.acquire() as conn:  # given back: the reset unlocks
            if wait:
                try:
                    await conn.execute(_LOCK, key)
                    held = True
                except asyncpg.LockNotAvailableError:  # lock_timeout: the wait went by
                    held = False
            else:
                held = bool(await conn.fetchval(_TRY_LOCK, key))
            yield held

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    min_size=0, max_size=self._size, reset=_unlock_all,
                    server_settings={"lock_timeout": str(self._wait_ms),
                                     "application_name": "kassa-locks"},
                    **(self._connect or {}))
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CLOSE_SECONDS)
        except TimeoutError:  # a turn that does not end: its session ends here
            pool.terminate()


async def _unlock_all(conn: asyncpg.Connection) -> None:
    """The pool's reset of a connection given back: every advisory lock of its session."""
    await conn.execute("SELECT pg_advisory_unlock_all()")
