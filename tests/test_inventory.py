"""The inventory's queries apply the domain's seat-overlap rule, on every path."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import combinations

from sqlalchemy.ext.asyncio import AsyncEngine

from booking.model import Order, OrderStatus, SeatAllocation, segments_overlap
from booking.ports import AuditEvent, Segment
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import STOPS, build_network

DAY = date(2026, 6, 1)
SOLD = (1, 3)  # B -> D


async def test_taken_seats_and_counts_follow_segments_overlap(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    trip = (await build_network(engine, days=1)).trips[DAY]
    now = clock()
    order = Order(
        id="sold-b-d", customer_id=1, trip_id=trip, from_seq=SOLD[0], to_seq=SOLD[1],
        status=OrderStatus.HELD, amount=1000, currency="EUR",
        seats=(SeatAllocation("1A", "Ann Example"),), created_at=now,
        expires_at=now + timedelta(minutes=15),
    )
    uow = SqlUnitOfWorkFactory(engine)
    async with uow(write=True) as tx:
        await tx.orders.add(order, AuditEvent(order.id, now, None, OrderStatus.HELD, "test", {}))
        await tx.commit()

    async with uow() as tx:
        for wanted in combinations(range(len(STOPS)), 2):
            segment = Segment(trip, *wanted)
            expected = segments_overlap(SOLD, wanted)
            # The hold's query (straight on asyncpg on PostgreSQL), the late payment's
            # (through SQLAlchemy everywhere) and the search's count.
            assert ("1A" in await tx.inventory.taken_seats(segment, now)) is expected, wanted
            excluding = await tx.inventory.taken_seats(segment, now, exclude_order="other")
            assert ("1A" in excluding) is expected, wanted
            counts = await tx.inventory.taken_counts([segment], now)
            assert counts.get(trip, 0) == int(expected), wanted
            # A booking step's trip with its taken seats, read together (one statement on
            # PostgreSQL).
            found = await tx.catalog.trip_with_taken_seats(segment, now)
            assert found is not None and found[0] == await tx.catalog.trip(trip)
            assert found[1] == ({"1A"} if expected else set()), wanted
        # A hold that has run out takes no seat.
        later = now + timedelta(minutes=16)
        assert await tx.inventory.taken_seats(Segment(trip, *SOLD), later) == set()
        assert await tx.catalog.trip_with_taken_seats(Segment(trip, *SOLD), later) == (
            await tx.catalog.trip(trip), set())
        assert await tx.catalog.trip_with_taken_seats(Segment(trip + 999, 0, 1), now) is None


async def test_a_trip_read_once_is_known_by_its_route(engine: AsyncEngine) -> None:
    network = await build_network(engine, days=1)
    trip = network.trips[DAY]
    async with SqlUnitOfWorkFactory(engine)() as tx:
        assert tx.catalog.known_route_of(trip) is None
        read = await tx.catalog.trip(trip)
        assert read is not None and tx.catalog.known_route_of(trip) == read.route_id
        assert tx.catalog.known_route_of(trip + 999) is None
