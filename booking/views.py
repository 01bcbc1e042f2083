"""Plain values the use cases return to callers (the bot, the HTTP API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from booking.model import Order, Station, TripStatus


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

    @property
    def free(self) -> list[str]:
        return [c.label for row in self.rows for c in row if c is not None and c.free]


class ConfirmOutcome(StrEnum):
    PAID = "paid"
    REFUND_NEEDED = "refund_needed"


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    outcome: ConfirmOutcome
    order: Order
    duplicate: bool = False  # this payment reference had been confirmed before
    reason: str | None = None  # why a refund is needed


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with what a passenger needs to recognise it."""

    order: Order
    route_name: str
    origin: Station
    destination: Station
    departure: datetime  # local to the origin
    arrival: datetime  # local to the destination
    trip_status: TripStatus
    delay_minutes: int

    @property
    def id(self) -> str:
        return self.order.id
