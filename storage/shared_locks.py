"""Locks that hold across processes: PostgreSQL advisory locks, keyed by a name and a number.

Several bot instances on one database take one of these around each passenger's turn
(bot/turns.py), so that the passenger's updates are handled one at a time whichever
instance each reaches. On SQLite (one process: the demo, the tests) there is nothing to
take: the caller's own in-process lock is the whole story.

Each lock held is a session-level advisory lock on a connection of its own, from a pool kept
apart from the one the work uses: a turn that held a working connection while it waited for
another would let a full pool of waiting turns stop every one of them. The connections run
in autocommit, so taking and giving back a lock is one round trip each; a connection that
fails or is cancelled while it may hold a lock is thrown away, and PostgreSQL gives the
lock back as its session ends. They must reach PostgreSQL directly (or through a pooler in
session mode): advisory locks belong to a session.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.database import is_sqlite
from storage.errors import lock_timeout

log = logging.getLogger(__name__)

# How long a turn waits for the same passenger's turn on another instance. A turn is one
# update's handling, milliseconds usually; a wait this long means that instance is stuck,
# and the caller goes on without the lock (the state's compare-and-set still keeps the
# newer copy) rather than leave the passenger with no answer.
WAIT_MS = 10_000

_LOCK = select(func.pg_advisory_lock(bindparam("key")))
_TRY_LOCK = select(func.pg_try_advisory_lock(bindparam("key")))
_UNLOCK = select(func.pg_advisory_unlock(bindparam("key")))


def lock_key(name: str, number: int) -> int:
    """The advisory lock key (a signed 64-bit integer) of ``number`` in ``name``'s space:
    a hash, so that Telegram's ids (up to 52 bits, negative for groups) of different spaces
    never share a key in practice; a collision would only make two turns wait in line."""
    digest = hashlib.blake2b(f"{name}:{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SharedLocks:
    """Advisory locks on the database at ``url``; none to take on SQLite (or with no url)."""

    def __init__(self, url: str | None, *, connections: int) -> None:
        self._engine: AsyncEngine | None = None
        if url is not None and not is_sqlite(url):
            self._engine = create_async_engine(
                url,
                pool_size=connections,
                # A few over the turns an instance runs at once, for the jobs' turns.
                max_overflow=4,
                isolation_level="AUTOCOMMIT",
                connect_args={"server_settings": {
                    "lock_timeout": str(WAIT_MS),
                    "application_name": "kassa-locks",
                }},
            )

    @property
    def shared(self) -> bool:
        """Whether the locks hold across processes (False on SQLite)."""
        return self._engine is not None

    @asynccontextmanager
    async def hold(self, key: int, *, wait: bool = True) -> AsyncIterator[bool]:
        """Hold the lock ``key`` for the block; yields whether it is held.

        With ``wait`` it waits up to WAIT_MS for another holder to finish; without, it only
        takes a free lock. False: busy (without ``wait``) or still held after WAIT_MS.
        On SQLite it yields True at once.
        """
        if self._engine is None:
            yield True
            return
        conn = await self._engine.connect()
        try:
            held = await _take(conn, key, wait=wait)
        except BaseException:
            await _discard(conn)
            raise
        try:
            yield held
        finally:
            await _give_back(conn, key, held)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


async def _take(conn: AsyncConnection, key: int, *, wait: bool) -> bool:
    if not wait:
        return bool(await conn.scalar(_TRY_LOCK, {"key": key}))
    try:
        await conn.execute(_LOCK, {"key": key})
    except DBAPIError as error:
        if lock_timeout(error) is None:
            raise
        return False
    return True


async def _give_back(conn: AsyncConnection, key: int, held: bool) -> None:
    if not held:
        await conn.close()
        return
    try:
        released = await conn.scalar(_UNLOCK, {"key": key})
    except BaseException:
        await _discard(conn)
        raise
    if not released:  # the session was not the one holding it: never expected
        log.error("advisory lock %d was not held when given back", key)
        await _discard(conn)
        return
    await conn.close()


async def _discard(conn: AsyncConnection) -> None:
    """Close the connection's session for good: whatever locks it held go with it."""
    try:
        await conn.invalidate()
    finally:
        await conn.close()
