"""Outcomes that are not errors, one enum each, beside the error catalogue (booking/errors.py).

A caller matches on these instead of on bare strings; the words a person reads live in
locales/ like the error texts.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """Where one provider payment stands."""

    SUCCEEDED = "succeeded"  # it bought the order's seats
    REFUND_NEEDED = "refund_needed"  # money arrived that cannot buy the seats
    REFUNDED = "refunded"


class ConfirmOutcome(StrEnum):
    """What a payment confirmation did to the order."""

    PAID = "paid"
    REFUND_NEEDED = "refund_needed"


class RefundReason(StrEnum):
    """Why a payment that arrived cannot buy the order's seats."""

    AMOUNT_MISMATCH = "amount_mismatch"
    ALREADY_PAID = "already_paid"  # a second payment for a paid order
    ORDER_CLOSED = "order_closed"  # the order was cancelled or refunded meanwhile
    TRIP_CANCELLED = "trip_cancelled"
    TRIP_DEPARTED = "trip_departed"
    SEAT_TAKEN = "seat_taken"  # the hold ran out and someone else bought a seat


class CancelKind(StrEnum):
    """What cancelling an order means for the passenger's money."""

    RELEASE = "release"  # an unpaid hold: the seats go back, no money moves
    REFUND = "refund"  # a paid order: the refund policy says how much comes back
