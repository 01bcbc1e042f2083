"""The booking decisions, on the in-memory fakes (tests/fakes.py) and a clock moved by hand.

Refunds, refusals, payment outcomes, expiry and its messages, the nearest days with seats:
what the use cases decide, fast and with no database. tests/test_booking_service.py runs the
same use cases on SQLite and PostgreSQL and proves the SQL.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import product
from typing import Any

import pytest

from booking.customers import CustomerService
from booking.errors import BookingError, ErrorCode
from booking.model import (
    ORDER_TRANSITIONS,
    Customer,
    IllegalTransition,
    Order,
    OrderStatus,
    RefundPolicy,
    SeatAllocation,
    TripStatus,
)
from booking.outbox import (
    MAX_ATTEMPTS,
    DeliveryStatus,
    MessageKind,
    OutboxService,
    RetryLater,
    Undeliverable,
    backoff,
)
from booking.outcomes import CancelKind, ConfirmOutcome, PaymentStatus, RefundReason
from booking.ports import AuditEvent, OutboxMessage, UnitOfWorkFactory
from booking.service import BookingService
from booking.settings import BookingRules
from booking.views import OrderView
from tests.conftest import FakeClock
from tests.fakes import FakeDatabase, FakeNetwork, FakeUnitOfWorkFactory, seed_network

DAY = date(2026, 6, 1)  # the clock starts at 04:00 UTC; the day's trip leaves A at 06:00 UTC
LATER = date(2026, 6, 3)  # its trip leaves A at 2026-06-03 06:00 UTC
CUSTOMER = 1001
OTHER = 2002
A_TO_C = 2000  # one seat A -> C, in cents


@pytest.fixture
def uow() -> FakeUnitOfWorkFactory:
    """Units of work on an empty in-memory database."""
    return FakeUnitOfWorkFactory()


@pytest.fixture
def db(uow: FakeUnitOfWorkFactory) -> FakeDatabase:
    """The in-memory database's committed state."""
    return uow.db


@pytest.fixture
def network(db: FakeDatabase) -> FakeNetwork:
    """Stations A-F and a daily 08:00 (Berlin) trip through all of them, 20 seats."""
    return seed_network(db)


@pytest.fixture
def booking(uow: FakeUnitOfWorkFactory, clock: FakeClock) -> BookingService:
    """The booking service on the fakes with the fake clock."""
    factory: UnitOfWorkFactory = uow  # the fake implements the port
    return BookingService(factory, rules=BookingRules(), clock=clock)


async def expect(code: ErrorCode, awaitable: Awaitable[Any]) -> BookingError:
    with pytest.raises(BookingError) as error:
        await awaitable
    assert error.value.code is code, error.value
    return error.value


async def hold(
    booking: BookingService,
    network: FakeNetwork,
    day: date = DAY,
    origin: str = "A",
    destination: str = "C",
    *,
    names: tuple[str, ...] = ("Ann",),
    seats: list[str] | None = None,
    customer: int = CUSTOMER,
) -> OrderView:
    return await booking.hold(customer, network.trips[day], origin, destination, names, seats)


async def paid(booking: BookingService, network: FakeNetwork, day: date = DAY) -> OrderView:
    order = await hold(booking, network, day)
    result = await booking.confirm_payment(order.id, f"pay-{order.id}", order.amount, "EUR")
    assert result.outcome is ConfirmOutcome.PAID
    return result.order


def departure_of(day: date) -> datetime:
    """When that day's trip leaves A (08:00 in Berlin, summer time)."""
    return datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)


