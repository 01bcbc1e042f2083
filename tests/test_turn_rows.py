"""A turn's database work on PostgreSQL through the lock's own connection (raw asyncpg): the
lock and the read in one round trip that still reads what the lock's last holder wrote, the
compare-and-set write, the hand-over of the row read to PTB's refresh, the webhook's record
of an update (on its own, or in the lock's round trip), and the migrations that make the
functions."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.persistence import DatabasePersistence
from storage.bot_state import BotStateStore, Locked, Stored, TurnRows
from storage.migrate import downgrade_sync, upgrade_sync
from storage.shared_locks import SharedLocks, lock_key
from storage.testing import create_postgres_database, drop_postgres_database
from storage.webhook_updates import Delivery, first_delivery_on
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.postgres_only

MUST_HAPPEN_SECONDS = 20.0
POLL_SECONDS = 0.01
KEY = lock_key("test", 42)
FLOW = {"flow": {"step": "trip", "names": ["Ann", "Bob"], "price": 12.5, "paid": False},
        "language": "ru", "город": "Москва"}


@pytest.fixture
async def locks(postgres_engine: AsyncEngine, postgres_url: str) -> AsyncIterator[SharedLocks]:
    """A lock pool (the turns' connections) on an empty database."""
    locks = SharedLocks(postgres_url, connections=2)
    yield locks
    await locks.close()


async def _waits_for_a_lock(conn: asyncpg.Connection, server_pid: int) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) > 0 FROM pg_locks WHERE pid = $1 AND NOT granted", server_pid))


async def _holder_writes_then_unlocks(locks: SharedLocks, engine: AsyncEngine, reader_sql: str,
                                      reader_args: tuple[object, ...]) -> asyncpg.Record:
    """One connection holds KEY while another asks, in one statement, for KEY and the row;
    once the other waits (its statement begun), the holder ends its turn: writes version 2,
    commits, unlocks (TurnRows.save). Returns what the other's statement read."""
    store = BotStateStore(engine)
    first = await store.save("user_data", "42", {"step": 1}, based_on=None)
    assert first is not None
    async with locks.connection() as holder, locks.connection() as reader:
        assert holder is not None and reader is not None
        await holder.execute("SELECT pg_advisory_lock($1)", KEY)
        reading = asyncio.create_task(reader.fetchrow(reader_sql, *reader_args))
        for _ in range(int(MUST_HAPPEN_SECONDS / POLL_SECONDS)):  # until its wait shows
            if await _waits_for_a_lock(holder, reader.get_server_pid()):
                break
            await asyncio.sleep(POLL_SECONDS)
        else:
            pytest.fail("the reader never waited for the lock")
        assert await TurnRows(holder).save("user_data", "42", {"step": 2},
                                           based_on=first) == first + 1
        row: asyncpg.Record = await asyncio.wait_for(reading, MUST_HAPPEN_SECONDS)
    return row


async def test_the_lock_and_read_sees_what_the_last_holder_wrote_before_unlocking(
        locks, postgres_engine):
    row = await _holder_writes_then_unlocks(
        locks, postgres_engine,
        "SELECT locked, data, version FROM bot_state_lock_and_load($1, true, $2, $3)",
        (KEY, "user_data", "42"))
    assert row["locked"]
    # The function's read took its snapshot after the lock.
    assert json.loads(row["data"]) == {"step": 2}


async def test_the_record_lock_and_read_sees_what_the_last_holder_wrote_before_unlocking(
        locks, postgres_engine):
    row = await _holder_writes_then_unlocks(
        locks, postgres_engine,
        "SELECT replayed, locked, data, version "
        "FROM bot_state_record_lock_and_load($1, $2, $3, true, $4, $5)",
        (1001, datetime.now(UTC), KEY, "user_data", "42"))
    assert not row["replayed"] and row["locked"]
    assert json.loads(row["data"]) == {"step": 2}  # the read took its snapshot after the lock
    async with locks.connection(locking=False) as conn:
        assert conn is not None
        assert not await first_delivery_on(conn, 1001, datetime.now(UTC))  # recorded


