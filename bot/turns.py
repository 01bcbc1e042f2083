"""Each person's turns, one at a time on every instance; different people's at once.

A turn is one update's handling, or a job's work on one person's data (the held card's
countdown): read the person's data from the database, act, write it back. Several bot
instances behind one load balancer share one database and no memory, so a passenger's
next tap may reach another instance than the last; and one instance handles many
passengers at once. What keeps that one bot:

  * a person's turns queue on an asyncio lock in the instance (so one instance never
    takes two database connections for one person), then on a PostgreSQL advisory lock
    keyed by the person (storage/shared_locks.py), so two instances never act for one
    person at once. On SQLite (one process) the in-process lock is all there is;
  * inside the turn their data is read from the database: PTB refreshes user_data
    before the first handler that matches (bot/persistence.py reads the row as it is now),
    and a job's turn reads it first thing. On PostgreSQL the row is read as the lock is
    taken, in the same round trip and after the lock is granted (storage/bot_state.py,
    TurnRows), and that refresh takes the row read;
  * at its end the data is written back, compare-and-set on the row's version, before
    the locks are given back, so the next turn (on any instance) reads what this one wrote;
    and no turn writes over a newer copy, should a lock ever have been lost;
  * only then does the next update of the same person start here; updates of other
    people run alongside, up to ``concurrent_updates`` at once in the instance.

In webhook mode on PostgreSQL an update's turn also records its update id (webhook_updates,
so that a replay is not handled twice) in its lock's round trip, before the lock is taken:
``handle(..., record=...)``. A replay then ends its turn there, unhandled; one that came
while the first delivery was being handled waited in the person's line, so it finds the id
recorded. The jobs' turns record nothing.

An update takes a slot of the instance's concurrency first (PTB's process_update does,
before anything of ours), then its place in its person's line, then the advisory lock: so
no more advisory locks are held (each holds a connection) than there are slots. A
passenger's updates waiting in line hold a slot each; a passenger cannot send fast enough
for that to matter.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from booking.read_memo import read_memo
from bot.persistence import DatabasePersistence
from storage.bot_state import TurnRows
from storage.shared_locks import SharedLocks, lock_key
from storage.webhook_updates import Delivery, first_delivery_on

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

LOCK_SPACE = "kassa-person"  # the advisory locks' key space (storage/shared_locks.lock_key)


@dataclass
class _Line:
    """The turns of one person waiting in this process."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class Turns:
    """The locks and the read-act-write of each person's turns."""

    def __init__(self, locks: SharedLocks) -> None:
        self.locks = locks
        self._lines: dict[int, _Line] = {}
        self._application: AnyApplication | None = None

    def bind(self, application: AnyApplication) -> None:
        """The Application whose user_data the turns read and write."""
        self._application = application

    @asynccontextmanager
    async def in_line(self, person: int) -> AsyncIterator[None]:
        """Wait for this person's earlier turns in this process (FIFO), then go."""
        line = self._lines.setdefault(person, _Line())
        line.waiting += 1
        try:
            async with line.lock:
                yield
        finally:
            line.waiting -= 1
            if not line.waiting:  # nobody else in this person's line: forget it
                del self._lines[person]

    def busy(self, person: int) -> bool:
        """Whether a turn of this person is running or waiting in this process."""
        return person in self._lines

    @asynccontextmanager
    async def held(self, person: int, *, wait: bool = True,
                   recording: Delivery | None = None) -> AsyncIterator[bool]:
        """The person's advisory lock, then their data written back at the end of the
        block; yields False when not ``wait`` and another instance has the lock (nothing
        is written then). With ``wait``, a lock still busy after its wait is logged and
        the block runs all the same: the write is still compare-and-set.

        With ``recording`` (PostgreSQL only), the update's id is recorded in the lock's
        round trip, first: False when it had been recorded before (a replay; no lock was
        taken, nothing is written).

        On PostgreSQL the lock, the read of the person's row and its write all go through
        the lock's own connection: the lock and the read in one round trip (the refresh
        in the turn then takes that row), the write and the unlock after its commit in
        another; with nothing to write, the connection given back unlocks."""
        async with self.locks.connection() as conn:
            if conn is None and recording is not None:
                raise ValueError("an update is recorded in its turn on PostgreSQL only")
            rows = TurnRows(conn, recording=recording) if conn is not None else None
            try:
                locked = await self._lock(person, rows, wait=wait)
                if rows is not None and rows.replayed:
                    self.locks.unlocked(rows.connection)  # it took no lock to give back
                    yield False
                    return
                if not locked and not wait:
                    yield False
                    return
                if not locked:
                    log.warning("person %d: another instance kept their turn too long; "
                                "going ahead without it", person)
                yield True
                await self._write_back(person, rows)
                if rows is not None and rows.unlocked:
                    self.locks.unlocked(rows.connection)
            finally:
                self._end(person)

    @asynccontextmanager
    async def turn(self, person: int, *, wait: bool = True) -> AsyncIterator[bool]:
        """A whole turn outside an update (a job's): in line, the lock, the person's data
        read from the database, and written back at the end. Yields False, doing nothing,
        when not ``wait`` and the person's turn is taken here or on another instance."""
        if not wait and self.busy(person):
            yield False
            return
        async with self.in_line(person), self.held(person, wait=wait) as mine:
            if mine:
                await self._read(person)
            yield mine

    async def _lock(self, person: int, rows: TurnRows | None, *, wait: bool) -> bool:
        if rows is None:  # SQLite: the line in this process is the whole lock
            return True
        _application, persistence = self._parts()
        key = lock_key(LOCK_SPACE, person)
        if persistence is None:  # a bot without a database persistence: no row to read
            return (await rows.lock_and_load(key, "", "", wait=wait)).held
        return await persistence.lock_user_data(person, rows, key, wait=wait)

    async def _read(self, person: int) -> None:
        application, persistence = self._parts()
        if persistence is not None:
            await persistence.refresh_user_data(person, application.user_data[person])

    async def _write_back(self, person: int, rows: TurnRows | None) -> None:
        application, persistence = self._parts()
        data = application.user_data.get(person)
        if persistence is not None and data is not None:
            await persistence.save_user_data(person, data, rows=rows)

    def _end(self, person: int) -> None:
        _application, persistence = self._parts()
        if persistence is not None:
            persistence.end_turn(person)

    def _parts(self) -> tuple[AnyApplication, DatabasePersistence | None]:
        if self._application is None:
            raise RuntimeError("Turns.bind(application) first")
        persistence = self._application.persistence
        return self._application, (persistence if isinstance(persistence, DatabasePersistence)
                                   else None)

    async def record(self, delivery: Delivery) -> bool:
        """Record an update that is nobody's turn (PostgreSQL only); False if it had been
        recorded before (a replay)."""
        async with self.locks.connection(locking=False) as conn:
            if conn is None:
                raise ValueError("an update is recorded by the turns on PostgreSQL only")
            return await first_delivery_on(conn, delivery.update_id, delivery.received_at)

    async def close(self) -> None:
        await self.locks.close()


