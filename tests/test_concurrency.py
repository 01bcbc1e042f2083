"""No oversell under concurrent buyers: real connections racing for the last seats."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.errors import BookingError, ErrorCode
from booking.service import BookingService
from booking.settings import BookingRules
from storage.database import create_engine
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import build_network, double_allocations, pax

DAY = date(2026, 6, 1)
# Every "hot" segment includes the leg C->D, where only 10 seats are left; the cold ones
# (A->B, E->F) share no leg with them or with the pre-sold seats.
HOT = [("B", "D"), ("C", "D"), ("C", "E"), ("B", "E")]
COLD = [("A", "B"), ("E", "F")]


async def race(
    engine: AsyncEngine, clock: FakeClock, *, lock: bool
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    network = await build_network(engine, rows=5, columns="AB_CD", days=1)  # 20 seats
    trip = network.trips[DAY]
    uow = SqlUnitOfWorkFactory(engine)
    service = BookingService(uow, rules=BookingRules(lock_inventory=lock), clock=clock)
    await service.hold(1, trip, "C", "D", [pax(i) for i in range(9)])
    await service.hold(2, trip, "C", "D", [pax(9)])  # 10 of 20 seats gone on C->D

    requests = [random.Random(i).choice(HOT) for i in range(150)]
    requests += [COLD[0]] * 25 + [COLD[1]] * 25
    random.Random(7).shuffle(requests)
    won: Counter[tuple[str, str]] = Counter()
    refused: Counter[str] = Counter()

    async def buyer(n: int, origin: str, destination: str) -> None:
        try:
            await service.hold(1000 + n, trip, origin, destination, [pax(n)])
            won[(origin, destination)] += 1
        except BookingError as error:
            refused[error.code.value] += 1

    await asyncio.gather(*(buyer(n, o, d) for n, (o, d) in enumerate(requests)))
    return won, refused


async def test_200_buyers_for_the_last_10_seats(engine: AsyncEngine, clock: FakeClock) -> None:
    won, refused = await race(engine, clock, lock=True)
    assert sum(won[s] for s in HOT) == 10
    assert won[COLD[0]] == 20 and won[COLD[1]] == 20  # 20 seats each, 25 asked
    assert set(refused) == {ErrorCode.NOT_ENOUGH_SEATS.value}, refused
    assert await double_allocations(engine, clock()) == []


async def test_control_run_without_locking_catches_the_oversell(
    postgres_engine: AsyncEngine, clock: FakeClock
) -> None:
    """The same race with the trip lock switched off must oversell, or the test proves nothing.

    SQLite cannot be made to oversell this way: its writers are serialised by the
    database-wide write lock that every writing transaction takes at BEGIN.
    """
    won, _ = await race(postgres_engine, clock, lock=False)
    assert sum(won[s] for s in HOT) > 10
    assert await double_allocations(postgres_engine, clock()) != []


async def test_lock_wait_is_bounded(engine: AsyncEngine, clock: FakeClock) -> None:
    """A transaction sitting on the trip's lock makes buyers hear "busy", not hang."""
    network = await build_network(engine, days=1)
    trip = network.trips[DAY]
    rules = BookingRules(lock_retries=1)
    impatient = create_engine(str(engine.url.render_as_string(hide_password=False)),
                              lock_timeout_ms=200)
    service = BookingService(SqlUnitOfWorkFactory(impatient), rules=rules, clock=clock)
    blocker = SqlUnitOfWorkFactory(engine)(write=True)
    async with blocker:
        await blocker.catalog.trip(trip, lock=True)
        if engine.dialect.name == "sqlite":
            # Take SQLite's write lock for real (BEGIN IMMEDIATE took it already).
            await blocker.connection.exec_driver_sql("UPDATE trips SET status = status")
        with pytest.raises(BookingError) as error:
            await asyncio.wait_for(service.hold(1, trip, "A", "B", ["Ann"]), timeout=30)
        assert error.value.code is ErrorCode.BUSY
    await impatient.dispose()


async def test_cancelled_holds_leave_no_open_transaction(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    """A buyer who goes away mid-hold (task cancelled) leaves no lock or transaction behind."""
    network = await build_network(engine, days=1)
    trip = network.trips[DAY]
    service = BookingService(SqlUnitOfWorkFactory(engine), clock=clock)
    for delay in (0, 0.0005, 0.001, 0.002, 0.004):
        tasks = [asyncio.create_task(service.hold(n, trip, "A", "B", [pax(n)]))
                 for n in range(1, 11)]
        await asyncio.sleep(delay)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Everything still works: a hold goes through at once, nothing is double-sold.
    order = await asyncio.wait_for(service.hold(99, trip, "A", "F", ["Last One"]), timeout=10)
    assert order.seats
    assert await double_allocations(engine, clock()) == []
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            stuck = (await conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'")).scalar()
        assert stuck == 0


async def test_a_check_in_racing_a_cancellation_leaves_no_boarded_refund(
    postgres_engine: AsyncEngine, clock: FakeClock
) -> None:
    """A check-in committing while a cancellation is under way: the cancellation waits for
    it and refuses, rather than refund an order whose ticket was just used."""
    network = await build_network(postgres_engine, rows=5, columns="AB_CD", days=1)
    service = BookingService(SqlUnitOfWorkFactory(postgres_engine), rules=BookingRules(),
                             clock=clock)
    view = await service.hold(1, network.trips[DAY], "A", "B", [pax(0)])
    await service.confirm_payment(view.id, "pay-1", view.amount, view.currency)
    async with postgres_engine.connect() as check_in:
        # A check-in as booking/ticketing.py makes it: the ticket locked, marked used.
        await check_in.execute(text("SELECT id FROM tickets WHERE order_id = :o FOR UPDATE"),
                               {"o": view.id})
        await check_in.execute(text("UPDATE tickets SET status = 'used' WHERE order_id = :o"),
                               {"o": view.id})
        cancelling = asyncio.create_task(service.cancel(view.id, 1))
        await asyncio.sleep(0.3)
        assert not cancelling.done()  # it waits for the check-in's lock
        await check_in.commit()
    with pytest.raises(BookingError) as refused:
        await cancelling
    assert refused.value.code is ErrorCode.NOT_CANCELLABLE
    after = await service.order(view.id, 1)
    assert after.status.value == "paid" and after.refund_amount is None