async def test_a_lock_and_a_read_in_one_plain_statement_would_see_the_older_row(
        locks, postgres_engine):
    # The control: one statement's snapshot is taken before its lock is granted, so it
    # reads the row as it was before the holder's last write. This is why the function.
    row = await _holder_writes_then_unlocks(
        locks, postgres_engine, "SELECT pg_advisory_lock($1), (SELECT data::text FROM bot_state "
               "WHERE kind = $2 AND key = $3) AS data", (KEY, "user_data", "42"))
    assert row["data"] == '{"step": 1}'


async def test_turn_rows_write_compare_and_set_as_the_store_does(locks, postgres_engine):
    store = BotStateStore(postgres_engine)
    async with locks.connection() as conn:
        assert conn is not None
        rows = TurnRows(conn)
        assert await rows.lock_and_load(KEY, "user_data", "7") == Locked(True, None)
        first = await rows.save("user_data", "7", FLOW, based_on=None)
        assert first is not None
        assert await rows.save("user_data", "7", {"other": 1}, based_on=None) is None
        assert await store.load_one("user_data", "7") == Stored(FLOW, first)
        assert await rows.save("user_data", "7", {"step": 2}, based_on=first) == first + 1
        assert await rows.save("user_data", "7", {"step": 3}, based_on=first) is None
        assert await rows.lock_and_load(KEY, "user_data", "7") == \
            Locked(True, Stored({"step": 2}, first + 1))
        # A row the SQLAlchemy store wrote reads back the same here.
        assert await store.save("user_data", "7", FLOW, based_on=first + 1) == first + 2
        assert await rows.lock_and_load(KEY, "user_data", "7") == \
            Locked(True, Stored(FLOW, first + 2))
        with pytest.raises(TypeError):
            await rows.save("user_data", "7", {1: "int key"}, based_on=first + 2)


async def test_the_turns_write_gives_its_lock_back_once_committed(locks, postgres_url):
    other = SharedLocks(postgres_url, connections=1)
    try:
        async with locks.connection() as conn:
            assert conn is not None
            rows = TurnRows(conn)
            assert (await rows.lock_and_load(KEY, "user_data", "7")).held
            assert (await rows.lock_and_load(KEY, "user_data", "7")).held  # held twice
            assert not rows.unlocked
            async with other.hold(KEY, wait=False) as taken:
                assert not taken
            assert await rows.save("user_data", "7", {"step": 1}, based_on=None)
            assert rows.unlocked
            async with other.hold(KEY, wait=False) as taken:
                assert taken  # given back with the write, before the connection is
            assert not await rows.save("user_data", "7", {"step": 2}, based_on=None)
            assert rows.unlocked  # a refused write gives the lock back all the same
            locks.unlocked(conn)
        assert not locks._lockless
    finally:
        await other.close()


async def test_a_busy_lock_is_not_held_and_nothing_is_read(locks, postgres_url):
    waiter = SharedLocks(postgres_url, connections=1, wait_ms=200)
    try:
        async with locks.hold(KEY) as held, waiter.connection() as conn:
            assert held and conn is not None
            rows = TurnRows(conn)
            assert await rows.lock_and_load(KEY, "user_data", "7", wait=False) == \
                Locked(False, None)
            assert await rows.lock_and_load(KEY, "user_data", "7") == Locked(False, None)
        async with waiter.connection() as conn:
            assert conn is not None
            assert (await TurnRows(conn).lock_and_load(KEY, "user_data", "7", wait=False)).held
    finally:
        await waiter.close()


async def test_a_lock_taken_with_the_read_is_given_back_with_the_connection(locks, postgres_url):
    other = SharedLocks(postgres_url, connections=1)
    try:
        async with locks.connection() as conn:
            assert conn is not None
            assert (await TurnRows(conn).lock_and_load(KEY, "user_data", "7")).held
            async with other.hold(KEY, wait=False) as taken:
                assert not taken
        async with other.hold(KEY, wait=False) as taken:
            assert taken
    finally:
        await other.close()


