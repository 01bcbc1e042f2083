"""read_feed: a GTFS feed, checked, as dated trips on Kassa routes for a window of days.

A Kassa route is a "pattern": the GTFS trips of one route_id and headsign that call at
the same stations with the same times relative to their first departure. Its code holds
a digest of everything stored with it (stops, offsets, fares, name), so the same feed
always gives the same codes, and a changed timetable gives new routes rather than
changing stored ones (routes are immutable once stored).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from booking import limits
from booking.gtfs.agency import FeedIdentity, identify_feed, read_agencies
from booking.gtfs.calendar import (
    CALENDAR,
    CALENDAR_DATES,
    Service,
    Window,
    feed_period,
    plan_window,
    read_services,
)
from booking.gtfs.errors import FeedError
from booking.gtfs.fares import FareTable, Pricing, price_route, read_fares
from booking.gtfs.layouts import layout_for
from booking.gtfs.source import FeedFiles
from booking.gtfs.stations import (
    STOPS,
    StationMaker,
    Stop,
    Translations,
    read_stops,
    read_translations,
    station_of,
)
from booking.gtfs.trips import (
    GtfsRoute,
    GtfsTrip,
    StopTime,
    TimedStop,
    read_frequencies,
    read_routes,
    read_stop_times,
    read_trips,
    time_goes_back,
    timed_stops,
)
from booking.model import RouteStop, SeatLayout, Station
from booking.timetable import Timetable, TimetableRoute, TimetableTrip

log = logging.getLogger(__name__)

ROUTE_CODE_LENGTH = 128  # routes.code
SOURCE_KEY_LENGTH = 255  # trips.source_key
ROUTE_NAME_LENGTH = limits.ROUTE_NAME_LENGTH  # longer names are cut (see _route_name)


def read_feed(
    path: Path,
    *,
    today: date,
    shift_to: date | None = None,
    days: int = 14,
    fare_per_km: Decimal = Decimal("0.12"),
    min_fare: Decimal = Decimal("5.00"),
    default_currency: str = "EUR",
    strict: bool = False,
) -> Timetable:
    """The feed at ``path`` (a zip or a folder) as a timetable for ``days`` service days.

    The days start today, or at ``shift_to`` with the feed's calendar moved there by
    whole weeks (see booking.gtfs.calendar). Raises FeedError, naming file and line, for
    a feed that cannot be read. A trip whose times go backwards is skipped with a logged
    warning (the 2019 DB feed has three, at the Belarus-Poland border), or refused when
    ``strict``.
    """
    if not limits.is_currency(default_currency):
        raise ValueError(f"default_currency {default_currency!r} is no ISO 4217 code")
    with FeedFiles(path) as files:
        feed = _read(files, default_currency)
    window = plan_window(feed.services, today=today, shift_to=shift_to, days=days)
    builder = _TimetableBuilder(feed, Pricing(fare_per_km, min_fare), strict=strict)
    return builder.build(window)


@dataclass(frozen=True, slots=True)
class _Feed:
    """Everything read from the files, checked for references between them."""

    identity: FeedIdentity
    default_timezone: str
    stops: dict[str, Stop]
    translations: Translations
    routes: dict[str, GtfsRoute]
    services: dict[str, Service]
    trips: dict[str, GtfsTrip]
    stop_times: dict[str, list[StopTime]]
    frequencies: dict[str, list[int]]
    fares: FareTable
    calendar_file: str


def _read(files: FeedFiles, default_currency: str) -> _Feed:
    agencies = read_agencies(files)
    stops = read_stops(files)
    translations = read_translations(files)
    routes = read_routes(files, agencies)
    services = read_services(files)
    trips = read_trips(files, routes, services)
    stop_times = read_stop_times(files, trips, stops)
    return _Feed(
        identity=identify_feed(files, agencies),
        default_timezone=next(iter(agencies.values())).timezone,
        stops=stops,
        translations=translations,
        routes=routes,
        services=services,
        trips=trips,
        stop_times=stop_times,
        frequencies=read_frequencies(files, trips),
        fares=read_fares(files, routes.keys(), default_currency),
        calendar_file=CALENDAR if files.has(CALENDAR) else CALENDAR_DATES,
    )


@dataclass(frozen=True, slots=True)
class _Call:
    """A trip's stop at a station (consecutive platforms of one station made one)."""

    station_id: str
    arrival: int
    departure: int
    zone: str


