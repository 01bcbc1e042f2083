"""Catalogue and search: stations, where one can go, trips on a day, seats on a trip.

Read-only use cases: each opens one unit of work, reads, and returns plain values. Seats
free are counted at the moment of asking from live allocations, never from a counter; inside
one update's read memo (booking/read_memo.py) "the moment of asking" is that update's first
question about the trip, so its check and its card agree and cost one read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.model import Route, SeatLayout, Station, Trip, TripStatus, local_day_bounds
from booking.ports import Segment, UnitOfWork
from booking.read_memo import remembered
from booking.usecase import UseCases, segment_on, station_of
from booking.views import SeatCell, SeatMap, TripOption

# How far around a sold-out day the nearest days with seats are looked for, and how many
# of them are offered.
NEAREST_DAYS_SEARCHED = 7
NEAREST_DAYS_OFFERED = 3
# Alternatives to a trip that fell through: trips from a few hours before it to a few days
# after, the soonest few.
ALTERNATIVES_BEFORE_HOURS = 6
ALTERNATIVES_DAYS = 3
ALTERNATIVES_OFFERED = 3


@dataclass(frozen=True, slots=True)
class _Journey:
    """Origin to destination on the routes that serve it, each with its stop interval."""

    origin: Station
    destination: Station
    routes: dict[int, Route]
    segments: dict[int, tuple[int, int]]  # route id -> [from_seq, to_seq)

    @property
    def latest_boarding_offset(self) -> int:
        """Minutes from a route's first departure to the latest boarding at the origin."""
        return max(
            (self.routes[r].stop(seg[0]).depart_offset for r, seg in self.segments.items()),
            default=0,
        )


@dataclass(frozen=True, slots=True)
class _TripState:
    """One trip as a passenger's chosen trip is shown: read together, memoised together."""

    trip: Trip
    route: Route
    segment: tuple[int, int]  # [from_seq, to_seq) from origin to destination
    origin: Station
    destination: Station
    layout: SeatLayout
    taken: frozenset[str]  # seats taken on the segment when read

    @property
    def journey(self) -> _Journey:
        route_id = self.route.id
        return _Journey(self.origin, self.destination, {route_id: self.route},
                        {route_id: self.segment})


def _check_journey(origin: str, destination: str) -> None:
    limits.station_code(origin, "origin")
    limits.station_code(destination, "destination")


