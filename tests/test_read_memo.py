"""One update's read memo (booking/read_memo.py): the same answer inside a scope, fresh
outside it and after a write, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from datetime import date
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.customers import CustomerService
from booking.errors import BookingError, ErrorCode
from booking.read_memo import ReadMemo, current_memo, forget_reads, read_memo
from booking.service import BookingService
from booking.settings import BookingRules
from storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import Network, build_network, pax

DAY = date(2026, 6, 1)
ANNA, BORIS = 1001, 1002
T = TypeVar("T")


class CountingUnitsOfWork:
    """The units of work of a factory, counted by kind: what a memo hit saves."""

    def __init__(self, factory: SqlUnitOfWorkFactory) -> None:
        self._factory = factory
        self.reads = 0
        self.writes = 0

    def __call__(self, *, write: bool = False, one_statement: bool = False) -> SqlUnitOfWork:
        if write:
            self.writes += 1
        else:
            self.reads += 1
        return self._factory(write=write, one_statement=one_statement)


async def elsewhere(work: Coroutine[Any, Any, T]) -> T:
    """``work`` as another update would do it: in a task of its own, outside this scope."""
    return await asyncio.create_task(work, context=contextvars.Context())


@pytest.fixture
async def network(engine: AsyncEngine) -> Network:
    """Stations A-F and a daily 08:00 trip through all of them."""
    return await build_network(engine)


@pytest.fixture
def counted(uow_factory: SqlUnitOfWorkFactory) -> CountingUnitsOfWork:
    """The test database's units of work, counted."""
    return CountingUnitsOfWork(uow_factory)


@pytest.fixture
def memo_service(counted: CountingUnitsOfWork, clock: FakeClock) -> BookingService:
    """The booking service, its units of work counted."""
    return BookingService(counted, rules=BookingRules(), clock=clock)  # type: ignore[arg-type]


# ---- the memo on its own -------------------------------------------------------------------


def test_nothing_is_memoised_outside_a_scope() -> None:
    assert current_memo() is None
    forget_reads()  # harmless with no scope


def test_a_scope_remembers_until_a_write_and_ends_closed() -> None:
    with read_memo() as memo:
        assert current_memo() is memo
        memo.put("q", 1)
        assert memo.get("q") == 1
        forget_reads()
        assert memo.get("q") is None
        memo.put("q", 2)
    assert current_memo() is None
    assert memo.get("q") is None
    memo.put("q", 3)  # a task that outlived its scope memoises nothing
    assert memo.get("q") is None


async def test_concurrent_scopes_do_not_share() -> None:
    seen: list[ReadMemo | None] = []

    async def update() -> None:
        with read_memo() as memo:
            memo.put("q", id(memo))
            await asyncio.sleep(0)
            seen.append(memo)
            assert memo.get("q") == id(memo)

    await asyncio.gather(update(), update())
    assert seen[0] is not seen[1]


# ---- the use cases on a database -----------------------------------------------------------


async def test_a_card_checked_then_rendered_reads_once(
    memo_service: BookingService, counted: CountingUnitsOfWork, network: Network
) -> None:
    trip = network.trips[DAY]
    expected_option = await memo_service.trip_option(trip, "B", "E")
    expected_map = await memo_service.seat_map(trip, "B", "E")
    counted.reads = 0
    with read_memo():
        # The handler checks the chosen trip, renders the card (the trip again), and the
        # seat map of the same trip and stretch.
        assert await memo_service.trip_option(trip, "B", "E") == expected_option
        assert await memo_service.trip_option(trip, "B", "E") == expected_option
        assert await memo_service.seat_map(trip, "B", "E") == expected_map
        assert counted.reads == 1
        # Another stretch of the trip is another question.
        await memo_service.seat_map(trip, "A", "C")
        assert counted.reads == 2
    await memo_service.trip_option(trip, "B", "E")
    assert counted.reads == 3  # the scope is over: read again


async def test_outside_a_scope_every_answer_is_fresh(
    memo_service: BookingService, service: BookingService, network: Network
) -> None:
    trip = network.trips[DAY]
    before = await memo_service.trip_option(trip, "B", "E")
    await service.hold(BORIS, trip, "A", "C", [pax(1)], ["1A"])  # another passenger
    after = await memo_service.trip_option(trip, "B", "E")
    assert after.seats_free == before.seats_free - 1
    assert "1A" not in (await memo_service.seat_map(trip, "B", "E")).free


async def test_inside_a_scope_the_first_answer_stands_until_a_write(
    memo_service: BookingService, service: BookingService, counted: CountingUnitsOfWork,
    network: Network,
) -> None:
    trip = network.trips[DAY]
    with read_memo():
        first = await memo_service.trip_option(trip, "B", "E")
        # Another passenger's hold, in another process or task: this update answers from
        # what it read first, as it would had that hold come a moment later.
        await elsewhere(service.hold(BORIS, trip, "A", "C", [pax(1)], ["1A"]))
        assert await memo_service.trip_option(trip, "B", "E") == first
        # This update's own write: what it shows next is read again.
        order = await memo_service.hold(ANNA, trip, "B", "E", [pax(2)], ["2A"])
        reads = counted.reads
        option = await memo_service.trip_option(trip, "B", "E")
        assert counted.reads == reads + 1
        assert option.seats_free == first.seats_free - 2
        seat_map = await memo_service.seat_map(trip, "B", "E")
        assert counted.reads == reads + 1
        assert not {"1A", "2A"} & set(seat_map.free)
        # A cancellation is a write too.
        await memo_service.cancel(order.id, ANNA)
        assert (await memo_service.trip_option(trip, "B", "E")).seats_free == \
            first.seats_free - 1


