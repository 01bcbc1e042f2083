"""The booking rules an operator can tune."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from booking.model import RefundPolicy


@dataclass(frozen=True, slots=True)
class BookingRules:
    hold_minutes: int = 15
    max_seats_per_order: int = 9
    # Unpaid holds one customer may have at once, so that one account cannot keep a coach's
    # seats from sale hold after hold. None: no cap (the domain's default, for tests and
    # benchmarks); the processes Kassa runs take KASSA_MAX_LIVE_HOLDS, default 3.
    max_live_holds: int | None = None
    booking_horizon_days: int = 365
    refund_policy: RefundPolicy = field(default_factory=RefundPolicy)
    # Reminders before departure, longest first (KASSA_REMINDERS; booking/reminders.py).
    reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    lock_retries: int = 3
    # Switched off only by the control run of the race test, to show it can catch an
    # oversell; production always locks.
    lock_inventory: bool = True
