"""The booking use cases on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus
from booking.outcomes import ConfirmOutcome
from booking.service import BookingService
from storage import tables as t
from tests.conftest import FakeClock
from tests.factories import Network, build_network, double_allocations

DAY = date(2026, 6, 1)
CUSTOMER = 1001


@pytest.fixture
async def network(engine: AsyncEngine) -> Network:
    """Stations A-F and a daily 08:00 trip through all of them."""
    return await build_network(engine)


async def audit_rows(engine: AsyncEngine, order_id: str) -> list[tuple[str | None, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.order_events.c.from_status, t.order_events.c.to_status)
            .where(t.order_events.c.order_id == order_id)
            .order_by(t.order_events.c.id)
        )
        return [(r.from_status, r.to_status) for r in rows]


async def expect(code: ErrorCode, awaitable: object) -> BookingError:
    with pytest.raises(BookingError) as error:
        await awaitable  # type: ignore[misc]
    assert error.value.code is code, error.value
    return error.value


async def test_search_gives_local_times_price_and_seats(
    service: BookingService, network: Network
) -> None:
    [option] = await service.search("B", "F", DAY)
    assert option.trip_id == network.trips[DAY]
    assert option.departure.isoformat() == "2026-06-01T09:05:00+02:00"  # Berlin
    assert option.arrival.isoformat() == "2026-06-01T14:00:00+03:00"  # Moscow
    assert option.duration.total_seconds() == 4 * 3600 - 5 * 60
    assert (option.price, option.currency) == (4000, "EUR")
    assert option.seats_free == option.capacity == network.layout_capacity


async def test_search_bad_input(service: BookingService, network: Network) -> None:
    await expect(ErrorCode.UNKNOWN_STATION, service.search("A", "Nowhere", DAY))
    await expect(ErrorCode.SAME_STATION, service.search("A", "A", DAY))
    await expect(ErrorCode.WRONG_DIRECTION, service.search("D", "B", DAY))
    await expect(ErrorCode.PAST_DATE, service.search("A", "B", date(2026, 5, 31)))
    assert await service.search("A", "B", date(2026, 6, 20)) == []  # no trips that day


async def test_search_hides_departed_trips(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    clock.advance(hours=3)  # 09:00 Berlin: the 08:00 run has left A, not yet C (10:05)
    assert await service.search("A", "B", DAY) == []
    assert len(await service.search("C", "D", DAY)) == 1
    # Its seat map from A has no seat free (a hold would be refused: trip_departed); from
    # C, where it has not called yet, it has.
    trip = network.trips[DAY]
    assert (await service.seat_map(trip, "A", "B")).free == []
    assert "1A" in (await service.seat_map(trip, "C", "D")).free


async def test_alternatives_never_offer_the_trip_that_fell_through(
    service: BookingService, network: Network
) -> None:
    [option] = await service.search("A", "F", DAY)
    around = option.departure
    soonest = [o.trip_id for o in await service.alternatives("A", "F", around, 1)]
    assert soonest[0] == network.trips[DAY]  # its seats are free: it leaves soonest
    others = [o.trip_id for o in await service.alternatives("A", "F", around, 1,
                                                            exclude_trip=network.trips[DAY])]
    assert others and network.trips[DAY] not in others
    assert others[:len(soonest) - 1] == soonest[1:]  # the next ones, in order
    await expect(ErrorCode.BAD_ID, service.alternatives("A", "F", around, 1, exclude_trip=0))


async def test_segment_inventory(service: BookingService, network: Network) -> None:
    trip = network.trips[DAY]
    await service.hold(CUSTOMER, trip, "A", "C", ["Ann"], ["1A"])
    seat_map = await service.seat_map(trip, "C", "E")
    assert "1A" in seat_map.free  # sold A->C, free C->E
    seat_map = await service.seat_map(trip, "B", "D")
    assert "1A" not in seat_map.free
    assert seat_map.rows[0][2] is None  # the aisle
    await service.hold(CUSTOMER, trip, "C", "E", ["Bob"], ["1A"])
    await expect(ErrorCode.SEAT_TAKEN, service.hold(CUSTOMER, trip, "B", "D", ["Cy"], ["1A"]))
    [option] = await service.search("A", "F", DAY)
    assert option.seats_free == network.layout_capacity - 1


async def test_hold_auto_assigns_side_by_side_and_audits(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann", "Bob"])
    seats = [s.seat for s in order.seats]
    assert len(seats) == 2 and seats[0][0] == seats[1][0]
    assert order.amount == 2 * 1000 and order.status is OrderStatus.HELD
    assert order.expires_at is not None
    assert (order.expires_at - order.created_at).total_seconds() == 15 * 60
    assert await audit_rows(engine, order.id) == [(None, "held")]


async def test_hold_bad_input_changes_nothing(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    await expect(ErrorCode.BAD_SEAT_COUNT, service.hold(CUSTOMER, trip, "A", "B", []))
    await expect(ErrorCode.TOO_MANY_SEATS, service.hold(CUSTOMER, trip, "A", "B", ["X"] * 10))
    await expect(ErrorCode.UNKNOWN_SEAT, service.hold(CUSTOMER, trip, "A", "B", ["Ann"], ["9Z"]))
    await expect(
        ErrorCode.DUPLICATE_SEAT, service.hold(CUSTOMER, trip, "A", "B", ["A", "B"], ["1A", "1A"])
    )
    await expect(
        ErrorCode.PASSENGERS_MISMATCH, service.hold(CUSTOMER, trip, "A", "B", ["Ann"], ["1A", "1B"])
    )
    await expect(ErrorCode.BAD_PASSENGER_NAME, service.hold(CUSTOMER, trip, "A", "B", ["  "]))
    await expect(ErrorCode.UNKNOWN_TRIP, service.hold(CUSTOMER, 999999, "A", "B", ["Ann"]))
    await expect(ErrorCode.WRONG_DIRECTION, service.hold(CUSTOMER, trip, "C", "A", ["Ann"]))
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.orders))).scalar() == 0


async def test_not_enough_seats(service: BookingService, engine: AsyncEngine) -> None:
    network = await build_network(engine, rows=1, columns="AB")
    trip = network.trips[DAY]
    await service.hold(CUSTOMER, trip, "A", "C", ["Ann"])
    error = await expect(
        ErrorCode.NOT_ENOUGH_SEATS, service.hold(CUSTOMER, trip, "B", "D", ["Bob", "Cy"])
    )
    assert error.params == {"free": 1}


async def test_request_key_makes_hold_idempotent(service: BookingService, network: Network) -> None:
    first = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"], request_key="k1")
    again = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"], request_key="k1")
    assert again.id == first.id
    assert len(await service.orders_of(CUSTOMER)) == 1


async def test_expired_hold_frees_seats_at_once(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    trip = network.trips[DAY]
    await service.hold(CUSTOMER, trip, "A", "B", ["Ann"], ["1A"])
    clock.advance(minutes=15)
    # No sweeper has run: the seat is free all the same.
    assert "1A" in (await service.seat_map(trip, "A", "B")).free
    await service.hold(2002, trip, "A", "B", ["Bob"], ["1A"])


async def test_confirm_is_idempotent(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "C", ["Ann"])
    first = await service.confirm_payment(order.id, "pay-1", order.amount, "EUR")
    assert first.outcome is ConfirmOutcome.PAID and not first.duplicate
    again = await service.confirm_payment(order.id, "pay-1", order.amount, "EUR")
    assert again.outcome is ConfirmOutcome.PAID and again.duplicate
    assert again.order.status is OrderStatus.PAID
    assert await audit_rows(engine, order.id) == [(None, "held"), ("held", "paid")]
    # A second, different payment for a paid order is kept for a refund, not lost.
    other = await service.confirm_payment(order.id, "pay-2", order.amount, "EUR")
    assert other.outcome is ConfirmOutcome.REFUND_NEEDED and other.reason == "already_paid"


async def test_confirm_amount_mismatch_needs_refund(
    service: BookingService, network: Network
) -> None:
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "C", ["Ann"])
    result = await service.confirm_payment(order.id, "pay-1", order.amount - 1, "EUR")
    assert result.outcome is ConfirmOutcome.REFUND_NEEDED
    assert result.reason == ErrorCode.AMOUNT_MISMATCH.value
    assert (await service.order(order.id)).status is OrderStatus.HELD


async def test_late_payment_succeeds_when_seats_still_free(
    service: BookingService, network: Network, clock: FakeClock, engine: AsyncEngine
) -> None:
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "C", ["Ann"], ["2B"])
    clock.advance(minutes=20)
    assert await service.expire_holds() == 1
    result = await service.confirm_payment(order.id, "late", order.amount, "EUR")
    assert result.outcome is ConfirmOutcome.PAID
    assert "2B" not in (await service.seat_map(network.trips[DAY], "B", "C")).free
    assert await audit_rows(engine, order.id) == [
        (None, "held"), ("held", "expired"), ("expired", "paid")
    ]


async def test_late_payment_after_resale_needs_refund(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    trip = network.trips[DAY]
    order = await service.hold(CUSTOMER, trip, "A", "C", ["Ann"], ["2B"])
    clock.advance(minutes=16)
    resold = await service.hold(2002, trip, "B", "D", ["Bob"], ["2B"])
    result = await service.confirm_payment(order.id, "late", order.amount, "EUR")
    assert result.outcome is ConfirmOutcome.REFUND_NEEDED
    assert result.reason == ErrorCode.SEAT_TAKEN.value
    assert result.order.status is OrderStatus.EXPIRED
    assert (await service.order(resold.id)).status is OrderStatus.HELD
    again = await service.confirm_payment(order.id, "late", order.amount, "EUR")
    assert again.outcome is ConfirmOutcome.REFUND_NEEDED and again.duplicate


@pytest.mark.parametrize(("hours_ahead", "refund"), [(26, 2000), (5, 1000), (1, 0)])
async def test_cancel_refunds_by_policy(
    service: BookingService, network: Network, clock: FakeClock, hours_ahead: int, refund: int
) -> None:
    trip = network.trips[date(2026, 6, 3)]  # leaves A at 2026-06-03 06:00 UTC
    order = await service.hold(CUSTOMER, trip, "A", "C", ["Ann"])
    await service.confirm_payment(order.id, "p", order.amount, "EUR")
    clock.now = clock.now.replace(day=3, hour=6) - timedelta(hours=hours_ahead)
    assert (await service.cancellation_quote(order.id, CUSTOMER)).refund == refund
    cancelled = await service.cancel(order.id, CUSTOMER)
    assert cancelled.refund_amount == refund
    assert cancelled.status is (OrderStatus.REFUNDED if refund else OrderStatus.CANCELLED)
    assert (await service.seat_map(trip, "A", "C")).free.count(order.seats[0].seat) == 1


async def test_cancel_checks_owner_and_state(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"])
    await expect(ErrorCode.NOT_YOUR_ORDER, service.cancel(order.id, 2002))
    await expect(ErrorCode.UNKNOWN_ORDER, service.cancel("nope", CUSTOMER))
    held = await service.cancel(order.id, CUSTOMER)
    assert held.status is OrderStatus.CANCELLED and held.refund_amount is None  # released
    await expect(ErrorCode.NOT_CANCELLABLE, service.cancel(order.id, CUSTOMER))
    other = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"])
    clock.advance(minutes=30)
    await expect(ErrorCode.HOLD_EXPIRED, service.cancel(other.id, CUSTOMER))
    await expect(ErrorCode.NOT_YOUR_ORDER, service.order(other.id, 2002))


async def test_orders_of_customer(service: BookingService, network: Network) -> None:
    later = await service.hold(CUSTOMER, network.trips[date(2026, 6, 4)], "A", "B", ["Ann"])
    sooner = await service.hold(CUSTOMER, network.trips[DAY], "C", "F", ["Ann"])
    await service.hold(2002, network.trips[DAY], "A", "B", ["Bob"])
    views = await service.orders_of(CUSTOMER)
    assert [v.id for v in views] == [sooner.id, later.id]
    assert views[0].origin.name("ru") == "Станция C"
    assert views[0].arrival.isoformat() == "2026-06-01T14:00:00+03:00"


async def test_no_double_allocation_after_mixed_activity(
    service: BookingService, network: Network, clock: FakeClock, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    for origin, destination in [("A", "C"), ("C", "F"), ("B", "D"), ("A", "F")]:
        await service.hold(CUSTOMER, trip, origin, destination, ["Ann", "Bob", "Cy"])
    assert await double_allocations(engine, clock()) == []
