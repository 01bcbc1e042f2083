"""Inputs that once crashed or slipped through the booking core, refused alike on SQLite and
PostgreSQL (issue 9): values no column holds, nonsense, reused keys, endless sweeps,
payments for trips that are gone."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from booking import limits
from booking.customers import CustomerService
from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus, Station, TripStatus
from booking.names import NameProblem
from booking.outbox import OutboxService
from booking.outcomes import ConfirmOutcome, RefundReason
from booking.service import BookingService
from booking.settings import BookingRules
from booking.views import TripOption
from handlers.booking_cards import trip_line
from locales import texts
from storage import tables as t
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import Network, build_network, double_allocations
from tests.snapshot import database_snapshot

DAY = date(2026, 6, 1)
CUSTOMER = 1001
OTHER = 2002


@pytest.fixture
async def network(engine: AsyncEngine) -> Network:
    """Stations A-F and a daily 08:00 trip through all of them."""
    return await build_network(engine)


async def refused(code: ErrorCode, awaitable: Any) -> BookingError:
    with pytest.raises(BookingError) as error:
        await awaitable
    assert error.value.code is code, error.value
    return error.value


async def audit(engine: AsyncEngine, order_id: str) -> list[tuple[str | None, str, dict[str, Any]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.order_events.c.from_status, t.order_events.c.to_status,
                   t.order_events.c.detail)
            .where(t.order_events.c.order_id == order_id)
            .order_by(t.order_events.c.id)
        )
        return [(r.from_status, r.to_status, r.detail) for r in rows]


async def payment_rows(engine: AsyncEngine) -> list[tuple[str, str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.payments.c.order_id, t.payments.c.reference, t.payments.c.amount)
            .order_by(t.payments.c.id)
        )
        return [(r.order_id, r.reference, r.amount) for r in rows]


# ---- 1. values the database cannot store are refused, before any statement ------------------


TOO_BIG_FOR_INTEGER = 2**31
TOO_BIG_FOR_BIGINT = 2**63


async def test_ids_outside_their_columns_are_refused_alike(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    before = await database_snapshot(engine)
    for bad_trip in (TOO_BIG_FOR_INTEGER, -1, 0):
        error = await refused(ErrorCode.BAD_ID, service.seat_map(bad_trip, "A", "B"))
        assert error.params["field"] == "trip_id"
        await refused(ErrorCode.BAD_ID, service.trip_option(bad_trip, "A", "B"))
        await refused(ErrorCode.BAD_ID, service.hold(CUSTOMER, bad_trip, "A", "B", ["Ann"]))
    for bad_customer in (TOO_BIG_FOR_BIGINT, -(2**63) - 1):
        await refused(ErrorCode.BAD_ID, service.hold(bad_customer, trip, "A", "B", ["Ann"]))
        await refused(ErrorCode.BAD_ID, service.orders_of(bad_customer))
    # The largest ids that fit are asked about, not refused.
    await refused(ErrorCode.UNKNOWN_TRIP, service.seat_map(limits.MAX_INT32, "A", "B"))
    assert await service.orders_of(limits.MAX_INT64) == []
    assert await database_snapshot(engine) == before


async def test_order_ids_that_no_order_has_are_refused(
    service: BookingService, network: Network
) -> None:
    for bad in ("x" * 33, "", "a\x00b", "ab\ud800", "' OR 1=1 --", "абв"):
        await refused(ErrorCode.BAD_ID, service.order(bad))
        await refused(ErrorCode.BAD_ID, service.cancel(bad, CUSTOMER))
        await refused(ErrorCode.BAD_ID, service.cancellation_quote(bad, CUSTOMER))
        await refused(ErrorCode.BAD_ID, service.confirm_payment(bad, "ref", 100, "EUR"))
    await refused(ErrorCode.UNKNOWN_ORDER, service.order("f" * 32))  # well formed, unknown


@pytest.mark.parametrize(
    "bad",
    ["A\x00", "\ud83d", "X" * (limits.STATION_CODE_LENGTH + 1), "A\x1b[2J", "", "\x7f"],
    ids=["nul", "surrogate", "too-long", "escape", "empty", "del"],
)
async def test_station_codes_no_column_holds_are_refused(
    service: BookingService, network: Network, engine: AsyncEngine, bad: str
) -> None:
    trip = network.trips[DAY]
    before = await database_snapshot(engine)
    await refused(ErrorCode.BAD_TEXT, service.search(bad, "B", DAY))
    await refused(ErrorCode.BAD_TEXT, service.search("A", bad, DAY))
    await refused(ErrorCode.BAD_TEXT, service.destinations(bad))
    await refused(ErrorCode.BAD_TEXT, service.nearest_days("A", bad, DAY, 1))
    await refused(ErrorCode.BAD_TEXT, service.seat_map(trip, bad, "B"))
    await refused(ErrorCode.BAD_TEXT, service.hold(CUSTOMER, trip, "A", bad, ["Ann"]))
    assert await database_snapshot(engine) == before


async def test_request_keys_no_column_holds_are_refused(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    before = await database_snapshot(engine)
    for key in ("k" * (limits.REQUEST_KEY_LENGTH + 1), "k\x00", "k\udfff", ""):
        error = await refused(
            ErrorCode.BAD_TEXT, service.hold(CUSTOMER, trip, "A", "B", ["Ann"], request_key=key)
        )
        assert error.params["field"] == "request_key"
    assert await database_snapshot(engine) == before
    order = await service.hold(CUSTOMER, trip, "A", "B", ["Ann"],
                               request_key="k" * limits.REQUEST_KEY_LENGTH)
    assert order.status is OrderStatus.HELD


async def test_payment_callbacks_that_cannot_be_recorded_are_refused_not_lost(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    """Refused before the transaction, with a code the provider is answered with: a raw
    driver error inside a rolled-back transaction would lose the callback silently."""
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"])
    before = await database_snapshot(engine)
    cases: list[tuple[ErrorCode, dict[str, Any]]] = [
        (ErrorCode.BAD_AMOUNT, {"amount": TOO_BIG_FOR_INTEGER}),
        (ErrorCode.BAD_TEXT, {"reference": "r" * (limits.PAYMENT_REFERENCE_LENGTH + 1)}),
        (ErrorCode.BAD_TEXT, {"reference": "pay\x00"}),
        (ErrorCode.BAD_TEXT, {"reference": "pay\ud800"}),
        (ErrorCode.BAD_TEXT, {"provider": "p" * (limits.PROVIDER_LENGTH + 1)}),
        (ErrorCode.BAD_CURRENCY, {"currency": "EURO"}),
        (ErrorCode.BAD_CURRENCY, {"currency": "eur"}),
        (ErrorCode.BAD_CURRENCY, {"currency": "ABC"}),
        (ErrorCode.BAD_CURRENCY, {"currency": "E\x00R"}),
    ]
    for code, change in cases:
        args: dict[str, Any] = {"reference": "pay-1", "amount": order.amount,
                                "currency": "EUR", "provider": "sandbox", **change}
        await refused(code, service.confirm_payment(order.id, **args))
    assert await database_snapshot(engine) == before
    # A currency that is ISO 4217 but not the order's is recorded, as a refund.
    result = await service.confirm_payment(order.id, "pay-1", order.amount, "USD")
    assert result.reason is RefundReason.AMOUNT_MISMATCH


async def test_customer_use_cases_refuse_ids_and_drop_what_a_profile_cannot_store(
    uow_factory: SqlUnitOfWorkFactory, clock: FakeClock, engine: AsyncEngine
) -> None:
    customers = CustomerService(uow_factory, clock=clock)
    before = await database_snapshot(engine)
    for bad in (0, -5, TOO_BIG_FOR_BIGINT):
        await refused(ErrorCode.BAD_ID, customers.ensure(bad, "Ann"))
        await refused(ErrorCode.BAD_ID, customers.customer(bad))
        await refused(ErrorCode.BAD_ID, customers.set_blocked(bad, True))
        await refused(ErrorCode.BAD_ID, customers.role(bad))
    for language in ("", "x" * 9, "e\x00", "\ud800"):
        await refused(ErrorCode.BAD_TEXT, customers.set_language(CUSTOMER, language))
    assert await database_snapshot(engine) == before
    # Telegram's profile name and language hint are not refused: what cannot be stored goes.
    customer = await customers.ensure(CUSTOMER, "Ann\x00 \ud800Lee\x1b", "e\x00")
    assert (customer.name, customer.language) == ("Ann Lee", None)


# ---- 2. text that is not a name --------------------------------------------------------------


async def test_hold_refuses_what_is_not_a_name_and_stores_names_normalised(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    """The chat (check_passenger_name) and the hold share the domain's one rule."""
    trip = network.trips[DAY]
    before = await database_snapshot(engine)
    for raw, reason in [
        ("\u202eAnn", NameProblem.INVISIBLE), ("Ann\u200bLee", NameProblem.INVISIBLE),
        ("Ann\x1b[2J", NameProblem.CONTROL), ("Ann\x07", NameProblem.CONTROL),
        ("Ann 😀", NameProblem.SYMBOL),
    ]:
        error = await refused(ErrorCode.BAD_PASSENGER_NAME,
                              service.hold(CUSTOMER, trip, "A", "B", ["Bob", raw]))
        assert error.params["reason"] is reason
        with pytest.raises(BookingError) as checked:
            service.check_passenger_name(raw)
        assert checked.value.params == error.params
    assert await database_snapshot(engine) == before
    order = await service.hold(CUSTOMER, trip, "A", "B", ["Zoe\u0301\u00a0 Lee"])
    assert order.passengers == ["Zoé Lee"] == [service.check_passenger_name("Zoé Lee")]