async def test_a_turn_reads_with_its_lock_and_writes_on_its_connection(locks, postgres_engine):
    persistence = DatabasePersistence(postgres_engine, user_data_in_turns=True)
    other = DatabasePersistence(postgres_engine, user_data_in_turns=True)
    assert await other.save_user_data(7, {"step": 1})
    async with locks.connection() as conn:
        assert conn is not None
        rows = TurnRows(conn)
        assert await persistence.lock_user_data(7, rows, KEY)
        data: dict = {}
        await persistence.refresh_user_data(7, data)
        assert data == {"step": 1}
        data["step"] = 2
        assert await persistence.save_user_data(7, data, rows=rows)  # based on the row read
        persistence.end_turn(7)
    assert not await other.save_user_data(7, {"step": "stale"})  # its copy is older
    assert await BotStateStore(postgres_engine).load_one("user_data", "7") == \
        Stored({"step": 2}, _version(persistence, 7))
    data = {}
    await other.refresh_user_data(7, data)
    assert data == {"step": 2}


async def test_the_refresh_in_a_turn_takes_the_row_the_lock_read_once(locks, postgres_engine):
    persistence = DatabasePersistence(postgres_engine, user_data_in_turns=True)
    store = BotStateStore(postgres_engine)
    first = await store.save("user_data", "7", {"step": 1}, based_on=None)
    async with locks.connection() as conn:
        assert conn is not None
        rows = TurnRows(conn)
        assert await persistence.lock_user_data(7, rows, KEY)
        # A write the lock keeps out in practice (a lock lost): it shows which read the
        # refresh uses, and that the turn's write then leaves the newer row alone.
        assert await store.save("user_data", "7", {"step": "elsewhere"}, based_on=first)
        data: dict = {}
        await persistence.refresh_user_data(7, data)
        assert data == {"step": 1}  # the row read with the lock: no second read
        await persistence.refresh_user_data(7, data)
        assert data == {"step": "elsewhere"}  # taken once; this one read the row
        persistence.end_turn(7)
    async with locks.connection() as conn:  # the next turn, the same dict (PTB's)
        assert conn is not None
        rows = TurnRows(conn)
        assert await persistence.lock_user_data(7, rows, KEY)
        await persistence.refresh_user_data(7, data)
        assert data == {"step": "elsewhere"}
        assert await store.save("user_data", "7", {"step": "again"},
                                based_on=_version(persistence, 7))
        data["step"] = "mine"
        assert not await persistence.save_user_data(7, data, rows=rows)  # moved on: left
        persistence.end_turn(7)
    assert (await store.load_one("user_data", "7") or Stored(None, 0)).data == {"step": "again"}


def _version(persistence: DatabasePersistence, user_id: int) -> int:
    return persistence._known[("user_data", str(user_id))].version


async def test_a_row_read_in_a_turn_no_refresh_took_is_forgotten_at_its_end(
        locks, postgres_engine):
    persistence = DatabasePersistence(postgres_engine, user_data_in_turns=True)
    other = DatabasePersistence(postgres_engine, user_data_in_turns=True)
    assert await other.save_user_data(7, {"step": 1})
    async with locks.connection() as conn:
        assert conn is not None
        assert await persistence.lock_user_data(7, TurnRows(conn), KEY)
        persistence.end_turn(7)  # no handler asked for the person's data
    data: dict = {"step": 1}
    await other.refresh_user_data(7, data)
    assert await other.save_user_data(7, {"step": 2})
    await persistence.refresh_user_data(7, data)
    assert data == {"step": 2}  # read now, not the row of the turn that ended


async def test_without_turns_writing_user_data_the_refresh_always_reads(locks, postgres_engine):
    persistence = DatabasePersistence(postgres_engine)  # PTB's own writes may come between
    other = DatabasePersistence(postgres_engine)
    await other.update_user_data(7, {"step": 1})
    async with locks.connection() as conn:
        assert conn is not None
        assert await persistence.lock_user_data(7, TurnRows(conn), KEY)
        await other.update_user_data(7, {"step": 2})
        data: dict = {}
        await persistence.refresh_user_data(7, data)
        assert data == {"step": 2}


async def test_the_webhook_records_an_update_once_without_unlocking(locks):
    now = datetime.now(UTC)
    async with locks.connection(locking=False) as conn:
        assert conn is not None
        assert await first_delivery_on(conn, 1001, now)
        assert not await first_delivery_on(conn, 1001, now)
        assert await first_delivery_on(conn, 1002, now)
    assert not locks._lockless  # nothing kept of it: the next use of that connection unlocks
    async with locks.connection() as conn:
        assert conn is not None
        assert (await TurnRows(conn).lock_and_load(KEY, "user_data", "7")).held
    async with locks.hold(KEY, wait=False) as taken:
        assert taken  # the turn's connection was unlocked as it was given back


