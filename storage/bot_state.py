"""The bot's own state in ``bot_state``: (kind, key) -> JSON and a version, one row each.

A plain repository over one table, with no idea of who uses it: bot/persistence.py keeps
python-telegram-bot's user_data, chat_data, bot_data and conversations here. Every call is
one statement and reads or writes the database as it is now (nothing is cached), so several
bot processes on one database see each other's writes.

Writes are compare-and-set. Every write changes the row's version, and names the version it
was based on (None: "there was no row"); a row that has moved on since is left alone and the
write reports it, so an older copy never replaces a newer one, whichever process holds it.

A turn (bot/turns.py) reads and writes its person's row through TurnRows instead: raw
asyncpg on the connection that holds the person's advisory lock (storage/shared_locks.py),
the lock and the read in one round trip, the write and the unlock in another, with the same
versions and the same compare-and-set as BotStateStore. In webhook mode the first round trip
records the update too (storage/webhook_updates.py), and a replay stops there.

Only plain JSON is stored (str keys; str, int, float, bool, lists and dicts as values).
Anything else is refused with a TypeError when it is written, rather than coming back
different (a tuple as a list, an int key as a str) the next time it is read. ``None`` is not
stored either: a missing row is how "nothing" reads back, so it is deleted instead.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
import orjson
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t
from storage.database import single_write, without_transactions
from storage.webhook_updates import Delivery

# bot_state.kind is a String(32); longer kinds would fail on PostgreSQL only.
KIND_LENGTH: int = t.bot_state.c.kind.type.length  # type: ignore[attr-defined]


class Stored(NamedTuple):
    """One row as read: its data and the version that data is."""

    data: Any
    version: int


_c = t.bot_state.c
_ROWS_OF_KIND = select(_c.key, _c.data, _c.version).where(_c.kind == bindparam("kind"))
_ONE_ROW = select(_c.data, _c.version).where(_c.kind == bindparam("kind"),
                                             _c.key == bindparam("key"))
_REPLACE = (
    update(t.bot_state)
    .where(_c.kind == bindparam("b_kind"), _c.key == bindparam("b_key"),
           _c.version == bindparam("b_expected"))
    .values(data=bindparam("b_data", type_=_c.data.type), version=bindparam("b_version"),
            updated_at=bindparam("b_at", type_=_c.updated_at.type))
)
_DELETE_ROW = delete(t.bot_state).where(_c.kind == bindparam("kind"),
                                        _c.key == bindparam("key"),
                                        _c.version == bindparam("expected"))


def _first_version() -> int:
    # A new row starts at a random version rather than 1: a process that knew a row
    # another process has since deleted and written anew cannot mistake the new row for
    # the one it read (equal versions are what a write is checked against).
    return secrets.randbelow(2**52) + 1


class BotStateStore:
    """Rows of ``bot_state`` by kind and key."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = without_transactions(engine)
        insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # Built once: SQLAlchemy derives a statement's cache key from the object, and one
        # built per call cost more CPU than its round trip (a save after every update).
        self._create = insert(t.bot_state).on_conflict_do_nothing(
            index_elements=[_c.kind, _c.key])

    async def load(self, kind: str) -> dict[str, Stored]:
        """Every row of one kind, key -> (data, version); each call parses fresh objects."""
        async with self._reads.connect() as conn:
            rows = await conn.execute(_ROWS_OF_KIND, {"kind": kind})
            return {key: Stored(data, version) for key, data, version in rows}

    async def load_one(self, kind: str, key: str) -> Stored | None:
        """One row, or None when there is no such row."""
        async with self._reads.connect() as conn:
            row = (await conn.execute(_ONE_ROW, {"kind": kind, "key": key})).first()
            return Stored(row.data, row.version) if row is not None else None

    async def save(self, kind: str, key: str, data: Any, *, based_on: int | None,
                   at: datetime | None = None, checked: bytes | None = None) -> int | None:
        """Write one row if it is still at version ``based_on`` (None: if there is no row).

        Returns the row's new version, or None when the row had moved on (or been made) by
        another writer, which is then left as it is. Data that JSON would change is refused
        (TypeError), unless the caller ``checked`` it: the text plain_json made of it.
        """
        _check(kind, key, data, checked)
        at = at or t.utcnow()
        async with single_write(self._engine) as conn:
            if based_on is None:
                version = _first_version()
                result = await conn.execute(self._create, {
                    "kind": kind, "key": key, "data": data, "version": version,
                    "updated_at": at})
            else:
                version = based_on + 1
                result = await conn.execute(_REPLACE, {
                    "b_kind": kind, "b_key": key, "b_expected": based_on, "b_data": data,
                    "b_version": version, "b_at": at})
        return version if result.rowcount == 1 else None

    async def delete(self, kind: str, key: str, *, based_on: int) -> bool:
        """Remove one row if it is still at version ``based_on``; False if it had moved on
        or is not there."""
        async with single_write(self._engine) as conn:
            result = await conn.execute(_DELETE_ROW, {"kind": kind, "key": key,
                                                      "expected": based_on})
        return bool(result.rowcount == 1)

    async def keys_written_since(self, kind: str, since: datetime,
                                 path: tuple[str, ...], value: int) -> list[str]:
        """Keys of the rows of ``kind`` written at ``since`` or later whose data holds the
        integer ``value`` at ``path`` (a path of object keys), oldest write first."""
        query = (select(_c.key)
                 .where(_c.kind == kind, _c.updated_at >= since,
                        _c.data[path].as_integer() == value)
                 .order_by(_c.updated_at))
        async with self._reads.connect() as conn:
            return list((await conn.scalars(query)).all())