def person_of(update: object) -> int | None:
    """Whose turn an update is: its sender's, or its chat's when it has no sender."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class TurnProcessor(BaseUpdateProcessor):
    """PTB's hook for running updates concurrently (``concurrent_updates``): each update as
    its person's turn, up to ``max_concurrent_updates`` people at once."""

    def __init__(self, turns: Turns, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self.turns = turns

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """In a slot of the instance's concurrency (PTB's process_update took it). The
        update's repeated booking reads are read once (booking/read_memo.py). An update
        handed over by handle() with a record to make is recorded first; a replay is not
        handled."""
        person = person_of(update)
        recording = _recording.get()
        if recording is not None and recording.update is not update:
            recording = None  # another update's (a task started inside its handling)
        try:
            with read_memo():
                if person is None:
                    if recording is None or await self._recorded(recording):
                        await coroutine
                    return
                delivery = recording.delivery if recording is not None else None
                async with (self.turns.in_line(person),
                            self.turns.held(person, recording=delivery) as handling):
                    if handling:  # False only for a replay: the lock waits (wait=True)
                        await coroutine
                    elif recording is not None:
                        recording.replayed = True
        finally:
            _close_if_never_run(coroutine)

    async def _recorded(self, recording: _Recording) -> bool:
        recording.replayed = not await self.turns.record(recording.delivery)
        return not recording.replayed

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        await self.turns.close()


@dataclass
class _Recording:
    """An update handle() was given with its record to make, and whether it was a replay."""

    update: object
    delivery: Delivery
    replayed: bool = False


# Set by handle() around its update's processing (PTB's process_update awaits the
# processor's do_process_update in the same task): how the record reaches the turn.
_recording: ContextVar[_Recording | None] = ContextVar("kassa_recording", default=None)


def _close_if_never_run(coroutine: Awaitable[Any]) -> None:
    # A lock that could not be taken at all (the database unreachable) raises before the
    # update ran, and a replay is not run: closed, Python does not warn of a coroutine
    # never awaited. Closing one that has run is nothing.
    if inspect.iscoroutine(coroutine):
        coroutine.close()


def turns_of(application: AnyApplication) -> Turns:
    """The turns of an Application made by bot.app.build_application."""
    processor = application.update_processor
    if not isinstance(processor, TurnProcessor):
        raise RuntimeError("the Application does not handle updates as turns")
    return processor.turns


async def handle(application: AnyApplication, update: object, *,
                 record: Delivery | None = None) -> bool:
    """Handle one update as PTB's update queue would: through the Application's update
    processor (with Kassa's, as its person's turn), returning once it is handled.

    With ``record`` (webhook mode on PostgreSQL; Kassa's processor only), the update's id is
    recorded in its turn's first round trip, and committed, before it is handled: False,
    and the update not handled, when it had been recorded before (a replay)."""
    recording = None
    if record is not None:
        turns_of(application)  # only Kassa's processor makes the record
        recording = _Recording(update, record)
    token = _recording.set(recording)
    try:
        await application.update_processor.process_update(
            update, application.process_update(update))
    finally:
        _recording.reset(token)
    return recording is None or not recording.replayed