# ---- cancellation and refunds --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "refund"),
    [
        (timedelta(hours=26), A_TO_C),
        (timedelta(hours=24), A_TO_C),  # a tier holds from its cut-off on
        (timedelta(hours=23, minutes=59), A_TO_C // 2),
        (timedelta(hours=2), A_TO_C // 2),
        (timedelta(hours=1, minutes=59), 0),
        (timedelta(minutes=1), 0),
    ],
)
async def test_cancelling_a_paid_order_refunds_by_the_policy_tiers(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase,
    ahead: timedelta, refund: int,
) -> None:
    order = await paid(booking, network, LATER)
    clock.now = departure_of(LATER) - ahead
    quote = await booking.cancellation_quote(order.id, CUSTOMER)
    assert (quote.kind, quote.refund, quote.currency) == (CancelKind.REFUND, refund, "EUR")
    cancelled = await booking.cancel(order.id, CUSTOMER)
    assert cancelled.refund_amount == refund  # 0 is a refund of nothing, said as such
    status = OrderStatus.REFUNDED if refund else OrderStatus.CANCELLED
    assert cancelled.status is status
    assert db.committed.events_of(order.id)[-1] == (OrderStatus.PAID, status)
    seat = order.seats[0].seat
    assert seat in (await booking.seat_map(network.trips[LATER], "A", "C")).free


async def test_the_operator_sets_the_refund_policy(
    uow: FakeUnitOfWorkFactory, network: FakeNetwork, clock: FakeClock
) -> None:
    rules = BookingRules(refund_policy=RefundPolicy.parse("72:90,0:10"))
    booking = BookingService(uow, rules=rules, clock=clock)
    order = await paid(booking, network, LATER)  # 50 hours ahead
    assert (await booking.cancellation_quote(order.id, CUSTOMER)).refund == A_TO_C // 10


async def test_a_cancelled_trip_refunds_in_full_whatever_the_hour(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    order = await paid(booking, network)
    trip = db.committed.trips[network.trips[DAY]]
    db.committed.trips[trip.id] = replace(trip, status=TripStatus.CANCELLED)
    clock.now = departure_of(DAY) - timedelta(minutes=30)  # past every tier
    assert (await booking.cancellation_quote(order.id, CUSTOMER)).refund == A_TO_C
    cancelled = await booking.cancel(order.id, CUSTOMER)
    assert (cancelled.status, cancelled.refund_amount) == (OrderStatus.REFUNDED, A_TO_C)


async def test_a_released_hold_has_no_refund_at_all(
    booking: BookingService, network: FakeNetwork, db: FakeDatabase
) -> None:
    order = await hold(booking, network, seats=["2B"])
    quote = await booking.cancellation_quote(order.id, CUSTOMER)
    assert (quote.kind, quote.refund) == (CancelKind.RELEASE, 0)
    released = await booking.cancel(order.id, CUSTOMER)
    # None: no money moved, so there is no refund to talk about (not "a refund of 0").
    assert (released.status, released.refund_amount) == (OrderStatus.CANCELLED, None)
    assert db.committed.events_of(order.id) == [
        (None, OrderStatus.HELD), (OrderStatus.HELD, OrderStatus.CANCELLED)
    ]
    assert "2B" in (await booking.seat_map(network.trips[DAY], "A", "C")).free


async def test_an_expired_hold_cannot_be_cancelled(
    booking: BookingService, network: FakeNetwork, clock: FakeClock
) -> None:
    order = await hold(booking, network)
    clock.advance(minutes=15)
    await expect(ErrorCode.HOLD_EXPIRED, booking.cancellation_quote(order.id, CUSTOMER))
    await expect(ErrorCode.HOLD_EXPIRED, booking.cancel(order.id, CUSTOMER))
    assert not (await booking.order(order.id)).cancellable


async def test_a_departed_order_cannot_be_cancelled(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    order = await paid(booking, network)
    clock.now = departure_of(DAY)
    error = await expect(ErrorCode.NOT_CANCELLABLE, booking.cancel(order.id, CUSTOMER))
    assert error.params == {"status": "departed"}
    view = await booking.order(order.id)
    assert (view.status, view.cancellable, view.upcoming) == (OrderStatus.PAID, False, False)
    assert db.committed.events_of(order.id)[-1] == (OrderStatus.HELD, OrderStatus.PAID)


async def test_only_the_owner_or_staff_may_cancel(
    booking: BookingService, network: FakeNetwork, db: FakeDatabase
) -> None:
    order = await hold(booking, network)
    await expect(ErrorCode.NOT_YOUR_ORDER, booking.cancellation_quote(order.id, OTHER))
    await expect(ErrorCode.NOT_YOUR_ORDER, booking.cancel(order.id, OTHER))
    await expect(ErrorCode.NOT_YOUR_ORDER, booking.order(order.id, OTHER))
    await expect(ErrorCode.UNKNOWN_ORDER, booking.cancel("f" * 32, CUSTOMER))
    assert db.committed.orders[order.id].status is OrderStatus.HELD
    staff = await booking.cancel(order.id, None, actor="staff:7")  # no ownership check
    assert staff.status is OrderStatus.CANCELLED
    assert db.committed.events[-1].actor == "staff:7"
    error = await expect(ErrorCode.NOT_CANCELLABLE, booking.cancel(order.id, CUSTOMER))
    assert error.params == {"status": "cancelled"}


# ---- payments --------------------------------------------------------------------------------


async def test_a_payment_for_a_live_hold_buys_the_seats(
    booking: BookingService, network: FakeNetwork, db: FakeDatabase
) -> None:
    order = await hold(booking, network)
    result = await booking.confirm_payment(order.id, "pay-1", A_TO_C, "EUR")
    assert (result.outcome, result.reason, result.duplicate) == (ConfirmOutcome.PAID, None, False)
    assert (result.order.status, result.order.expires_at) == (OrderStatus.PAID, None)
    stored = db.committed.orders[order.id]
    assert stored.payment_reference == "pay-1"
    assert db.committed.seats[order.id].held_until is None  # sold for good
    [payment] = db.committed.payments
    assert (payment.reference, payment.status) == ("pay-1", PaymentStatus.SUCCEEDED)


@pytest.mark.parametrize(("amount", "currency"), [(A_TO_C - 1, "EUR"), (A_TO_C, "USD")])
async def test_a_payment_that_does_not_match_is_refunded(
    booking: BookingService, network: FakeNetwork, db: FakeDatabase, amount: int, currency: str
) -> None:
    order = await hold(booking, network)
    result = await booking.confirm_payment(order.id, "pay-1", amount, currency)
    assert (result.outcome, result.reason) == (
        ConfirmOutcome.REFUND_NEEDED, RefundReason.AMOUNT_MISMATCH
    )
    assert result.order.status is OrderStatus.HELD  # the hold goes on; a right payment may come
    [payment] = db.committed.payments
    assert payment.status is PaymentStatus.REFUND_NEEDED


async def test_a_second_payment_for_a_paid_order_is_refunded(
    booking: BookingService, network: FakeNetwork, db: FakeDatabase
) -> None:
    order = await paid(booking, network)
    result = await booking.confirm_payment(order.id, "pay-2", A_TO_C, "EUR")
    assert (result.outcome, result.reason) == (
        ConfirmOutcome.REFUND_NEEDED, RefundReason.ALREADY_PAID
    )
    # The same reference from another provider is another payment, not a repeat.
    other = await booking.confirm_payment(
        order.id, f"pay-{order.id}", A_TO_C, "EUR", provider="telegram"
    )
    assert (other.reason, other.duplicate) == (RefundReason.ALREADY_PAID, False)
    assert [p.status for p in db.committed.payments] == [
        PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_NEEDED, PaymentStatus.REFUND_NEEDED
    ]


async def test_a_payment_for_a_closed_order_is_refunded(
    booking: BookingService, network: FakeNetwork
) -> None:
    order = await hold(booking, network)
    await booking.cancel(order.id, CUSTOMER)
    result = await booking.confirm_payment(order.id, "pay-1", A_TO_C, "EUR")
    assert (result.reason, result.order.status) == (
        RefundReason.ORDER_CLOSED, OrderStatus.CANCELLED
    )


async def test_a_payment_for_a_cancelled_trip_is_refunded_while_the_hold_is_live(
    booking: BookingService, network: FakeNetwork, db: FakeDatabase
) -> None:
    order = await hold(booking, network)
    trip = db.committed.trips[network.trips[DAY]]
    db.committed.trips[trip.id] = replace(trip, status=TripStatus.CANCELLED)
    result = await booking.confirm_payment(order.id, "pay-1", A_TO_C, "EUR")
    assert (result.outcome, result.reason) == (
        ConfirmOutcome.REFUND_NEEDED, RefundReason.TRIP_CANCELLED
    )
    assert db.committed.orders[order.id].status is OrderStatus.HELD


async def test_a_payment_after_departure_is_refunded_while_the_hold_is_live(
    booking: BookingService, network: FakeNetwork, clock: FakeClock
) -> None:
    clock.now = departure_of(DAY) - timedelta(minutes=10)
    order = await hold(booking, network, origin="A", destination="B")  # held until 06:05
    clock.now = departure_of(DAY) + timedelta(minutes=1)
    result = await booking.confirm_payment(order.id, "pay-1", order.amount, "EUR")
    assert (result.outcome, result.reason) == (
        ConfirmOutcome.REFUND_NEEDED, RefundReason.TRIP_DEPARTED
    )


async def test_a_late_payment_after_resale_is_refunded(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    order = await hold(booking, network, seats=["2B"])  # A -> C
    clock.advance(minutes=16)
    resold = await hold(booking, network, origin="B", destination="D", seats=["2B"],
                        customer=OTHER)
    result = await booking.confirm_payment(order.id, "late", A_TO_C, "EUR")
    assert (result.outcome, result.reason) == (
        ConfirmOutcome.REFUND_NEEDED, RefundReason.SEAT_TAKEN
    )
    assert result.order.status is OrderStatus.EXPIRED  # written down with the refusal
    assert db.committed.events_of(order.id)[-1] == (OrderStatus.HELD, OrderStatus.EXPIRED)
    assert db.committed.orders[resold.id].status is OrderStatus.HELD  # never sold twice


async def test_a_late_payment_buys_the_seats_when_nobody_took_them(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    order = await hold(booking, network, seats=["2B"])  # A -> C
    clock.advance(minutes=16)
    # C -> E does not overlap A -> C: the seat is still the late payer's to buy.
    await hold(booking, network, origin="C", destination="E", seats=["2B"], customer=OTHER)
    assert await booking.expire_holds() == 1
    result = await booking.confirm_payment(order.id, "late", A_TO_C, "EUR")
    assert (result.outcome, result.order.status) == (ConfirmOutcome.PAID, OrderStatus.PAID)
    assert db.committed.events_of(order.id) == [
        (None, OrderStatus.HELD),
        (OrderStatus.HELD, OrderStatus.EXPIRED),
        (OrderStatus.EXPIRED, OrderStatus.PAID),
    ]
    assert "2B" not in (await booking.seat_map(network.trips[DAY], "B", "C")).free


async def test_confirmation_is_idempotent_per_reference(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    order = await hold(booking, network)
    first = await booking.confirm_payment(order.id, "pay-1", A_TO_C, "EUR")
    again = await booking.confirm_payment(order.id, "pay-1", A_TO_C, "EUR")
    assert (again.outcome, again.duplicate, again.order.status) == (
        ConfirmOutcome.PAID, True, OrderStatus.PAID
    )
    assert again.order == first.order
    assert len(db.committed.payments) == 1
    assert db.committed.events_of(order.id) == [
        (None, OrderStatus.HELD), (OrderStatus.HELD, OrderStatus.PAID)
    ]
    # A refund-needed payment repeated stays one payment needing a refund.
    short = await hold(booking, network)
    await booking.confirm_payment(short.id, "pay-2", 1, "EUR")
    repeat = await booking.confirm_payment(short.id, "pay-2", 1, "EUR")
    assert (repeat.outcome, repeat.duplicate) == (ConfirmOutcome.REFUND_NEEDED, True)
    assert len(db.committed.payments) == 2
    # A reference already used for another order confirms nothing here.
    await expect(ErrorCode.PAYMENT_REFERENCE_USED,
                 booking.confirm_payment(short.id, "pay-1", A_TO_C, "EUR"))
    await expect(ErrorCode.UNKNOWN_ORDER,
                 booking.confirm_payment("f" * 32, "pay-3", 1, "EUR"))
    assert db.committed.orders[short.id].status is OrderStatus.HELD


# ---- expiry and the outbox -------------------------------------------------------------------


async def test_a_hold_asks_to_save_its_passengers(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    await hold(booking, network, names=(" Ann   Lee ", "Bob"), seats=["1A", "1B"])
    [message] = db.committed.outbox_messages()
    assert (message.kind, message.recipient, message.payload, message.due_at) == (
        MessageKind.SAVE_PASSENGERS, CUSTOMER, {"names": ["Ann Lee", "Bob"]}, clock.now
    )
    # A refused hold writes nothing at all, its message included.
    await expect(ErrorCode.SEAT_TAKEN, hold(booking, network, names=("Cy",), seats=["1A"]))
    assert len(db.committed.outbox_messages()) == 1
    assert len(db.committed.orders) == 1


async def test_expiry_tells_the_passenger_once(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    first = await hold(booking, network)
    clock.advance(minutes=10)
    second = await hold(booking, network, customer=OTHER)
    clock.advance(minutes=6)  # the first hold is 16 minutes old, the second 6
    assert await booking.expire_holds() == 1
    assert await booking.expire_holds() == 0
    [message] = db.committed.outbox_messages(MessageKind.HOLD_EXPIRED)
    assert (message.recipient, message.payload) == (CUSTOMER, {"order": first.id})
    assert message.dedupe_key == f"hold_expired:{first.id}"
    assert db.committed.events[-1].actor == "system:expiry"
    assert db.committed.orders[second.id].status is OrderStatus.HELD
    clock.advance(minutes=10)
    assert await booking.expire_holds() == 1
    assert len(db.committed.outbox_messages(MessageKind.HOLD_EXPIRED)) == 2


async def test_expiry_sweeps_in_batches(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    for n in range(5):
        await hold(booking, network, customer=CUSTOMER + n)
    clock.advance(minutes=15)
    assert await booking.expire_holds(batch=2) == 5
    assert {o.status for o in db.committed.orders.values()} == {OrderStatus.EXPIRED}


async def test_a_hold_past_its_time_reads_expired_before_any_sweep(
    booking: BookingService, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    order = await hold(booking, network)
    clock.advance(minutes=14, seconds=59)
    view = await booking.order(order.id)
    assert (view.status, view.expires_at) == (OrderStatus.HELD, order.expires_at)
    clock.advance(seconds=1)
    view = await booking.order(order.id)
    assert (view.status, view.expires_at, view.upcoming, view.cancellable) == (
        OrderStatus.EXPIRED, None, False, False
    )
    assert [v.status for v in await booking.orders_of(CUSTOMER)] == [OrderStatus.EXPIRED]
    assert db.committed.orders[order.id].status is OrderStatus.HELD  # nothing swept yet


async def test_outbox_delivery_sends_retries_and_gives_up(
    uow: FakeUnitOfWorkFactory, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    booking = BookingService(uow, clock=clock)
    customers = CustomerService(uow, clock=clock)
    outbox = OutboxService(uow, clock=clock)
    order = await hold(booking, network, names=("Ann",))
    report = await outbox.deliver_due(
        {MessageKind.SAVE_PASSENGERS: customers.deliver_saved_passengers}
    )
    assert (report.sent, report.handled) == (1, 1)
    assert db.committed.customers[CUSTOMER].saved_passengers == ("Ann",)
    [row] = db.committed.outbox.values()
    assert (row.status, row.message.attempts) == (DeliveryStatus.SENT, 1)
    assert (await outbox.deliver_due({})).handled == 0  # sent once, never again

    clock.advance(minutes=15)
    await booking.expire_holds()

    async def offline(message: OutboxMessage) -> None:
        raise RetryLater("Telegram is down", after=60)

    report = await outbox.deliver_due({MessageKind.HOLD_EXPIRED: offline})
    assert (report.retried, report.handled) == (1, 1)
    [expired] = db.committed.outbox_messages(MessageKind.HOLD_EXPIRED)
    assert expired.payload == {"order": order.id}
    assert expired.due_at == clock.now + max(backoff(1), timedelta(seconds=60))
    assert (await outbox.deliver_due({MessageKind.HOLD_EXPIRED: offline})).handled == 0
    for _ in range(MAX_ATTEMPTS - 1):
        clock.advance(hours=1)
        await outbox.deliver_due({MessageKind.HOLD_EXPIRED: offline})
    statuses = {r.message.kind: r.status for r in db.committed.outbox.values()}
    assert statuses[MessageKind.HOLD_EXPIRED] == DeliveryStatus.FAILED  # after MAX_ATTEMPTS
    assert db.committed.outbox_messages(MessageKind.HOLD_EXPIRED)[0].attempts == MAX_ATTEMPTS


async def test_outbox_marks_a_blocked_person(
    uow: FakeUnitOfWorkFactory, network: FakeNetwork, clock: FakeClock, db: FakeDatabase
) -> None:
    booking = BookingService(uow, clock=clock)

    async def blocked(message: OutboxMessage) -> None:
        raise Undeliverable("Forbidden: bot was blocked by the user", blocked=True)

    await hold(booking, network)
    report = await OutboxService(uow, clock=clock).deliver_due(
        {MessageKind.SAVE_PASSENGERS: blocked}
    )
    assert report.blocked == 1
    [row] = db.committed.outbox.values()
    assert (row.status, row.last_error) == (
        DeliveryStatus.BLOCKED, "Forbidden: bot was blocked by the user"
    )


# ---- search --------------------------------------------------------------------------------


async def test_nearest_days_are_the_closest_with_enough_seats(
    uow: FakeUnitOfWorkFactory, clock: FakeClock, db: FakeDatabase
) -> None:
    network = seed_network(db, rows=1, columns="AB")  # two seats a trip, June 1-7
    booking = BookingService(uow, clock=clock)
    await hold(booking, network, DAY, "A", "F", names=("Ann", "Bob"))  # June 1 full
    await hold(booking, network, date(2026, 6, 2), "A", "F")  # June 2: one seat left
    june = [date(2026, 6, d) for d in range(1, 8)]
    opened = len(uow.opened)
    assert await booking.nearest_days("A", "F", DAY, 2) == [june[2], june[3], june[4]]
    assert len(uow.opened) == opened + 1  # one search over the window, not one a day
    assert await booking.nearest_days("A", "F", DAY, 1) == [june[1], june[2], june[3]]
    # Both sides of the day, the nearer first, the day asked about never among them.
    assert await booking.nearest_days("A", "F", june[3], 2) == [june[2], june[4], june[5]]
    # Holds that ran out free their seats at once; June 1 (not yet left) is offered again.
    clock.advance(minutes=15)
    assert await booking.nearest_days("A", "F", june[1], 2) == [june[0], june[2], june[3]]
    # Never past the booking horizon, however near the days beyond it.
    near = BookingService(uow, rules=BookingRules(booking_horizon_days=2), clock=clock)
    assert await near.nearest_days("A", "F", june[5], 2) == [june[0], june[1], june[2]]


# ---- the rules underneath ------------------------------------------------------------------


@pytest.mark.parametrize(("current", "wanted"), list(product(OrderStatus, OrderStatus)))
def test_only_the_allowed_transitions_happen(current: OrderStatus, wanted: OrderStatus) -> None:
    order = Order(
        "o1", CUSTOMER, 1, 0, 2, current, A_TO_C, "EUR", (SeatAllocation("1A", "Ann"),),
        datetime(2026, 6, 1, tzinfo=UTC),
    )
    if wanted in ORDER_TRANSITIONS[current]:
        assert order.transition(wanted).status is wanted
    else:
        with pytest.raises(IllegalTransition) as error:
            order.transition(wanted)
        assert (error.value.current, error.value.wanted) == (current, wanted)


async def test_an_illegal_status_change_is_never_written(
    booking: BookingService, network: FakeNetwork, uow: FakeUnitOfWorkFactory,
    clock: FakeClock, db: FakeDatabase,
) -> None:
    view = await hold(booking, network)
    await booking.cancel(view.id, CUSTOMER)
    async with uow(write=True) as u:
        order = await u.orders.get(view.id)
        assert order is not None
        event = AuditEvent(order.id, clock.now, order.status, OrderStatus.PAID, "test", {})
        with pytest.raises(IllegalTransition):
            await u.orders.change_status(order, OrderStatus.PAID, event, seats_live=True)
        # Nor one decided from a status that has changed since.
        stale = replace(order, status=OrderStatus.HELD)
        event = AuditEvent(order.id, clock.now, OrderStatus.HELD, OrderStatus.PAID, "test", {})
        with pytest.raises(RuntimeError, match="changed under us"):
            await u.orders.change_status(stale, OrderStatus.PAID, event, seats_live=True)
    assert db.committed.orders[view.id].status is OrderStatus.CANCELLED


async def test_a_unit_of_work_rolls_back_unless_committed(
    uow: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    async with uow(write=True) as u:
        await u.customers.add_if_missing(Customer.new(1), clock.now)
        assert await u.customers.get(1) is not None  # seen inside
        async with uow() as other:
            assert await other.customers.get(1) is None  # not outside, before the commit
    async with uow() as u:
        assert await u.customers.get(1) is None

    with pytest.raises(ZeroDivisionError):
        async with uow(write=True) as u:
            await u.customers.add_if_missing(Customer.new(1), clock.now)
            1 / 0  # noqa: B018
    async with uow() as u:
        assert await u.customers.get(1) is None

    async with uow(write=True) as u:
        await u.customers.add_if_missing(Customer.new(1), clock.now)
        await u.commit()
        await u.customers.add_if_missing(Customer.new(2), clock.now)  # after the commit
    async with uow() as u:
        assert await u.customers.get(1) is not None
        assert await u.customers.get(2) is None


async def test_lock_waits_are_retried_then_answered_busy(
    booking: BookingService, network: FakeNetwork, uow: FakeUnitOfWorkFactory, db: FakeDatabase
) -> None:
    uow.lock_timeouts = booking.rules.lock_retries
    order = await hold(booking, network)  # the last try gets the lock
    assert order.status is OrderStatus.HELD
    uow.lock_timeouts = booking.rules.lock_retries + 1
    await expect(ErrorCode.BUSY, hold(booking, network))
    assert len(db.committed.orders) == 1