# The turn's statements, on a raw asyncpg connection in autocommit: each is its own
# transaction. The lock and the read are one call of migration 0014's function, whose read
# sees what the lock's last holder wrote; the write is one call of its procedure, which
# commits it before it gives the locks back.
_LOCK_AND_LOAD = "SELECT locked, data, version FROM bot_state_lock_and_load($1, $2, $3, $4)"
# Migration 0015's: the update's id recorded first; a replay is neither locked nor read.
_RECORD_LOCK_AND_LOAD = ("SELECT replayed, locked, data, version "
                         "FROM bot_state_record_lock_and_load($1, $2, $3, $4, $5, $6)")
_SAVE_AND_UNLOCK = "CALL bot_state_save_and_unlock($1, $2, $3, $4, $5, $6)"


class Locked(NamedTuple):
    """A turn's start: whether the lock is held and, if so, the row then (None: no row)."""

    held: bool
    row: Stored | None


class TurnRows:
    """One person's turn on a raw asyncpg connection (PostgreSQL), in two round trips: take
    their advisory lock and read their row; write the row back, compare-and-set, and give
    the lock back. The unlock comes after the write has committed (the procedure commits
    between them): an unlock in the write's own transaction would let the lock's next
    holder read the old row before the write committed."""

    def __init__(self, conn: asyncpg.Connection, *, recording: Delivery | None = None) -> None:
        self.connection = conn
        self.unlocked = False  # by save: the connection holds no advisory lock now
        # The webhook update whose id the lock's round trip records (the turn is its
        # handling), until it has; replayed: it had been recorded before.
        self.recording = recording
        self.replayed = False

    async def lock_and_load(self, lock_key: int, kind: str, key: str, *,
                            wait: bool = True) -> Locked:
        """Take the advisory lock ``lock_key``, then read the row as it is once the lock is
        held. With ``wait``, a lock still busy after the connection's lock_timeout is not
        held (and nothing is read); without, only a free lock is taken.

        With a ``recording`` not yet made, the update's id is recorded first, in the same
        round trip and committed with it: if it was there already (``replayed``), nothing
        is locked or read."""
        if self.recording is not None:
            return await self._record_lock_and_load(self.recording, lock_key, kind, key,
                                                    wait=wait)
        try:
            locked, text, version = await self.connection.fetchrow(
                _LOCK_AND_LOAD, lock_key, wait, kind, key)
        except asyncpg.LockNotAvailableError:  # lock_timeout: the wait went by
            return Locked(False, None)
        return _locked(locked, text, version)

    async def _record_lock_and_load(self, delivery: Delivery, lock_key: int, kind: str,
                                    key: str, *, wait: bool) -> Locked:
        # The function catches lock_timeout itself, so that the record stays.
        replayed, locked, text, version = await self.connection.fetchrow(
            _RECORD_LOCK_AND_LOAD, delivery.update_id, delivery.received_at, lock_key, wait,
            kind, key)
        self.recording = None  # recorded, by this call or an earlier delivery
        self.replayed = replayed
        return _locked(locked, text, version)
    async def save(self, kind: str, key: str, data: Any, *, based_on: int | None,
                   at: datetime | None = None, checked: bytes | None = None) -> int | None:
        """As BotStateStore.save, on this connection; then, the write committed (or
        refused), every advisory lock of the connection is given back: the turn's last
        statement."""
        text = _check(kind, key, data, checked)
        version = _first_version() if based_on is None else based_on + 1
        # The canonical text (sorted keys, no spaces): JSON either way, and nothing reads
        # the stored text but a JSON parser.
        written = await self.connection.fetchval(
            _SAVE_AND_UNLOCK, kind, key, text.decode(), at or t.utcnow(), version, based_on)
        self.unlocked = True
        return version if written else None


def _locked(locked: bool, text: str | None, version: Any) -> Locked:
    if not locked:
        return Locked(False, None)
    return Locked(True, Stored(orjson.loads(text), version) if text is not None else None)


def _check(kind: str, key: str, data: Any, checked: bytes | None = None) -> bytes:
    """``data``'s canonical text, once it is known to come back from JSON as it is (what
    plain_json made of it already, when ``checked``)."""
    if len(kind) > KIND_LENGTH:
        raise ValueError(f"kind {kind!r} is longer than {KIND_LENGTH} characters")
    return checked if checked is not None else plain_json(data, f"{kind} {key!r}".strip())


def canonical_json(data: Any) -> bytes:
    """One text per value (sorted keys), so equal data compares equal as text. (orjson:
    made for every saved turn, twice; NaN comes out as null, which plain_json refuses.)"""
    # Dates and dataclasses are refused (orjson would write them as text), not changed.
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                        | orjson.OPT_PASSTHROUGH_DATACLASS)


def plain_json(data: Any, what: str) -> bytes:
    """``data`` as canonical JSON text, if it comes back from JSON exactly as it is."""
    if data is None:
        raise TypeError(f"{what} is None: delete the row instead")
    try:
        text = canonical_json(data)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} cannot be stored as JSON: {error}") from error
    if orjson.loads(text) != data:
        raise TypeError(
            f"{what} would not come back the same from JSON: "
            "use str keys, lists rather than tuples, and finite numbers"
        )
    return text
