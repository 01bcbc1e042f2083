"""The domain's limits (booking/limits.py) on their own, and held equal to the columns."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Integer, String

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.names import MAX_NAME_LENGTH
from storage import tables as t


@pytest.mark.parametrize(
    ("limit", "column"),
    [
        (limits.STATION_CODE_LENGTH, t.stations.c.code),
        (limits.ORDER_ID_LENGTH, t.orders.c.id),
        (limits.REQUEST_KEY_LENGTH, t.orders.c.request_key),
        (limits.PAYMENT_REFERENCE_LENGTH, t.payments.c.reference),
        (limits.PROVIDER_LENGTH, t.payments.c.provider),
        (limits.ACTOR_LENGTH, t.order_events.c.actor),
        (limits.CUSTOMER_NAME_LENGTH, t.customers.c.name),
        (limits.LANGUAGE_LENGTH, t.customers.c.language),
        (limits.ROUTE_NAME_LENGTH, t.routes.c.name),
        (limits.AGENCY_NAME_LENGTH, t.routes.c.agency),
        (limits.SEAT_LABEL_LENGTH, t.allocations.c.seat),
        (3, t.orders.c.currency),
        (3, t.payments.c.currency),
        (3, t.routes.c.currency),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_text_limits_are_the_column_lengths(limit: int, column: object) -> None:
    assert isinstance(column.type, String)  # type: ignore[attr-defined]
    assert column.type.length == limit  # type: ignore[attr-defined]


def test_passenger_names_fit_their_column() -> None:
    assert isinstance(t.allocations.c.passenger.type, String)
    assert (t.allocations.c.passenger.type.length or 0) >= MAX_NAME_LENGTH


def test_integer_limits_are_the_column_types() -> None:
    assert isinstance(t.customers.c.id.type, BigInteger)
    assert isinstance(t.orders.c.customer_id.type, BigInteger)
    for column in (t.trips.c.id, t.orders.c.amount, t.payments.c.amount, t.fares.c.amount,
                   t.route_stops.c.fare_offset):
        assert isinstance(column.type, Integer) and not isinstance(column.type, BigInteger)
    assert limits.MAX_INT64 == 2**63 - 1 and limits.MAX_INT32 == limits.MAX_AMOUNT == 2**31 - 1


def code_of(call: object) -> ErrorCode | None:
    try:
        call()  # type: ignore[operator]
    except BookingError as error:
        return error.code
    return None


def test_ids_amounts_and_counts_at_and_past_their_bounds() -> None:
    assert limits.customer_id(limits.MAX_INT64) == limits.MAX_INT64
    assert limits.trip_id(1) == 1
    assert limits.amount(0) == 0
    assert limits.count(1, "batch", 5) == 1
    for call, code in [
        (lambda: limits.customer_id(limits.MAX_INT64 + 1), ErrorCode.BAD_ID),
        (lambda: limits.customer_id(0), ErrorCode.BAD_ID),
        (lambda: limits.customer_id(True), ErrorCode.BAD_ID),
        (lambda: limits.trip_id(limits.MAX_INT32 + 1), ErrorCode.BAD_ID),
        (lambda: limits.trip_id("1"), ErrorCode.BAD_ID),
        (lambda: limits.amount(-1), ErrorCode.BAD_AMOUNT),
        (lambda: limits.amount(limits.MAX_AMOUNT + 1), ErrorCode.BAD_AMOUNT),
        (lambda: limits.count(0, "batch", 5), ErrorCode.BAD_BATCH_SIZE),
        (lambda: limits.count(6, "batch", 5), ErrorCode.BAD_BATCH_SIZE),
    ]:
        assert code_of(call) is code


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, limits.TextProblem.NOT_TEXT),
        ("", limits.TextProblem.EMPTY),
        ("x" * 9, limits.TextProblem.TOO_LONG),
        ("a\x00", limits.TextProblem.CHARACTER),
        ("a\ud800", limits.TextProblem.CHARACTER),
        ("a\x9f", limits.TextProblem.CHARACTER),
        ("a\n", limits.TextProblem.CHARACTER),
    ],
)
def test_text_that_no_column_holds(value: object, problem: limits.TextProblem) -> None:
    with pytest.raises(BookingError) as error:
        limits.text(value, "field", 8)
    assert error.value.code is ErrorCode.BAD_TEXT
    assert error.value.params["problem"] is problem
    assert "\x00" not in repr(error.value.params)  # the character is named, never echoed


def test_text_of_any_script_within_its_length_is_fine() -> None:
    assert limits.text("Москва 北京 😀", "field", 12) == "Москва 北京 😀"


@pytest.mark.parametrize("code", ["EUR", "USD", "RUB", "CNY", "JPY", "CHF"])
def test_iso_4217_currencies(code: str) -> None:
    assert limits.currency(code) == code


@pytest.mark.parametrize("code", ["EURO", "eur", "ABC", "XXX", "XTS", "", "E", "€", None])
def test_what_is_not_a_currency(code: object) -> None:
    assert code_of(lambda: limits.currency(code)) is ErrorCode.BAD_CURRENCY
