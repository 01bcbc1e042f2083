"""The unit of work: nothing stays unless committed, and a cancelled one holds nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.model import Customer, Order, OrderStatus, SeatAllocation
from booking.ports import AuditEvent, Segment
from storage import tables as t
from storage.database import create_engine, wait_for_write_turn
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import build_network

DAY = date(2026, 6, 1)


def a_hold(trip_id: int, customer_id: int, now: datetime) -> tuple[Order, AuditEvent]:
    """A one-seat hold A -> B on the trip (seat 1A, 2A, ... by customer), with its audit row."""
    order = Order(
        id=uuid.uuid4().hex,
        customer_id=customer_id,
        trip_id=trip_id,
        from_seq=0,
        to_seq=1,
        status=OrderStatus.HELD,
        amount=1000,
        currency="EUR",
        seats=(SeatAllocation(f"{customer_id % 5 + 1}A", "Ann Example"),),
        created_at=now,
        expires_at=now + timedelta(minutes=15),
    )
    return order, AuditEvent(order.id, now, None, OrderStatus.HELD, "test", {})


async def rows_in(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (t.orders, t.allocations, t.order_events)
        }


async def test_a_unit_of_work_left_without_commit_leaves_nothing(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    trip = (await build_network(engine, days=1)).trips[DAY]
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        await uow.catalog.trip(trip, lock=True)
        await uow.orders.add(*a_hold(trip, 1, clock()))
        assert (await uow.orders.for_customer(1)) != []  # written, in this transaction
    assert await rows_in(engine) == {"orders": 0, "allocations": 0, "order_events": 0}


async def test_an_error_inside_a_unit_of_work_rolls_it_back(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    trip = (await build_network(engine, days=1)).trips[DAY]
    with pytest.raises(LookupError):
        async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
            await uow.orders.add(*a_hold(trip, 1, clock()))
            raise LookupError("the use case fails after writing")
    assert await rows_in(engine) == {"orders": 0, "allocations": 0, "order_events": 0}
    # ...and a committed one stays, on the same connections.
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        await uow.orders.add(*a_hold(trip, 2, clock()))
        await uow.commit()
    assert await rows_in(engine) == {"orders": 1, "allocations": 1, "order_events": 1}


# ---- cancellation --------------------------------------------------------------------
#
# A buyer who goes away mid-hold (the handler's task cancelled) must leave no write turn,
# transaction or lock behind. Each case cancels a hold while one of its round trips is in
# flight, with a seat already held so that every query has a row to return: BEGIN, each
# statement, COMMIT, or the rollback after the use case failed.

CANCELLED_AT = ["begin", "lock_trip", "taken_seats", "add_order", "commit", "rollback"]


def cancel_in_flight(engine: AsyncEngine, *, statement: bool) -> None:
    """Cancel the current task while its next round trip to the database is in flight."""
    task = asyncio.current_task()
    assert task is not None
    if statement and engine.dialect.name == "sqlite":
        # aiosqlite makes the cursor in a round trip of its own before it executes;
        # cancel once the cursor is there, so that the cancellation meets the statement.
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda *_: task.cancel(), once=True)
    else:
        task.cancel()  # the next wait is that round trip


async def write_a_hold(engine: AsyncEngine, trip: int, customer_id: int, now: datetime) -> None:
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        await uow.catalog.trip(trip, lock=True)
        await uow.orders.add(*a_hold(trip, customer_id, now))
        await uow.commit()


@pytest.mark.parametrize("cancelled_at", CANCELLED_AT)
async def test_a_cancelled_hold_leaves_nothing_held(
    engine: AsyncEngine, clock: FakeClock, cancelled_at: str
) -> None:
    trip = (await build_network(engine, days=1)).trips[DAY]
    await write_a_hold(engine, trip, 1, clock())

    def cancel_if(step: str) -> None:
        if step == cancelled_at:
            cancel_in_flight(engine, statement=step not in ("commit", "rollback"))

    async def hold() -> None:
        now = clock()
        cancel_if("begin")
        async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
            cancel_if("lock_trip")
            await uow.catalog.trip(trip, lock=True)
            cancel_if("taken_seats")
            await uow.inventory.taken_seats(Segment(trip, 0, 1), now)
            cancel_if("add_order")
            await uow.orders.add(*a_hold(trip, 7, now))
            if cancelled_at == "rollback":
                cancel_if("rollback")
                raise LookupError("the use case fails after writing")
            cancel_if("commit")
            await uow.commit()

    task = asyncio.create_task(hold())
    with pytest.raises(asyncio.CancelledError):
        await task
    # The task stays referenced (as a caller's list of tasks keeps it), and with it the
    # traceback of its cancellation: nothing may wait for that to be garbage collected.

    # Another process (here: another engine, with a short lock timeout) writes at once...
    impatient = create_engine(engine.url.render_as_string(hide_password=False),
                              lock_timeout_ms=300)
    try:
        async with asyncio.timeout(5):
            await write_a_hold(impatient, trip, 2, clock())
    finally:
        await impatient.dispose()
    # ...and so does this process: the cancelled hold passed its write turn on.
    async with asyncio.timeout(5):
        await write_a_hold(engine, trip, 3, clock())
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            stuck = (await conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'")).scalar()
        assert stuck == 0


async def test_a_writer_cancelled_as_its_turn_comes_stops_and_passes_the_turn_on(
    tmp_path: Path,
) -> None:
    """SQLite's writer queue: a cancellation that meets the turn is not swallowed."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}")
    turn = await wait_for_write_turn(engine)
    assert turn is not None
    wrote: list[int] = []

    async def writer(spins: int) -> None:
        mine = await wait_for_write_turn(engine)
        assert mine is not None
        try:
            await asyncio.sleep(0.2)  # writing
            wrote.append(spins)
        finally:
            mine.release()

    for spins in range(4):  # cancel 0..3 loop turns after the turn is handed over
        task = asyncio.create_task(writer(spins))
        for _ in range(3):
            await asyncio.sleep(0)  # the writer is queued
        turn.release()
        for _ in range(spins):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not turn.locked(), "the cancelled writer kept the turn"
        await turn.acquire()
    turn.release()
    await engine.dispose()
    assert wrote == [], "a cancelled writer went on writing"