async def test_a_refused_hold_forgets_as_well(
    memo_service: BookingService, service: BookingService, network: Network
) -> None:
    trip = network.trips[DAY]
    with read_memo():
        assert "1A" in (await memo_service.seat_map(trip, "B", "E")).free
        await elsewhere(service.hold(BORIS, trip, "A", "C", [pax(1)], ["1A"]))
        with pytest.raises(BookingError) as refused:
            await memo_service.hold(ANNA, trip, "B", "E", [pax(2)], ["1A"])
        assert refused.value.code is ErrorCode.SEAT_TAKEN
        # The card that tells of the refusal shows the seat taken.
        assert "1A" not in (await memo_service.seat_map(trip, "B", "E")).free


async def test_errors_are_not_memoised(
    memo_service: BookingService, counted: CountingUnitsOfWork, network: Network
) -> None:
    with read_memo():
        for _ in range(2):
            with pytest.raises(BookingError) as error:
                await memo_service.trip_option(999_999, "B", "E")
            assert error.value.code is ErrorCode.UNKNOWN_TRIP
        assert counted.reads == 2


async def test_a_departed_trip_is_refused_from_the_memo_too(
    memo_service: BookingService, clock: FakeClock, network: Network
) -> None:
    trip = network.trips[DAY]
    with read_memo():
        await memo_service.seat_map(trip, "B", "E")
        clock.advance(hours=6)  # after the 09:05 departure from B
        with pytest.raises(BookingError) as error:
            await memo_service.trip_option(trip, "B", "E")
        assert error.value.code is ErrorCode.TRIP_DEPARTED


async def test_the_customer_is_read_once_and_again_after_a_change(
    uow_factory: SqlUnitOfWorkFactory, clock: FakeClock
) -> None:
    counted = CountingUnitsOfWork(uow_factory)
    customers = CustomerService(counted, clock=clock)  # type: ignore[arg-type]
    other = CustomerService(uow_factory, clock=clock)
    with read_memo():
        assert await customers.customer(ANNA) is None
        assert await customers.customer(ANNA) is None  # "no such customer" is an answer too
        assert counted.reads == 1
        created = await customers.ensure(ANNA, "Anna", "en")  # a write: forgets
        assert await customers.customer(ANNA) == created
        await elsewhere(other.set_language(ANNA, "ru"))  # elsewhere: not seen in this update
        assert await customers.customer(ANNA) == created
        reads = counted.reads
        assert (await customers.role(ANNA)) is created.role  # the role is always read
        assert counted.reads == reads + 1
        changed = await customers.set_language(ANNA, "zh")
        assert await customers.customer(ANNA) == changed
    assert (await customers.customer(ANNA)) == changed


async def test_first_contact_writes_the_customer_as_changed(
    uow_factory: SqlUnitOfWorkFactory, clock: FakeClock
) -> None:
    customers = CustomerService(uow_factory, clock=clock, staff_ids=[ANNA])
    created = await customers.ensure(ANNA, "  Anna   Ivanova ", "ru")
    assert await customers.customer(ANNA) == created
    assert (created.name, created.language, created.role.value) == \
        ("Anna Ivanova", "ru", "staff")
    # The same contact again changes nothing; another one brings the record up to date.
    assert await customers.ensure(ANNA, "Anna Ivanova", "ru") == created
    assert (await customers.ensure(ANNA, "Anna Petrova", "en")).name == "Anna Petrova"


async def test_an_order_is_read_once_and_a_new_hold_not_at_all(
    memo_service: BookingService, service: BookingService, counted: CountingUnitsOfWork,
    network: Network,
) -> None:
    trip = network.trips[DAY]
    with read_memo():
        held = await memo_service.hold(ANNA, trip, "B", "E", [pax(1)])
        reads = counted.reads
        # The held card, then its Pay button's check: what the hold wrote, no read.
        assert await memo_service.order(held.id, ANNA) == held
        assert counted.reads == reads
        with pytest.raises(BookingError) as error:
            await memo_service.order(held.id, BORIS)
        assert error.value.code is ErrorCode.NOT_YOUR_ORDER
        cancelled = await memo_service.cancel(held.id, ANNA)  # a write: read again
        assert await memo_service.order(held.id, ANNA) == cancelled
        assert counted.reads == reads + 1
    other = await service.hold(BORIS, trip, "A", "C", [pax(2)])
    with read_memo():
        assert (await memo_service.order(other.id)).status is other.status
        await elsewhere(service.cancel(other.id, BORIS))
        assert (await memo_service.order(other.id)).status is other.status  # first answer
    assert (await memo_service.order(other.id)).status is not other.status  # fresh
