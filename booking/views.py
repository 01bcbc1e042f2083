"""Plain values the use cases return to callers (the bot, the HTTP API and its client).

Frozen dataclasses of plain data (text, numbers, dates, enums), so that they cross a
network unchanged: the HTTP API derives its JSON schemas from these same types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from booking.model import Order, OrderStatus, Station, TripStatus
from booking.outcomes import CancelKind, ConfirmOutcome, RefundReason


@dataclass(frozen=True, slots=True)
class BookingLimits:
    """The rules a caller needs before asking: how many seats, how long a hold lasts."""

    max_seats_per_order: int
    hold_minutes: int
    booking_horizon_days: int


@dataclass(frozen=True, slots=True)
class TripOption:
    """One trip as a passenger compares it: local times, duration, price, seats left."""

    trip_id: int
    route_name: str
    origin: Station
    destination: Station
    from_seq: int
    to_seq: int
    departure: datetime  # in the origin station's timezone
    arrival: datetime  # in the destination station's timezone
    price: int  # one seat, minor units
    currency: str
    seats_free: int
    capacity: int
    status: TripStatus
    delay_minutes: int

    @property
    def duration(self) -> timedelta:
        return self.arrival - self.departure


@dataclass(frozen=True, slots=True)
class SeatCell:
    label: str
    free: bool


@dataclass(frozen=True, slots=True)
class SeatMap:
    trip_id: int
    from_seq: int
    to_seq: int
    seat_class: str
    rows: list[list[SeatCell | None]]  # None is the aisle or a position with no seat
    # A cancelled trip's map says so, and shows no seat free.
    trip_status: TripStatus = TripStatus.SCHEDULED

    @property
    def free(self) -> list[str]:
        return [c.label for row in self.rows for c in row if c is not None and c.free]

    @property
    def labels(self) -> set[str]:
        """Every seat on board, free or taken."""
        return {c.label for row in self.rows for c in row if c is not None}


@dataclass(frozen=True, slots=True)
class SeatView:
    seat: str
    passenger: str


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with what a passenger needs to recognise it.

    ``status`` is what the passenger should see now: a hold past its time reads expired
    whether or not the expiry sweep has run.
    """

    id: str
    customer_id: int
    trip_id: int
    status: OrderStatus
    amount: int
    currency: str
    seats: tuple[SeatView, ...]
    route_name: str
    origin: Station
    destination: Station
    departure: datetime  # local to the origin
    arrival: datetime  # local to the destination
    trip_status: TripStatus
    delay_minutes: int
    created_at: datetime
    expires_at: datetime | None  # the hold's end while it is held
    refund_amount: int | None
    upcoming: bool  # still ahead of the passenger: a live hold, or paid and not yet left
    cancellable: bool  # the passenger may cancel it now

    @property
    def passengers(self) -> list[str]:
        return [s.passenger for s in self.seats]

    @property
    def day(self) -> date:
        return self.departure.date()


@dataclass(frozen=True, slots=True)
class CancellationQuote:
    """What cancelling the order now would do, changing nothing."""

    order_id: str
    kind: CancelKind
    refund: int  # minor units; 0 for a released hold
    currency: str


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    outcome: ConfirmOutcome
    order: OrderView
    duplicate: bool = False  # this payment reference had been confirmed before
    reason: RefundReason | None = None  # why a refund is needed


def order_seats(order: Order) -> tuple[SeatView, ...]:
    return tuple(SeatView(s.seat, s.passenger) for s in order.seats)