class CatalogueService(UseCases):
    async def stations(self) -> list[Station]:
        """Every station, the busiest first."""
        async with self._uow() as uow:
            return await uow.catalog.stations()

    async def destinations(self, origin: str) -> list[Station]:
        """Stations some route reaches after calling at ``origin``."""
        limits.station_code(origin, "origin")
        async with self._uow() as uow:
            await station_of(uow, origin)
            codes = await uow.catalog.destinations_from(origin)
            return [s for s in await uow.catalog.stations() if s.code in codes]

    async def search(self, origin: str, destination: str, day: date) -> list[TripOption]:
        """Trips calling at origin, then destination, leaving origin on ``day`` (local time)."""
        _check_journey(origin, destination)
        now = self.now()
        async with self._uow() as uow:
            journey = await self._journey(uow, origin, destination)
            self._check_on_sale(journey.origin, day, now)
            if not journey.routes:
                return []
            start, end = local_day_bounds(day, journey.origin.tz)
            return await self._options(uow, journey, start, end, now)

    async def nearest_days(
        self, origin: str, destination: str, day: date, seats: int
    ) -> list[date]:
        """The days closest to ``day`` (before or after, never past) with ``seats`` free on
        some trip: one search over the whole window instead of one per day."""
        _check_journey(origin, destination)
        if seats < 1:
            raise BookingError(ErrorCode.BAD_SEAT_COUNT)
        if seats > self.rules.max_seats_per_order:
            raise BookingError(ErrorCode.TOO_MANY_SEATS, limit=self.rules.max_seats_per_order)
        now = self.now()
        async with self._uow() as uow:
            journey = await self._journey(uow, origin, destination)
            if not journey.routes:
                return []
            tz = journey.origin.tz
            today = now.astimezone(tz).date()
            on_sale_until = today + timedelta(days=self.rules.booking_horizon_days)
            around = timedelta(days=NEAREST_DAYS_SEARCHED)
            # Compared before any arithmetic on ``day``: a day near date.min or date.max
            # would overflow, and a day far from the days on sale has no neighbour on sale.
            if day < today - around or day > on_sale_until + around:
                return []
            first = max(today, day - around)
            last = min(day + around, on_sale_until)
            if last < first:
                return []
            start, _ = local_day_bounds(first, tz)
            _, end = local_day_bounds(last, tz)
            options = await self._options(uow, journey, start, end, now)
        days = {o.departure.date() for o in options if o.seats_free >= seats} - {day}
        nearest = sorted(days, key=lambda d: (abs((d - day).days), d))[:NEAREST_DAYS_OFFERED]
        return sorted(nearest)

    async def alternatives(
        self, origin: str, destination: str, around: datetime, seats: int, *,
        exclude_trip: int | None = None,
    ) -> list[TripOption]:
        """The next trips from origin to destination after ``around`` (or now, if later)
        with ``seats`` free, soonest first: what to offer someone whose trip fell through.
        ``exclude_trip`` is that trip: a booking the passenger cancelled freed its seats,
        so it would be the first on offer."""
        _check_journey(origin, destination)
        if exclude_trip is not None:
            limits.trip_id(exclude_trip, "exclude_trip")
        if seats < 1:
            raise BookingError(ErrorCode.BAD_SEAT_COUNT)
        if seats > self.rules.max_seats_per_order:
            raise BookingError(ErrorCode.TOO_MANY_SEATS, limit=self.rules.max_seats_per_order)
        if around.tzinfo is None or around.utcoffset() is None:
            raise BookingError(ErrorCode.PAST_DATE, date=str(around))
        now = self.now()
        before = timedelta(hours=ALTERNATIVES_BEFORE_HOURS)
        async with self._uow() as uow:
            journey = await self._journey(uow, origin, destination)
            # Compared before any arithmetic on ``around`` (comparing two instants never
            # overflows): a time near datetime.min or datetime.max has no neighbour. A time
            # past is now; one after the last day on sale is refused, as search refuses it.
            self._check_not_too_far(journey.origin, around, now)
            start = now if around <= now + before else around - before
            if not journey.routes:
                return []
            options = await self._options(
                uow, journey, start, start + timedelta(days=ALTERNATIVES_DAYS), now)
        return [o for o in options if o.seats_free >= seats
                and o.trip_id != exclude_trip][:ALTERNATIVES_OFFERED]

    async def trip_option(self, trip_id: int, origin: str, destination: str) -> TripOption:
        """One trip as the search would show it, with its seats free now."""
        limits.trip_id(trip_id)
        _check_journey(origin, destination)
        state = await self._trip_state(trip_id, origin, destination)
        trip, route = state.trip, state.route
        trip.check_bookable(route, state.segment[0], self.now())
        journey = state.journey
        return self._option(journey, trip, state.layout, len(state.taken))

    async def seat_map(self, trip_id: int, origin: str, destination: str) -> SeatMap:
        """Which seats of the trip are free for the stop interval origin -> destination."""
        limits.trip_id(trip_id)
        _check_journey(origin, destination)
        state = await self._trip_state(trip_id, origin, destination)
        trip, (from_seq, to_seq), taken = state.trip, state.segment, state.taken
        # No seat is free on a trip that will not run, or has left the passenger's stop.
        closed = (trip.status is TripStatus.CANCELLED
                  or trip.departs_at(state.route, from_seq) <= self.now())
        rows = [
            [None if label is None else SeatCell(label, not closed and label not in taken)
             for label in row]
            for row in state.layout.grid()
        ]
        return SeatMap(trip.id, from_seq, to_seq, state.layout.seat_class, rows, trip.status)

    async def _trip_state(self, trip_id: int, origin: str, destination: str) -> _TripState:
        """The trip, its route and layout and the seats taken on origin -> destination:
        everything its option and its seat map show, read in one unit of work, or taken
        from the update's read memo (booking/read_memo.py) when read already."""
        return await remembered(("trip_state", trip_id, origin, destination),
                                lambda: self._read_trip_state(trip_id, origin, destination))

    async def _read_trip_state(self, trip_id: int, origin: str, destination: str
                               ) -> _TripState:
        async with self._uow() as uow:
            route_id = uow.catalog.known_route_of(trip_id)
            if route_id is None:  # a trip this process has not met: its route first
                met = await uow.catalog.trip(trip_id)
                if met is None:
                    raise BookingError(ErrorCode.UNKNOWN_TRIP)
                route_id = met.route_id
            route = await uow.catalog.route(route_id)
            segment = await segment_on(uow, route, origin, destination)
            # The trip (its status and delay may have changed) and its taken seats, read
            # together: one statement on PostgreSQL.
            found = await uow.catalog.trip_with_taken_seats(Segment(trip_id, *segment),
                                                            self.now())
            if found is None:
                raise BookingError(ErrorCode.UNKNOWN_TRIP)
            trip, taken = found
            return _TripState(
                trip, route, segment,
                await station_of(uow, origin), await station_of(uow, destination),
                await uow.catalog.layout(trip.layout_id), frozenset(taken),
            )

    # ---- the search itself -------------------------------------------------------------

    def _last_day_on_sale(self, origin: Station, now: datetime) -> date:
        """The last local day at ``origin`` whose trips are on sale (the booking horizon)."""
        return now.astimezone(origin.tz).date() + timedelta(days=self.rules.booking_horizon_days)

    def _check_not_too_far(self, origin: Station, moment: datetime, now: datetime) -> None:
        """DATE_TOO_FAR for a moment on a local day after the last one on sale."""
        if moment <= now:
            return
        # The first test settles any moment whose local day could not even be computed.
        if (moment > now + timedelta(days=self.rules.booking_horizon_days + 2)
                or moment.astimezone(origin.tz).date() > self._last_day_on_sale(origin, now)):
            raise BookingError(ErrorCode.DATE_TOO_FAR, date=moment.isoformat())

    def _check_on_sale(self, origin: Station, day: date, now: datetime) -> None:
        if day < now.astimezone(origin.tz).date():
            raise BookingError(ErrorCode.PAST_DATE, date=day.isoformat())
        if day > self._last_day_on_sale(origin, now):
            raise BookingError(ErrorCode.DATE_TOO_FAR, date=day.isoformat())

    async def _journey(self, uow: UnitOfWork, origin: str, destination: str) -> _Journey:
        """The stations and the routes from origin to destination (none is no error)."""
        if origin == destination:
            raise BookingError(ErrorCode.SAME_STATION)
        start = await station_of(uow, origin)
        end = await station_of(uow, destination)
        route_ids = await uow.catalog.routes_serving(origin, destination)
        if not route_ids and await uow.catalog.routes_serving(destination, origin):
            raise BookingError(ErrorCode.WRONG_DIRECTION)
        routes = await uow.catalog.routes(route_ids) if route_ids else {}
        segments = {rid: route.segment(origin, destination) for rid, route in routes.items()}
        return _Journey(start, end, routes, segments)

    async def _options(
        self, uow: UnitOfWork, journey: _Journey, start: datetime, end: datetime, now: datetime
    ) -> list[TripOption]:
        """Trips leaving the origin in [start, end) and not yet gone, soonest first.

        ``start`` and ``end`` are instants; the trips are found by their first departure,
        so the window opens earlier by the latest boarding offset (absolute minutes, which
        a clock change does not stretch). A cancelled trip is listed as cancelled, with no
        seat free, so the passenger learns of it instead of missing it.
        """
        candidates = await uow.catalog.trips_departing(
            list(journey.routes),
            start - timedelta(minutes=journey.latest_boarding_offset),
            end,
        )
        found = []
        for trip in candidates:
            route = journey.routes[trip.route_id]
            leaves = trip.departs_at(route, journey.segments[trip.route_id][0])
            if leaves > now and start <= leaves < end:
                found.append(trip)
        options = await self._described(uow, journey, found, now)
        # In UTC: two local times of one timezone compare by the wall clock, which puts
        # 02:40 CEST after 02:20 CET in the hour the clocks go back.
        options.sort(key=lambda o: (o.departure.astimezone(UTC), o.trip_id))
        return options

    async def _described(
        self, uow: UnitOfWork, journey: _Journey, trips: Sequence[Trip], now: datetime
    ) -> list[TripOption]:
        """Trips as options: local times, price, and seats free counted in one query."""
        taken = await uow.inventory.taken_counts(
            [Segment(trip.id, *journey.segments[trip.route_id]) for trip in trips], now
        )
        options = []
        for trip in trips:
            layout = await uow.catalog.layout(trip.layout_id)
            options.append(self._option(journey, trip, layout, taken.get(trip.id, 0)))
        return options

    @staticmethod
    def _option(journey: _Journey, trip: Trip, layout: SeatLayout, taken: int) -> TripOption:
        """The trip as an option, ``taken`` seats of its layout taken on the journey."""
        route = journey.routes[trip.route_id]
        from_seq, to_seq = journey.segments[trip.route_id]
        return TripOption(
            trip_id=trip.id,
            route_name=route.name,
            origin=journey.origin,
            destination=journey.destination,
            from_seq=from_seq,
            to_seq=to_seq,
            departure=trip.departs_at(route, from_seq).astimezone(journey.origin.tz),
            arrival=trip.arrives_at(route, to_seq).astimezone(journey.destination.tz),
            price=route.price(from_seq, to_seq),
            currency=route.currency,
            seats_free=0 if trip.status is TripStatus.CANCELLED
            else max(0, layout.capacity - taken),
            capacity=layout.capacity,
            status=trip.status,
            delay_minutes=trip.delay_minutes,
        )
