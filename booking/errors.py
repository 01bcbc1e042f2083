"""The one catalogue of stable error codes a caller can translate.

The text shown to a person lives with the translations (locales/); here each code
only carries the parameters a translation may need.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNKNOWN_STATION = "unknown_station"
    NOT_ON_ROUTE = "not_on_route"  # a station the trip does not call at (station)
    SAME_STATION = "same_station"
    WRONG_DIRECTION = "wrong_direction"
    PAST_DATE = "past_date"
    DATE_TOO_FAR = "date_too_far"
    UNKNOWN_TRIP = "unknown_trip"
    TRIP_CANCELLED = "trip_cancelled"
    TRIP_DEPARTED = "trip_departed"
    BAD_SEAT_COUNT = "bad_seat_count"
    TOO_MANY_SEATS = "too_many_seats"
    PASSENGERS_MISMATCH = "passengers_mismatch"
    BAD_PASSENGER_NAME = "bad_passenger_name"
    UNKNOWN_SEAT = "unknown_seat"
    DUPLICATE_SEAT = "duplicate_seat"
    SEAT_TAKEN = "seat_taken"
    NOT_ENOUGH_SEATS = "not_enough_seats"
    TOO_MANY_HOLDS = "too_many_holds"  # the customer's unpaid holds are at the cap (limit)
    UNKNOWN_ORDER = "unknown_order"
    NOT_YOUR_ORDER = "not_your_order"
    HOLD_EXPIRED = "hold_expired"
    ORDER_NOT_HELD = "order_not_held"
    NOT_CANCELLABLE = "not_cancellable"
    # What a cancellation would do now is not what the person was shown and agreed to (a
    # hold paid meanwhile, a refund tier passed): nothing is done; show them again.
    CANCELLATION_CHANGED = "cancellation_changed"
    AMOUNT_MISMATCH = "amount_mismatch"
    BUSY = "busy"
    BAD_CHECKOUT_TOKEN = "bad_checkout_token"
    BAD_SIGNATURE = "bad_signature"
    STALE_SIGNATURE = "stale_signature"
    BAD_PAYMENT_EVENT = "bad_payment_event"
    CURRENCY_MISMATCH = "currency_mismatch"
    NOT_STAFF = "not_staff"
    NOT_ADMIN = "not_admin"  # staff, but the action is an admin's
    BAD_PERIOD = "bad_period"  # a number of days out of range (limit)
    BAD_DELAY = "bad_delay"  # minutes out of range (limit)
    BAD_REASON = "bad_reason"  # an empty or over-long reason (limit)
    BROADCAST_EMPTY = "broadcast_empty"
    BROADCAST_TOO_LONG = "broadcast_too_long"  # (length, limit)
    BROADCAST_FORMATTING = "broadcast_formatting"  # (problem)
    BROADCAST_NOBODY = "broadcast_nobody"  # the audience has nobody to reach
    BAD_TICKET_CODE = "bad_ticket_code"
    # Values no column could hold (booking/limits.py), refused before any statement.
    BAD_ID = "bad_id"  # an id outside its range or not of its shape
    BAD_TEXT = "bad_text"  # empty, too long, or with a control character, NUL or surrogate
    BAD_CURRENCY = "bad_currency"  # not an ISO 4217 code
    BAD_AMOUNT = "bad_amount"  # negative, or more than an amount column holds
    BAD_BATCH_SIZE = "bad_batch_size"  # a batch or limit below 1 or above its bound
    # The same idempotency key or payment reference for something else.
    REQUEST_KEY_REUSED = "request_key_reused"
    PAYMENT_REFERENCE_USED = "payment_reference_used"


class BookingError(Exception):
    """A refused request: nothing was changed, and ``code`` says why.

    (A payment refused for a reference another order holds is the one exception: the
    order's history keeps a note of it, so the money can be traced.)
    """

    def __init__(self, code: ErrorCode, **params: Any) -> None:
        super().__init__(f"{code.value}: {params}" if params else code.value)
        self.code = code
        self.params = params