# ---- 3. nonsense accepted as real ------------------------------------------------------------


async def test_negative_customer_ids_make_no_order(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    before = await database_snapshot(engine)
    error = await refused(
        ErrorCode.BAD_ID, service.hold(-1, network.trips[DAY], "A", "B", ["Ann"])
    )
    assert error.params["field"] == "customer_id"
    await refused(ErrorCode.BAD_ID, service.orders_of(-1))
    await refused(ErrorCode.BAD_ID, service.cancel("f" * 32, -1))
    assert await database_snapshot(engine) == before


async def test_negative_amounts_and_empty_references_write_no_payment(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    order = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"])
    before = await database_snapshot(engine)
    await refused(ErrorCode.BAD_AMOUNT, service.confirm_payment(order.id, "p", -order.amount,
                                                                "EUR"))
    await refused(ErrorCode.BAD_AMOUNT, service.confirm_payment(order.id, "p", -1, "EUR"))
    error = await refused(ErrorCode.BAD_TEXT, service.confirm_payment(order.id, "", order.amount,
                                                                      "EUR"))
    assert error.params == {"field": "reference", "problem": limits.TextProblem.EMPTY}
    await refused(ErrorCode.BAD_TEXT, service.confirm_payment(order.id, "p", order.amount, "EUR",
                                                              provider=""))
    assert await payment_rows(engine) == []
    assert await database_snapshot(engine) == before


# ---- 4. the same request key, or payment reference, for something else ----------------------


async def test_same_request_key_same_request_replays_the_first_answer(
    service: BookingService, network: Network
) -> None:
    trip = network.trips[DAY]
    first = await service.hold(CUSTOMER, trip, "A", "C", ["Ann", "Bob"], request_key="k")
    again = await service.hold(CUSTOMER, trip, "A", "C", ["Ann", "Bob"], request_key="k")
    assert again == first
    seats = [s.seat for s in first.seats]
    same_seats = await service.hold(CUSTOMER, trip, "A", "C", ["Ann", "Bob"], seats,
                                    request_key="k")
    assert same_seats.id == first.id
    # Another customer's key of the same spelling is theirs alone.
    other = await service.hold(OTHER, trip, "A", "C", ["Cy"], request_key="k")
    assert other.id != first.id
    assert len(await service.orders_of(CUSTOMER)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"trip": date(2026, 6, 2)},
        {"origin": "B"},
        {"destination": "D"},
        {"passengers": ["Ann", "Cy"]},
        {"passengers": ["Ann"]},
        {"seats": ["5A", "5B"]},
        {"origin": "C", "destination": "A"},  # no such stretch at all
    ],
    ids=["trip", "origin", "destination", "names", "fewer", "seats", "wrong-way"],
)
async def test_same_request_key_different_request_is_refused(
    service: BookingService, network: Network, engine: AsyncEngine, change: dict[str, Any]
) -> None:
    request: dict[str, Any] = {"trip": DAY, "origin": "A", "destination": "C",
                               "passengers": ["Ann", "Bob"], "seats": None, **change}
    await service.hold(CUSTOMER, network.trips[DAY], "A", "C", ["Ann", "Bob"], request_key="k")
    before = await database_snapshot(engine)
    await refused(
        ErrorCode.REQUEST_KEY_REUSED,
        service.hold(CUSTOMER, network.trips[request["trip"]], request["origin"],
                     request["destination"], request["passengers"], request["seats"],
                     request_key="k"),
    )
    assert await database_snapshot(engine) == before


