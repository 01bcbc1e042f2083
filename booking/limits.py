"""The domain's limits on the values a use case accepts, checked before any statement.

Both databases must agree about what is valid: PostgreSQL refuses an integer outside its
column's range, a text longer than its column, a NUL character or an unpaired surrogate
with a raw driver error, while SQLite stores all of them as they are. So every use case
(and the GTFS importer, for what a feed brings) checks its arguments here first, and a
value no column could hold is a BookingError with its own code on both.

The lengths are those of the columns in storage/tables.py, which booking/ cannot import;
tests/test_limits.py holds the two equal.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from typing import Any

from babel.numbers import list_currencies

from booking.errors import BookingError, ErrorCode

MAX_INT32 = 2**31 - 1  # an Integer column (ids of trips, amounts)
MAX_INT64 = 2**63 - 1  # a BigInteger column (customer ids, which are Telegram user ids)
MAX_AMOUNT = MAX_INT32  # minor units, in orders.amount, payments.amount, fares.amount

# Lengths of text columns (characters, as PostgreSQL's varchar counts them).
STATION_CODE_LENGTH = 64  # stations.code
ORDER_ID_LENGTH = 32  # orders.id
REQUEST_KEY_LENGTH = 64  # orders.request_key
PAYMENT_REFERENCE_LENGTH = 255  # payments.reference
PROVIDER_LENGTH = 32  # payments.provider
ACTOR_LENGTH = 64  # order_events.actor
CUSTOMER_NAME_LENGTH = 200  # customers.name
LANGUAGE_LENGTH = 8  # customers.language
ROUTE_NAME_LENGTH = 200  # routes.name
AGENCY_NAME_LENGTH = 200  # routes.agency
SEAT_LABEL_LENGTH = 8  # allocations.seat
# Station names live in a JSON column with no length of its own; a name longer than this
# fits on no button or ticket line, so it is the same limit as a route's name.
STATION_NAME_LENGTH = 200

# Ids Kassa makes (uuid4 hex for orders) and ids a caller may have seen: letters, digits,
# dashes and underscores only, so an order id is never anything but an id.
_ORDER_ID = re.compile(r"[0-9A-Za-z_-]+")

# What no text may hold, on either database: NUL and the other C0 controls, DEL, the C1
# controls, and unpaired surrogates (which are no character at all and cannot be encoded).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# Codes ISO 4217 reserves for "no currency" and for testing: no price is in them.
_NOT_CURRENCIES = frozenset({"XXX", "XTS"})


class TextProblem(StrEnum):
    """Why a text was refused (the ``problem`` of a BAD_TEXT error)."""

    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    CHARACTER = "character"  # a control character, NUL or unpaired surrogate


def code_point(char: str) -> str:
    """``U+001B``: how a refused character is named in an error (never the character)."""
    return f"U+{ord(char):04X}"


def unsafe_character(text: str) -> str | None:
    """The first character no stored text may hold, or None."""
    match = _UNSAFE.search(text)
    return match.group() if match else None


def storable(text: str) -> str:
    """``text`` without the characters no stored text may hold (NUL, controls, surrogates);
    a line break or tab becomes a space: for what a person gave, kept rather than refused."""
    return "".join(c if unsafe_character(c) is None else " " if c.isspace() else ""
                   for c in text)


def text(value: Any, field: str, max_length: int, *, allow_empty: bool = False) -> str:
    """``value`` if it is text a column of ``max_length`` can hold; BAD_TEXT if not."""
    if not isinstance(value, str):
        raise BookingError(ErrorCode.BAD_TEXT, field=field, problem=TextProblem.NOT_TEXT)
    if not value and not allow_empty:
        raise BookingError(ErrorCode.BAD_TEXT, field=field, problem=TextProblem.EMPTY)
    if len(value) > max_length:
        raise BookingError(
            ErrorCode.BAD_TEXT, field=field, problem=TextProblem.TOO_LONG, limit=max_length
        )
    bad = unsafe_character(value)
    if bad is not None:
        raise BookingError(
            ErrorCode.BAD_TEXT, field=field, problem=TextProblem.CHARACTER,
            character=code_point(bad),
        )
    return value


def _integer(value: Any, field: str, low: int, high: int, code: ErrorCode) -> int:
    # bool is an int to Python, never an id or an amount to us.
    if type(value) is not int or not low <= value <= high:
        raise BookingError(code, field=field, low=low, high=high)
    return value


def customer_id(value: Any, field: str = "customer_id") -> int:
    """A Telegram user id: positive, within a BigInteger."""
    return _integer(value, field, 1, MAX_INT64, ErrorCode.BAD_ID)


def trip_id(value: Any, field: str = "trip_id") -> int:
    """A trip's id: positive, within an Integer (ids start at 1)."""
    return _integer(value, field, 1, MAX_INT32, ErrorCode.BAD_ID)


def order_id(value: Any) -> str:
    """An order id as Kassa makes them; anything else cannot name an order."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= ORDER_ID_LENGTH
        or _ORDER_ID.fullmatch(value) is None
    ):
        raise BookingError(ErrorCode.BAD_ID, field="order_id")
    return value


def station_code(value: Any, field: str) -> str:
    return text(value, field, STATION_CODE_LENGTH)


def amount(value: Any, field: str = "amount") -> int:
    """An amount of money in minor units: never negative, within an Integer."""
    return _integer(value, field, 0, MAX_AMOUNT, ErrorCode.BAD_AMOUNT)


def count(value: Any, field: str, maximum: int) -> int:
    """A batch size or limit: at least 1 (a batch of 0 never ends a loop), at most
    ``maximum`` (so one transaction stays short)."""
    return _integer(value, field, 1, maximum, ErrorCode.BAD_BATCH_SIZE)


@cache
def _currencies() -> frozenset[str]:
    return frozenset(c for c in list_currencies() if len(c) == 3 and c.isupper()) - (
        _NOT_CURRENCIES
    )


def is_currency(code: Any) -> bool:
    """An ISO 4217 code (three capital letters, known to CLDR), not XXX or XTS."""
    return isinstance(code, str) and code in _currencies()


def currency(value: Any, field: str = "currency") -> str:
    if not is_currency(value):
        raise BookingError(ErrorCode.BAD_CURRENCY, field=field)
    return str(value)