@dataclass(frozen=True, slots=True)
class _Runs:
    """One GTFS trip ready to be dated: its route, and when its runs leave the first stop."""

    trip: GtfsTrip
    route: TimetableRoute
    layout: SeatLayout
    starts: list[int]  # seconds after the service day's noon-minus-12h
    timezone: str
    frequency_based: bool


class _TimetableBuilder:
    def __init__(self, feed: _Feed, pricing: Pricing, *, strict: bool) -> None:
        self._feed = feed
        self._pricing = pricing
        self._strict = strict
        self._stations = StationMaker(
            feed.stops, feed.translations, feed.identity, feed.default_timezone
        )
        self._routes: dict[tuple[object, ...], TimetableRoute] = {}
        self._stations_by_code: dict[str, Station] = {}

    def build(self, window: Window) -> Timetable:
        runs = [r for trip in self._feed.trips.values() if (r := self._runs(trip)) is not None]
        trips = _dated_trips(runs, window, self._feed)
        if not trips:
            raise self._nothing_in(window)
        routes = {run.route.code: run.route for run in runs}
        used_routes = [routes[code] for code in dict.fromkeys(t.route_code for t in trips)]
        station_codes = dict.fromkeys(s.station_code for r in used_routes for s in r.stops)
        layouts = {run.layout.name: run.layout for run in runs}
        return Timetable(
            stations=[self._stations_by_code[code] for code in station_codes],
            layouts=[layouts[name] for name in sorted({t.layout_name for t in trips})],
            routes=used_routes,
            trips=trips,
            popularity=_popularity(trips, routes),
        )

    def _runs(self, trip: GtfsTrip) -> _Runs | None:
        """The trip's route and run times, or None for a trip that cannot be booked."""
        timed = timed_stops(trip, self._feed.stop_times[trip.id])
        problem = time_goes_back(trip, timed)
        if problem is not None:
            if self._strict:
                raise problem
            log.warning("%s; trip skipped", problem)
            return None
        calls = self._calls(timed)
        if len(calls) < 2:
            log.warning("trip %r calls at one station only; trip skipped", trip.id)
            return None
        gtfs_route = self._feed.routes[trip.route_id]
        frequency_starts = self._feed.frequencies.get(trip.id)
        return _Runs(
            trip=trip,
            route=self._route(trip, calls),
            layout=layout_for(gtfs_route.route_type),
            starts=frequency_starts or [calls[0].departure],
            timezone=gtfs_route.agency.timezone,
            frequency_based=frequency_starts is not None,
        )

    def _calls(self, timed: list[TimedStop]) -> list[_Call]:
        calls: list[_Call] = []
        for stop in timed:
            platform = self._feed.stops[stop.stop_id]
            station = station_of(self._feed.stops, stop.stop_id)
            zone = platform.zone or station.zone
            if calls and calls[-1].station_id == station.id:
                # Two platforms of one station in a row: one call, from arrival to departure.
                last = calls.pop()
                calls.append(_Call(station.id, last.arrival, stop.departure, last.zone))
            else:
                calls.append(_Call(station.id, stop.arrival, stop.departure, zone))
        return calls

    def _route(self, trip: GtfsTrip, calls: list[_Call]) -> TimetableRoute:
        first = calls[0].departure
        # Offsets are whole minutes after the first departure; arriving at the first
        # stop means nothing to a passenger who boards there, so it is 0.
        shape = tuple(
            (c.station_id, (c.arrival - first) // 60 if n else 0, (c.departure - first) // 60,
             c.zone)
            for n, c in enumerate(calls)
        )
        key = (trip.route_id, trip.headsign, shape)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._make_route(trip, shape)
        return route

    def _make_route(
        self, trip: GtfsTrip, shape: tuple[tuple[str, int, int, str], ...]
    ) -> TimetableRoute:
        stations = [self._stations.station(station_id) for station_id, *_ in shape]
        for station in stations:
            self._stations_by_code[station.code] = station
        offsets, fares = price_route(
            trip.route_id,
            [(s.lat, s.lon) for s in stations],
            [zone for *_, zone in shape],
            self._feed.fares,
            self._pricing,
        )
        stops = tuple(
            RouteStop(seq, station.code, arrive, depart, fare)
            for seq, (station, (_, arrive, depart, _), fare)
            in enumerate(zip(stations, shape, offsets, strict=True))
        )
        if max(offsets, default=0) > limits.MAX_AMOUNT:
            raise FeedError(STOPS, None, f"route {trip.route_id!r}: its distance fare "
                            f"reaches {offsets[-1]}, more than a fare can be")
        gtfs_route = self._feed.routes[trip.route_id]
        name = _route_name(gtfs_route, trip.headsign)
        agency, currency = gtfs_route.agency.name, self._feed.fares.currency
        content = "|".join(
            [name, agency, currency,
             *(f"{s.station_code},{s.arrive_offset},{s.depart_offset},{s.fare_offset}"
               for s in stops),
             *(f"{i}-{j}:{amount}" for (i, j), amount in sorted(fares.items()))]
        )
        return TimetableRoute(
            code=_route_code(self._feed.identity, trip.route_id, content),
            name=name,
            agency=agency,
            currency=currency,
            stops=stops,
            fares=fares,
        )

    def _nothing_in(self, window: Window) -> FeedError:
        last = window.first + timedelta(days=window.days - 1)
        problem = f"no trip runs on {window.first}..{last}"
        period = feed_period(self._feed.services)
        if period is not None:
            problem += f"; the feed runs {period[0]}..{period[1]} (shift it onto the calendar)"
        return FeedError(self._feed.calendar_file, None, problem)


