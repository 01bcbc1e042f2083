"""A timetable to store: what the GTFS importer and the demo network both produce.

Storing one is idempotent: stations are updated, routes, layouts and trips are found by
their codes and source keys and left as they are (so sold seats are kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from booking.model import RouteStop, SeatLayout, Station


@dataclass(frozen=True, slots=True)
class TimetableRoute:
    code: str  # stable: the same stops and times always give the same code
    name: str
    agency: str
    currency: str
    stops: tuple[RouteStop, ...]
    fares: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TimetableTrip:
    source_key: str  # stable identity of this run on this service day
    route_code: str
    service_date: date
    departure_at: datetime  # UTC, from the route's first stop
    layout_name: str


@dataclass(slots=True)
class Timetable:
    stations: list[Station] = field(default_factory=list)
    layouts: list[SeatLayout] = field(default_factory=list)  # ids are assigned on storing
    routes: list[TimetableRoute] = field(default_factory=list)
    trips: list[TimetableTrip] = field(default_factory=list)
    popularity: dict[str, int] = field(default_factory=dict)  # station code -> rank weight


@dataclass(frozen=True, slots=True)
class StoreReport:
    stations: int
    routes_added: int
    trips_added: int
    trips_kept: int
