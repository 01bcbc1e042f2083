"""A trip's manifest: who boards where, on which seat, paid or still held, checked in or not.

Read by staff before departure and at the door; reading it is recorded (it lists people).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus, Station, TicketStatus
from booking.staff import StaffActionKind, record, require_role
from booking.staff_console import TripSummary, trip_summary
from booking.usecase import UseCases, station_of


class Boarding(StrEnum):
    HELD = "held"  # a live hold: may still pay, or lapse
    PAID = "paid"  # a valid ticket, not yet checked in
    CHECKED_IN = "checked_in"
    VOID = "void"


@dataclass(frozen=True, slots=True)
class ManifestLine:
    seat: str
    passenger: str
    order_id: str
    destination: Station
    boarding: Boarding
    checked_in_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BoardingStop:
    station: Station
    departure: datetime  # scheduled, local to the station
    lines: tuple[ManifestLine, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    trip: TripSummary
    stops: tuple[BoardingStop, ...]  # every stop anyone boards at, in route order

    @property
    def passengers(self) -> int:
        return sum(len(stop.lines) for stop in self.stops)


class ManifestService(UseCases):
    async def manifest(self, staff_id: int, trip_id: int) -> Manifest:
        """The trip's paid and live held seats by boarding stop, seat order within a stop."""
        now = self.now()

        async def attempt() -> Manifest:
            async with self._uow(write=True) as uow:
                await require_role(uow, staff_id)
                trip = await uow.catalog.trip(trip_id)
                if trip is None:
                    raise BookingError(ErrorCode.UNKNOWN_TRIP)
                route = (await uow.catalog.routes([trip.route_id]))[trip.route_id]
                loads = await uow.inventory.trip_loads([trip.id], now)
                summary = await trip_summary(uow, trip, route, loads.get(trip.id))
                orders = await uow.orders.for_trip(
                    trip.id, [OrderStatus.PAID, OrderStatus.HELD])
                by_stop: dict[int, list[ManifestLine]] = {}
                for order in orders:
                    if order.status is OrderStatus.HELD and not order.hold_live(now):
                        continue
                    tickets = {(tk.seat, tk.passenger): tk
                               for tk in await uow.tickets.for_order(order.id)}
                    destination = await station_of(uow, route.stop(order.to_seq).station_code)
                    for seat in order.seats:
                        ticket = tickets.get((seat.seat, seat.passenger))
                        boarding, at = Boarding.HELD, None
                        if ticket is not None:
                            boarding = {TicketStatus.VALID: Boarding.PAID,
                                        TicketStatus.USED: Boarding.CHECKED_IN,
                                        TicketStatus.VOID: Boarding.VOID}[ticket.status]
                            at = ticket.used_at
                        elif order.status is OrderStatus.PAID:
                            boarding = Boarding.PAID  # tickets are being issued
                        by_stop.setdefault(order.from_seq, []).append(ManifestLine(
                            seat.seat, seat.passenger, order.id, destination, boarding, at))
                stops = []
                for seq in sorted(by_stop):
                    station = await station_of(uow, route.stop(seq).station_code)
                    stops.append(BoardingStop(
                        station, trip.departs_at(route, seq).astimezone(station.tz),
                        tuple(sorted(by_stop[seq], key=lambda line: _seat_key(line.seat)))))
                await record(uow, staff_id, StaffActionKind.MANIFEST, trip.id, now,
                             passengers=sum(len(lines) for lines in by_stop.values()))
                await uow.commit()
                return Manifest(summary, tuple(stops))

        return await self._retrying(attempt)


def _seat_key(seat: str) -> tuple[int, str]:
    """"2A" before "10A": by row number, then letter."""
    digits = "".join(ch for ch in seat if ch.isdigit())
    return (int(digits) if digits else 0, seat)
