"""Sales figures for staff: tickets sold, revenue, refunds and load factor per route and
travel day, over the last few days.

The load factor counts seat-legs: a seat sold from the first stop to the last fills every
leg of the trip, one sold over half the route half of them, so a coach that sells each seat
twice on two halves of its route is full (1.0), not double-full.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from booking.errors import BookingError, ErrorCode
from booking.ports import TripSales
from booking.staff import require_role
from booking.usecase import UseCases, station_of

MAX_DAYS = 92  # a quarter: longer periods belong in a data warehouse, not a chat


@dataclass(frozen=True, slots=True)
class RouteDay:
    route_id: int
    route: str  # "BJS → TSN": the route's first and last stations, by code
    day: date
    trips: int
    tickets: int
    revenue: int  # minor units of ``currency``
    refunds: int
    currency: str
    seat_legs: int
    capacity_legs: int

    @property
    def load_factor(self) -> float:
        return self.seat_legs / self.capacity_legs if self.capacity_legs else 0.0


@dataclass(frozen=True, slots=True)
class SalesReport:
    first_day: date
    last_day: date
    rows: tuple[RouteDay, ...]  # by day, then route
    route_names: dict[int, tuple[str, str]]  # route id -> first and last station codes

    @property
    def tickets(self) -> int:
        return sum(row.tickets for row in self.rows)

    def revenue(self) -> dict[str, int]:
        return _by_currency(self.rows, lambda row: row.revenue)

    def refunds(self) -> dict[str, int]:
        return _by_currency(self.rows, lambda row: row.refunds)

    @property
    def load_factor(self) -> float:
        capacity = sum(row.capacity_legs for row in self.rows)
        return sum(row.seat_legs for row in self.rows) / capacity if capacity else 0.0

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise BookingError(ErrorCode.BAD_PERIOD, limit=MAX_DAYS)
    return days


class StatsService(UseCases):
    async def report(self, staff_id: int, days: int, today: date) -> SalesReport:
        """The ``days`` travel days ending ``today`` (the staff member's today)."""
        check_days(days)
        first = today - timedelta(days=days - 1)
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            sales = await uow.orders.sales_by_trip(first, today)
            routes = await uow.catalog.routes(sorted({s.route_id for s in sales}))
            capacities = {layout_id: (await uow.catalog.layout(layout_id)).capacity
                          for layout_id in {s.layout_id for s in sales}}
            names = {}
            for route_id, route in routes.items():
                origin = await station_of(uow, route.stops[0].station_code)
                destination = await station_of(uow, route.stops[-1].station_code)
                names[route_id] = (origin.code, destination.code)
        rows = _route_days(sales, names, capacities)
        return SalesReport(first, today, tuple(rows), names)


def _route_days(sales: list[TripSales], names: dict[int, tuple[str, str]],
                capacities: dict[int, int]) -> list[RouteDay]:
    grouped: dict[tuple[date, int], list[TripSales]] = defaultdict(list)
    for trip in sales:
        grouped[(trip.service_date, trip.route_id)].append(trip)
    rows = []
    for (day, route_id), trips in sorted(grouped.items()):
        running = [t for t in trips if not t.cancelled]  # a cancelled trip offers no seats
        first, last = names[route_id]
        rows.append(RouteDay(
            route_id=route_id, route=f"{first} → {last}", day=day, trips=len(running),
            tickets=sum(t.tickets for t in trips), revenue=sum(t.revenue for t in trips),
            refunds=sum(t.refunds for t in trips), currency=trips[0].currency,
            seat_legs=sum(t.seat_legs for t in running),
            capacity_legs=sum(capacities[t.layout_id] * t.legs for t in running),
        ))
    return rows


def _by_currency(rows: tuple[RouteDay, ...], value: Callable[[RouteDay], int]
                 ) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.currency] += value(row)
    return dict(sorted(totals.items()))
