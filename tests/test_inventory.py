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
        # A hold that has run out takes no seat.
        later = now + timedelta(minutes=16)
        assert await tx.inventory.taken_seats(Segment(trip, *SOLD), later) == set()
