"""Routes, trips, their stop times and frequencies, read and checked against each other."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from booking.gtfs.agency import Agency
from booking.gtfs.calendar import Service
from booking.gtfs.errors import FeedError
from booking.gtfs.source import FeedFiles, Record
from booking.gtfs.stations import Stop

ROUTES = "routes.txt"
TRIPS = "trips.txt"
STOP_TIMES = "stop_times.txt"
FREQUENCIES = "frequencies.txt"


@dataclass(frozen=True, slots=True)
class GtfsRoute:
    id: str
    agency: Agency
    short_name: str
    long_name: str
    route_type: int


@dataclass(frozen=True, slots=True)
class GtfsTrip:
    id: str
    route_id: str
    service_id: str
    headsign: str
    line: int


@dataclass(frozen=True, slots=True)
class StopTime:
    sequence: int
    stop_id: str
    arrival: int | None  # seconds from the service day's noon-minus-12h; None: not a timepoint
    departure: int | None
    line: int


@dataclass(frozen=True, slots=True)
class TimedStop:
    """A stop with both times known (given, or interpolated for a non-timepoint)."""

    stop_id: str
    arrival: int
    departure: int
    line: int


def read_routes(files: FeedFiles, agencies: dict[str, Agency]) -> dict[str, GtfsRoute]:
    routes: dict[str, GtfsRoute] = {}
    for record in files.records(ROUTES, ("route_id", "route_type")):
        route_id = record.required("route_id")
        if route_id in routes:
            raise record.error(f"route_id {route_id!r} appears twice")
        routes[route_id] = GtfsRoute(
            id=route_id,
            agency=_agency_of(record, agencies),
            short_name=record.get("route_short_name"),
            long_name=record.get("route_long_name"),
            route_type=record.integer("route_type"),
        )
    return routes


def _agency_of(record: Record, agencies: dict[str, Agency]) -> Agency:
    agency_id = record.get("agency_id")
    if not agency_id and len(agencies) == 1:
        return next(iter(agencies.values()))  # a feed of one agency may leave it out
    if not agency_id:
        raise record.error("agency_id is empty but the feed has several agencies")
    agency = agencies.get(agency_id)
    if agency is None:
        raise record.error(f"unknown agency_id {agency_id!r}")
    return agency


def read_trips(
    files: FeedFiles, routes: dict[str, GtfsRoute], services: dict[str, Service]
) -> dict[str, GtfsTrip]:
    trips: dict[str, GtfsTrip] = {}
    for record in files.records(TRIPS, ("route_id", "service_id", "trip_id")):
        trip_id = record.required("trip_id")
        if trip_id in trips:
            raise record.error(f"trip_id {trip_id!r} appears twice")
        route_id = record.required("route_id")
        if route_id not in routes:
            raise record.error(f"unknown route_id {route_id!r}")
        service_id = record.required("service_id")
        if service_id not in services:
            raise record.error(f"unknown service_id {service_id!r}")
        trips[trip_id] = GtfsTrip(
            trip_id, route_id, service_id, record.get("trip_headsign"), record.line
        )
    return trips


def read_stop_times(
    files: FeedFiles, trips: dict[str, GtfsTrip], stops: dict[str, Stop]
) -> dict[str, list[StopTime]]:
    """Each trip's stop times in stop_sequence order; every trip has at least two."""
    by_trip: dict[str, list[StopTime]] = defaultdict(list)
    required = ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence")
    for record in files.records(STOP_TIMES, required):
        trip_id = record.required("trip_id")
        if trip_id not in trips:
            raise record.error(f"unknown trip_id {trip_id!r}")
        stop_id = record.required("stop_id")
        if stop_id not in stops:
            raise record.error(f"unknown stop_id {stop_id!r}")
        sequence = record.integer("stop_sequence")
        if sequence < 0:
            raise record.error(f"negative stop_sequence {sequence}")
        by_trip[trip_id].append(
            StopTime(
                sequence, stop_id, record.time("arrival_time"), record.time("departure_time"),
                record.line,
            )
        )
    for trip in trips.values():
        _check_stop_count(trip, by_trip.get(trip.id, []))
        by_trip[trip.id].sort(key=lambda stop_time: stop_time.sequence)
        _check_sequence(trip, by_trip[trip.id])
    return dict(by_trip)