async def test_concurrent_holds_with_one_request_key_never_surface_a_constraint_error(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    """Two trips, so neither waits for the other's trip lock: on PostgreSQL both reach the
    insert, and the loser's unique violation becomes a retry that finds the winner."""
    trips = [network.trips[DAY], network.trips[DAY + timedelta(days=1)]]
    for attempt in range(6):
        key = f"race-{attempt}"
        results = await asyncio.gather(
            *(service.hold(CUSTOMER, trip, "A", "B", ["Ann"], request_key=key) for trip in trips),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1, results
        assert [type(e) for e in lost] == [BookingError], results
        assert isinstance(lost[0], BookingError)
        assert lost[0].code is ErrorCode.REQUEST_KEY_REUSED
        # The same request, racing itself, is one order.
        same = await asyncio.gather(
            *(service.hold(CUSTOMER, trips[0], "C", "D", ["Bob"], request_key=f"same-{attempt}")
              for _ in range(3))
        )
        assert len({view.id for view in same}) == 1
    assert await double_allocations(engine, service.now()) == []


async def test_payment_reference_of_another_order_is_refused_and_kept(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    paid = await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"])
    other = await service.hold(OTHER, network.trips[DAY], "A", "B", ["Bob"])
    assert (await service.confirm_payment(paid.id, "ref-1", paid.amount, "EUR")).outcome is (
        ConfirmOutcome.PAID
    )
    error = await refused(
        ErrorCode.PAYMENT_REFERENCE_USED,
        service.confirm_payment(other.id, "ref-1", other.amount, "EUR"),
    )
    assert "order" not in error.params  # the other order is not the caller's to know
    assert await payment_rows(engine) == [(paid.id, "ref-1", paid.amount)]
    assert (await service.order(other.id)).status is OrderStatus.HELD
    # The event is kept in the order's history, with no change of status.
    [created, note] = await audit(engine, other.id)
    assert created[:2] == (None, "held")
    assert note == ("held", "held", {"refused": "payment_reference_used", "reference": "ref-1",
                                     "amount": other.amount, "currency": "EUR"})


async def test_one_payment_reference_confirmed_for_two_orders_at_once(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    """Orders on two trips, so neither confirmation waits for the other's trip lock."""
    for attempt in range(6):
        orders = [
            await service.hold(CUSTOMER + n, network.trips[DAY + timedelta(days=n)], "A", "B",
                               ["Ann"])
            for n in range(2)
        ]
        reference = f"race-{attempt}"
        results = await asyncio.gather(
            *(service.confirm_payment(o.id, reference, o.amount, "EUR") for o in orders),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and won[0].outcome is ConfirmOutcome.PAID, results
        assert len(lost) == 1 and isinstance(lost[0], BookingError), results
        assert lost[0].code is ErrorCode.PAYMENT_REFERENCE_USED
        loser = next(o for o in orders if o.id != won[0].order.id)
        assert [e[2].get("refused") for e in await audit(engine, loser.id)] == [
            None, "payment_reference_used"]
    references = [r[1] for r in await payment_rows(engine)]
    assert len(references) == len(set(references)) == 6


# ---- 5. a sweep that never ends -------------------------------------------------------------


@pytest.mark.parametrize("batch", [0, -1, -(2**40), 10**9])
async def test_expiry_sweep_refuses_batch_sizes_that_never_end(
    service: BookingService, network: Network, clock: FakeClock, engine: AsyncEngine, batch: int
) -> None:
    await service.hold(CUSTOMER, network.trips[DAY], "A", "B", ["Ann"])
    clock.advance(minutes=20)
    before = await database_snapshot(engine)
    error = await refused(ErrorCode.BAD_BATCH_SIZE,
                          asyncio.wait_for(service.expire_holds(batch), timeout=10))
    assert error.params["field"] == "batch"
    assert await database_snapshot(engine) == before
    assert await asyncio.wait_for(service.expire_holds(1), timeout=10) == 1


async def test_expiry_sweep_ends_even_when_every_batch_is_full(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    for n in range(5):
        await service.hold(CUSTOMER + n, network.trips[DAY], "A", "B", ["Ann"])
    clock.advance(minutes=20)
    assert await service.expire_holds(1) == 5  # five full batches, then an empty one
    assert await service.expire_holds(1) == 0


@pytest.mark.parametrize("limit", [0, -1, 10**6])
async def test_outbox_delivery_refuses_limits_out_of_bounds(
    uow_factory: SqlUnitOfWorkFactory, clock: FakeClock, limit: int
) -> None:
    outbox = OutboxService(uow_factory, clock=clock)
    await refused(ErrorCode.BAD_BATCH_SIZE, outbox.deliver_due({}, limit=limit))


async def test_nearest_days_refuses_seat_counts_and_survives_extreme_dates(
    service: BookingService, network: Network
) -> None:
    await refused(ErrorCode.BAD_SEAT_COUNT, service.nearest_days("A", "B", DAY, 0))
    await refused(ErrorCode.TOO_MANY_SEATS, service.nearest_days("A", "B", DAY, 10**9))
    assert await service.nearest_days("A", "B", date.min, 1) == []
    assert await service.nearest_days("A", "B", date.max, 1) == []
    await refused(ErrorCode.PAST_DATE, service.search("A", "B", date.min))
    await refused(ErrorCode.DATE_TOO_FAR, service.search("A", "B", date.max))


@pytest.mark.parametrize("hours", [0, 14, -12])
async def test_alternatives_survive_extreme_times(
    service: BookingService, network: Network, clock: FakeClock, hours: int
) -> None:
    zone = timezone(timedelta(hours=hours))
    soonest = await service.alternatives("A", "F", clock.now, 1)
    assert soonest
    # A time long past is now; no arithmetic on it overflows.
    for past in (datetime.min.replace(tzinfo=zone), datetime(1, 1, 1, tzinfo=zone)):
        assert await service.alternatives("A", "F", past, 1) == soonest
    # A time after the last day on sale is refused as a search of that day is.
    for future in (datetime.max.replace(tzinfo=zone),
                   datetime(9999, 12, 31, 23, 59, 59, tzinfo=zone)):
        error = await refused(ErrorCode.DATE_TOO_FAR,
                              service.alternatives("A", "F", future, 1))
        assert error.params["date"] == future.isoformat()


async def test_alternatives_refuse_from_the_day_after_the_last_on_sale(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    tz = next(s for s in await service.stations() if s.code == "A").tz
    last = clock.now.astimezone(tz).date() + timedelta(days=service.limits().booking_horizon_days)
    assert await service.alternatives(
        "A", "F", datetime.combine(last, time(23, 59), tzinfo=tz), 1) == []
    await refused(ErrorCode.DATE_TOO_FAR, service.search("A", "F", last + timedelta(days=1)))
    await refused(ErrorCode.DATE_TOO_FAR, service.alternatives(
        "A", "F", datetime.combine(last + timedelta(days=1), time(0, 1), tzinfo=tz), 1))


async def test_alternatives_refuse_seat_counts_and_trip_ids_as_the_rest(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    limit = service.limits().max_seats_per_order
    await refused(ErrorCode.BAD_SEAT_COUNT, service.alternatives("A", "F", clock.now, 0))
    error = await refused(ErrorCode.TOO_MANY_SEATS,
                          service.alternatives("A", "F", clock.now, limit + 1))
    assert error.params == {"limit": limit}
    error = await refused(ErrorCode.BAD_ID, service.alternatives("A", "F", clock.now, 1,
                                                                 exclude_trip=2**31))
    assert error.params["field"] == "exclude_trip"


# ---- 7. paying for a trip that is gone -------------------------------------------------------


async def set_trip_status(engine: AsyncEngine, trip_id: int, status: TripStatus) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(t.trips).where(t.trips.c.id == trip_id).values(status=status.value)
        )


async def test_live_hold_on_a_cancelled_trip_is_refunded_not_paid(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    order = await service.hold(CUSTOMER, trip, "A", "C", ["Ann"])
    await set_trip_status(engine, trip, TripStatus.CANCELLED)
    assert (await service.order(order.id)).expires_at is not None  # the hold is still live
    result = await service.confirm_payment(order.id, "pay-1", order.amount, "EUR")
    assert result.outcome is ConfirmOutcome.REFUND_NEEDED
    assert result.reason is RefundReason.TRIP_CANCELLED
    assert result.order.status is OrderStatus.HELD
    again = await service.confirm_payment(order.id, "pay-1", order.amount, "EUR")
    assert again.duplicate and again.outcome is ConfirmOutcome.REFUND_NEEDED


async def test_a_hold_ends_at_departure_and_a_payment_after_it_is_refunded(
    service: BookingService, network: Network, clock: FakeClock
) -> None:
    trip = network.trips[DAY]  # leaves A at 06:00 UTC
    clock.now = clock.now.replace(hour=5, minute=55)
    order = await service.hold(CUSTOMER, trip, "A", "C", ["Ann"])
    assert order.expires_at == clock.now.replace(hour=6, minute=0)  # not 06:10
    clock.advance(minutes=10)  # departed, the hold with it
    assert (await service.order(order.id)).expires_at is None
    result = await service.confirm_payment(order.id, "pay-1", order.amount, "EUR")
    assert result.outcome is ConfirmOutcome.REFUND_NEEDED
    assert result.reason is RefundReason.TRIP_DEPARTED


async def test_expired_hold_on_a_cancelled_trip_is_refunded_though_its_seats_are_free(
    service: BookingService, network: Network, clock: FakeClock, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    order = await service.hold(CUSTOMER, trip, "A", "C", ["Ann"])
    clock.advance(minutes=20)
    await set_trip_status(engine, trip, TripStatus.CANCELLED)
    result = await service.confirm_payment(order.id, "late", order.amount, "EUR")
    assert result.reason is RefundReason.TRIP_CANCELLED
    assert result.order.status is OrderStatus.EXPIRED


async def test_cancelled_trip_is_shown_cancelled_in_search_and_seat_map(
    service: BookingService, network: Network, engine: AsyncEngine
) -> None:
    trip = network.trips[DAY]
    await service.hold(CUSTOMER, trip, "A", "C", ["Ann"], ["1A"])
    await set_trip_status(engine, trip, TripStatus.CANCELLED)
    [option] = await service.search("A", "C", DAY)
    assert option.trip_id == trip
    assert option.status is TripStatus.CANCELLED
    assert option.seats_free == 0
    seat_map = await service.seat_map(trip, "A", "C")
    assert seat_map.trip_status is TripStatus.CANCELLED
    assert seat_map.free == []
    assert "1B" in seat_map.labels
    # No day with seats is offered on a cancelled trip, and it cannot be booked.
    assert DAY not in await service.nearest_days("A", "C", DAY + timedelta(days=1), 1)
    await refused(ErrorCode.TRIP_CANCELLED, service.trip_option(trip, "A", "C"))
    await refused(ErrorCode.TRIP_CANCELLED, service.hold(OTHER, trip, "A", "C", ["Bob"]))
    # A trip running as planned says so.
    assert (await service.seat_map(network.trips[DAY + timedelta(days=1)], "A", "C")
            ).trip_status is TripStatus.SCHEDULED


def test_trip_list_says_a_cancelled_trip_is_cancelled_not_sold_out() -> None:
    station = Station("A", {"en": "Alpha"}, "Europe/Berlin")
    departs = datetime(2026, 6, 1, 8, 0, tzinfo=station.tz)
    option = TripOption(1, "A - B", station, station, 0, 1, departs, departs + timedelta(hours=1),
                        1000, "EUR", 0, 20, TripStatus.CANCELLED, 0)
    assert "cancelled" in trip_line(texts("en"), option)
    assert "sold out" in trip_line(texts("en"), replace(option, status=TripStatus.SCHEDULED))


# ---- 8. one customer's unpaid holds ----------------------------------------------------------


async def test_a_customers_unpaid_holds_stop_at_the_cap_until_one_ends(
    uow_factory: SqlUnitOfWorkFactory, network: Network, clock: FakeClock, engine: AsyncEngine
) -> None:
    capped = BookingService(uow_factory, rules=BookingRules(max_live_holds=2), clock=clock)
    trip = network.trips[DAY]
    first = await capped.hold(CUSTOMER, trip, "A", "C", ["Ann"], request_key="k1")
    await capped.hold(CUSTOMER, trip, "A", "C", ["Bo"])
    before = await database_snapshot(engine)
    error = await refused(ErrorCode.TOO_MANY_HOLDS,
                          capped.hold(CUSTOMER, trip, "A", "C", ["Cy"]))
    assert error.params == {"limit": 2}
    assert await database_snapshot(engine) == before  # nothing held, nothing written
    # The same request again is the order it made, not a new hold the cap refuses.
    assert (await capped.hold(CUSTOMER, trip, "A", "C", ["Ann"], request_key="k1")).id == first.id
    # Another customer is not held back by this one's holds.
    await capped.hold(CUSTOMER + 1, trip, "A", "C", ["Di"])
    # A paid or cancelled hold no longer counts, nor one that ran out.
    await capped.cancel(first.id, CUSTOMER)
    third = await capped.hold(CUSTOMER, trip, "A", "C", ["Cy"])
    await capped.confirm_payment(third.id, "pay-cap", third.amount, third.currency)
    clock.advance(minutes=capped.limits().hold_minutes + 1)
    await capped.hold(CUSTOMER, trip, "A", "C", ["Ed"])
    await capped.hold(CUSTOMER, trip, "A", "C", ["Flo"])
    await refused(ErrorCode.TOO_MANY_HOLDS, capped.hold(CUSTOMER, trip, "A", "C", ["Gus"]))


async def test_without_a_cap_a_customer_may_hold_as_often_as_seats_allow(
    service: BookingService, network: Network
) -> None:
    for name in ("Ann", "Bo", "Cy", "Di"):
        await service.hold(CUSTOMER, network.trips[DAY], "A", "C", [name])