async def test_a_replay_is_neither_locked_nor_read(locks, postgres_url):
    now = datetime.now(UTC)
    async with locks.connection(locking=False) as conn:
        assert conn is not None
        assert await first_delivery_on(conn, 1001, now)
    other = SharedLocks(postgres_url, connections=1)
    try:
        # Another holds the lock: a replay comes back at once, though it would wait.
        async with other.hold(KEY) as held, locks.connection() as conn:
            assert held and conn is not None
            rows = TurnRows(conn, recording=Delivery(1001, now))
            locked = await asyncio.wait_for(rows.lock_and_load(KEY, "user_data", "7"),
                                            2.0)  # far under the 10 s wait
            assert locked == Locked(False, None)
            assert rows.replayed and rows.recording is None
            assert not await _advisory_locks_of(conn)
    finally:
        await other.close()


async def test_a_first_delivery_is_recorded_then_locked_and_read(locks, postgres_engine):
    first = await BotStateStore(postgres_engine).save("user_data", "7", FLOW, based_on=None)
    assert first is not None
    async with locks.connection() as conn:
        assert conn is not None
        rows = TurnRows(conn, recording=Delivery(1002, datetime.now(UTC)))
        assert await rows.lock_and_load(KEY, "user_data", "7") == \
            Locked(True, Stored(FLOW, first))
        assert not rows.replayed and rows.recording is None
        assert await _advisory_locks_of(conn) == 1
        # Recorded once: the turn's next lock (none in practice) records nothing again.
        assert (await rows.lock_and_load(KEY, "user_data", "7")).held
        assert not rows.replayed
    async with locks.connection() as conn:
        assert conn is not None
        rows = TurnRows(conn, recording=Delivery(1002, datetime.now(UTC)))
        assert await rows.lock_and_load(KEY, "user_data", "7") == Locked(False, None)
        assert rows.replayed


async def test_a_lock_that_waits_too_long_keeps_the_record(locks, postgres_url):
    waiter = SharedLocks(postgres_url, connections=1, wait_ms=200)
    try:
        async with locks.hold(KEY) as held, waiter.connection() as conn:
            assert held and conn is not None
            rows = TurnRows(conn, recording=Delivery(1003, datetime.now(UTC)))
            assert await rows.lock_and_load(KEY, "user_data", "7") == Locked(False, None)
            assert not rows.replayed  # the turn goes ahead without the lock, recorded:
        async with locks.connection(locking=False) as conn:
            assert conn is not None
            assert not await first_delivery_on(conn, 1003, datetime.now(UTC))
    finally:
        await waiter.close()


async def _advisory_locks_of(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted",
        conn.get_server_pid()))


async def test_the_migration_adds_and_removes_the_function():
    url = await create_postgres_database(POSTGRES_ADMIN_URL, suffix=f"turn_rows_{os.getpid()}")
    locks = SharedLocks(url, connections=1)
    try:
        await asyncio.to_thread(upgrade_sync, url)
        assert await _function_count(locks) == 1
        assert await _function_count(locks, "bot_state_record_lock_and_load") == 1
        await asyncio.to_thread(downgrade_sync, url, "0014")
        assert await _function_count(locks, "bot_state_record_lock_and_load") == 0
        assert await _function_count(locks) == 1
        await asyncio.to_thread(downgrade_sync, url, "0013")
        assert await _function_count(locks) == 0
        await asyncio.to_thread(upgrade_sync, url)
        assert await _function_count(locks) == 1
        assert await _function_count(locks, "bot_state_record_lock_and_load") == 1
    finally:
        await locks.close()
        await drop_postgres_database(POSTGRES_ADMIN_URL, url)


async def _function_count(locks: SharedLocks, name: str = "bot_state_lock_and_load") -> int:
    async with locks.connection() as conn:
        assert conn is not None
        return int(await conn.fetchval("SELECT count(*) FROM pg_proc WHERE proname = $1", name))