def _check_stop_count(trip: GtfsTrip, stop_times: list[StopTime]) -> None:
    if not stop_times:
        raise FeedError(TRIPS, trip.line, f"trip {trip.id!r} has no stop times")
    if len(stop_times) < 2:
        raise FeedError(
            STOP_TIMES, stop_times[0].line, f"trip {trip.id!r} has only one stop"
        )


def _check_sequence(trip: GtfsTrip, stop_times: list[StopTime]) -> None:
    for before, after in itertools.pairwise(stop_times):
        if before.sequence == after.sequence:
            later = max(before.line, after.line)
            raise FeedError(
                STOP_TIMES, later, f"stop_sequence {after.sequence} twice in trip {trip.id!r}"
            )


def timed_stops(trip: GtfsTrip, stop_times: list[StopTime]) -> list[TimedStop]:
    """Both times for every stop: a missing one is copied from the other, and a stop with
    neither (not a timepoint) is placed evenly between the timed stops around it."""
    for end in (stop_times[0], stop_times[-1]):
        if end.arrival is None and end.departure is None:
            raise FeedError(
                STOP_TIMES, end.line, f"the first and last stop of trip {trip.id!r} need a time"
            )
    given = [_given_times(stop_time) for stop_time in stop_times]
    result: list[TimedStop] = []
    for index, stop_time in enumerate(stop_times):
        pair = given[index]
        if pair is None:
            moment = _between(given, index, result[-1].departure)
            pair = (moment, moment)
        result.append(TimedStop(stop_time.stop_id, pair[0], pair[1], stop_time.line))
    return result


def _given_times(stop_time: StopTime) -> tuple[int, int] | None:
    """(arrival, departure) as given, one standing in for the other; None if neither is."""
    if stop_time.arrival is not None:
        departure = stop_time.departure
        return stop_time.arrival, stop_time.arrival if departure is None else departure
    if stop_time.departure is not None:
        return stop_time.departure, stop_time.departure
    return None


def _between(given: list[tuple[int, int] | None], index: int, previous: int) -> int:
    """The time of untimed stop ``index``: one even step from the stop before it towards
    the next timed stop (done stop by stop, this spaces the untimed stops evenly)."""
    for after in range(index + 1, len(given)):
        pair = given[after]
        if pair is not None:
            return previous + (pair[0] - previous) // (after - index + 1)
    raise AssertionError("the last stop of a trip always has a time")


def time_goes_back(trip: GtfsTrip, stops: list[TimedStop]) -> FeedError | None:
    """The first place where the trip leaves before it arrives, or arrives before it left
    the stop before; equal times are fine (two stops within the same minute)."""
    previous: TimedStop | None = None
    for stop in stops:
        if stop.departure < stop.arrival:
            return FeedError(
                STOP_TIMES, stop.line,
                f"trip {trip.id!r} departs {_clock(stop.departure)} "
                f"before it arrives {_clock(stop.arrival)}",
            )
        if previous is not None and stop.arrival < previous.departure:
            return FeedError(
                STOP_TIMES, stop.line,
                f"trip {trip.id!r} arrives {_clock(stop.arrival)}, before it left "
                f"the stop before ({_clock(previous.departure)}): times go backwards",
            )
        previous = stop
    return None


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def read_frequencies(files: FeedFiles, trips: dict[str, GtfsTrip]) -> dict[str, list[int]]:
    """For each frequency-based trip, the departure times (seconds) of its runs.

    A run starts at start_time and every headway_secs after it while before end_time
    (end_time is where the next headway period begins, so it is not itself a start).
    """
    starts: dict[str, list[int]] = defaultdict(list)
    if not files.has(FREQUENCIES):
        return {}
    required = ("trip_id", "start_time", "end_time", "headway_secs")
    for record in files.records(FREQUENCIES, required):
        trip_id = record.required("trip_id")
        if trip_id not in trips:
            raise record.error(f"unknown trip_id {trip_id!r}")
        start, end = record.time("start_time"), record.time("end_time")
        if start is None or end is None:
            raise record.error("start_time and end_time are required")
        if end <= start:
            raise record.error("end_time is not after start_time")
        headway = record.integer("headway_secs")
        if headway <= 0:
            raise record.error(f"headway_secs must be positive, not {headway}")
        starts[trip_id].extend(range(start, end, headway))
    return {trip_id: sorted(set(times)) for trip_id, times in starts.items()}
