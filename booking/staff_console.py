"""What staff look at before they act: the day's trips with their load.

Every question checks the role inside its own transaction (booking.staff.require_role),
so a handler that forgot to check, or a role taken away a moment ago, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from booking.model import Route, Station, Trip, TripStatus
from booking.ports import TripLoad, UnitOfWork
from booking.staff import require_role
from booking.usecase import UseCases, station_of


@dataclass(frozen=True, slots=True)
class TripSummary:
    """One trip as staff pick it: where and when it runs, and how full it is now."""

    trip_id: int
    route_id: int
    route_name: str
    origin: Station  # the route's first stop
    destination: Station  # the route's last stop
    departure: datetime  # scheduled, from the first stop, in its timezone
    arrival: datetime  # scheduled, at the last stop, in its timezone
    status: TripStatus
    delay_minutes: int
    seats: int
    sold: int  # seats of paid orders (a seat sold twice on two legs counts twice)
    held: int  # seats of holds still live
    free: int  # seats free from the first stop to the last


class StaffConsole(UseCases):
    async def day_trips(self, staff_id: int, day: date) -> list[TripSummary]:
        """Every trip running on ``day`` (its service date), by departure, with its load."""
        now = self.now()
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            trips = await uow.catalog.trips_on(day)
            routes = await uow.catalog.routes(sorted({trip.route_id for trip in trips}))
            loads = await uow.inventory.trip_loads([trip.id for trip in trips], now)
            return [await trip_summary(uow, trip, routes[trip.route_id], loads.get(trip.id))
                    for trip in trips]

    async def trip(self, staff_id: int, trip_id: int) -> TripSummary | None:
        """One trip with its load now, or None if there is no such trip."""
        now = self.now()
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            trip = await uow.catalog.trip(trip_id)
            if trip is None:
                return None
            route = (await uow.catalog.routes([trip.route_id]))[trip.route_id]
            loads = await uow.inventory.trip_loads([trip.id], now)
            return await trip_summary(uow, trip, route, loads.get(trip.id))


async def trip_summary(uow: UnitOfWork, trip: Trip, route: Route, load: TripLoad | None
                   ) -> TripSummary:
    first, last = route.stops[0], route.stops[-1]
    origin = await station_of(uow, first.station_code)
    destination = await station_of(uow, last.station_code)
    capacity = (await uow.catalog.layout(trip.layout_id)).capacity
    sold, held, taken = (load.sold, load.held, load.seats_taken) if load else (0, 0, 0)
    return TripSummary(
        trip_id=trip.id,
        route_id=route.id,
        route_name=route.name,
        origin=origin,
        destination=destination,
        departure=trip.departs_at(route, first.seq).astimezone(origin.tz),
        arrival=trip.arrives_at(route, last.seq).astimezone(destination.tz),
        status=trip.status,
        delay_minutes=trip.delay_minutes,
        seats=capacity,
        sold=sold,
        held=held,
        free=0 if trip.status is TripStatus.CANCELLED else max(0, capacity - taken),
    )