def _dated_trips(runs: list[_Runs], window: Window, feed: _Feed) -> list[TimetableTrip]:
    trips: list[TimetableTrip] = []
    for day, feed_day in window.days_with_feed_days():
        for run in runs:
            if not feed.services[run.trip.service_id].runs_on(feed_day):
                continue
            origin = _service_day_origin(day, run.timezone)
            for start in run.starts:
                trips.append(
                    TimetableTrip(
                        source_key=_source_key(feed.identity, run, day, start),
                        route_code=run.route.code,
                        service_date=day,
                        departure_at=origin + timedelta(seconds=start),
                        layout_name=run.layout.name,
                    )
                )
    return trips


@lru_cache(maxsize=4096)
def _service_day_origin(day: date, timezone: str) -> datetime:
    """GTFS times count from noon minus 12 hours, local time (midnight, except on the
    days the clocks change), in the agency's timezone even at stops with their own."""
    noon = datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone))
    return noon.astimezone(UTC) - timedelta(hours=12)


def _source_key(feed: FeedIdentity, run: _Runs, day: date, start: int) -> str:
    trip_id = run.trip.id
    if len(trip_id) > 160:  # keep within trips.source_key, still unique
        trip_id = "#" + hashlib.sha1(trip_id.encode()).hexdigest()
    key = f"gtfs:{feed.id}:{trip_id}:{day.isoformat()}"
    if run.frequency_based:
        key += f"@{start // 3600:02d}:{start // 60 % 60:02d}:{start % 60:02d}"
    return key


def _route_code(feed: FeedIdentity, route_id: str, content: str) -> str:
    digest = hashlib.sha1(content.encode()).hexdigest()[:12]
    code = f"gtfs:{feed.id}:{route_id}:{digest}"
    if len(code) > ROUTE_CODE_LENGTH:
        code = f"gtfs:{feed.id}:#{hashlib.sha1(route_id.encode()).hexdigest()[:24]}:{digest}"
    return code


def _route_name(route: GtfsRoute, headsign: str) -> str:
    """"ICE 1672 (Stralsund Hbf)": the line as the operator names it, and where it goes,
    cut to ROUTE_NAME_LENGTH characters (routes.name) rather than refused: the parts are
    separate fields, each within its own limits."""
    short, long = route.short_name, route.long_name
    base = long if short and long.startswith(short) else " ".join(p for p in (short, long) if p)
    base = base or route.id
    if headsign and headsign not in base:
        base = f"{base} ({headsign})"
    return base[:ROUTE_NAME_LENGTH]


def _popularity(trips: list[TimetableTrip], routes: dict[str, TimetableRoute]) -> dict[str, int]:
    """How many trips call at each station in the window: busy stations are offered first."""
    trips_per_route = Counter(trip.route_code for trip in trips)
    popularity: Counter[str] = Counter()
    for code, count in trips_per_route.items():
        for station_code in {stop.station_code for stop in routes[code].stops}:
            popularity[station_code] += count
    return dict(popularity)