async def test_a_unit_of_work_of_one_statement_inserts_a_customer_once(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    # A new customer's first contact (booking/customers.py): the insert is the whole unit
    # of work; a second first contact (another message at once) changes nothing.
    factory = SqlUnitOfWorkFactory(engine)
    anna = Customer.new(7).on_contact("Anna", "ru", is_staff=False, is_admin=False)
    async with factory(write=True, one_statement=True) as uow:
        assert await uow.customers.add_if_missing(anna, clock())
        await uow.commit()
    async with factory(write=True, one_statement=True) as uow:
        assert not await uow.customers.add_if_missing(Customer.new(7), clock())
        await uow.commit()
    async with factory() as uow:
        assert await uow.customers.get(7) == anna


@pytest.mark.postgres_only
async def test_a_unit_of_work_of_one_statement_refuses_a_second(
    postgres_engine: AsyncEngine, clock: FakeClock
) -> None:
    # On PostgreSQL it has no transaction: a second statement would not share one with the
    # first, so it is refused before it is sent, and the first stands on its own.
    factory = SqlUnitOfWorkFactory(postgres_engine)
    with pytest.raises(RuntimeError, match="one statement"):
        async with factory(write=True, one_statement=True) as uow:
            await uow.customers.add_if_missing(Customer.new(880_008), clock())
            await uow.customers.get(880_008, lock=True)
    async with factory() as uow:
        assert await uow.customers.get(880_008) == Customer.new(880_008)
