"""Search across clock changes, on long trips boarded late (issue 9, item 6).

A trip is found by its first departure, so the search window opens earlier by the latest
boarding offset. Done in local wall-clock time, that subtraction is an hour off across a
clock change: a trip boarded about a day after its first departure, on the day after the
spring change, went missing. Every trip here is checked against the plain definition: it
is found for day D exactly when it leaves the boarding stop on D, local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.service import BookingService
from booking.settings import BookingRules
from storage import tables as t
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")
# Minutes from the first departure to each call: boarding stops up to two days out.
OFFSETS = [0, 21 * 60 + 30, 22 * 60, 23 * 60 + 30, 30 * 60, 47 * 60, 48 * 60]
STOPS = [f"S{n}" for n in range(len(OFFSETS))]
SPRING = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST
AUTUMN = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET
RUN_EVERY = timedelta(minutes=20)


async def long_route_network(engine: AsyncEngine, change: date) -> dict[int, datetime]:
    """One long route; a trip every 20 minutes from three days before ``change`` to the
    day after it. Returns each trip's first departure (UTC) by id."""
    first = datetime.combine(change - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    last = datetime.combine(change + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    departures = []
    moment = first
    while moment < last:
        departures.append(moment)
        moment += RUN_EVERY
    async with engine.begin() as conn:
        await conn.execute(insert(t.stations), [
            {"code": code, "names": {"en": code}, "timezone": "Europe/Berlin", "popularity": 0}
            for code in STOPS
        ])
        layout = (await conn.execute(
            insert(t.seat_layouts).values(name="dst", rows=1, columns="AB", seat_class="x",
                                          missing=[]).returning(t.seat_layouts.c.id)
        )).scalar_one()
        route = (await conn.execute(
            insert(t.routes).values(code="long", name="Long", currency="EUR")
            .returning(t.routes.c.id)
        )).scalar_one()
        await conn.execute(insert(t.route_stops), [
            {"route_id": route, "seq": seq, "station_code": code, "arrive_offset": offset,
             "depart_offset": offset, "fare_offset": seq * 100}
            for seq, (code, offset) in enumerate(zip(STOPS, OFFSETS, strict=True))
        ])
        ids = {}
        for n, departure in enumerate(departures):
            ids[(await conn.execute(
                insert(t.trips).values(
                    route_id=route, service_date=departure.date(), departure_at=departure,
                    layout_id=layout, source_key=f"dst:{n}",
                ).returning(t.trips.c.id)
            )).scalar_one()] = departure
    return ids


def expected(trips: dict[int, datetime], boarding: int, day: date) -> list[int]:
    """The trips leaving stop ``boarding`` on ``day`` in Berlin: the definition itself."""
    leaves = {trip: first + timedelta(minutes=OFFSETS[boarding]) for trip, first in trips.items()}
    return sorted(
        (trip for trip, moment in leaves.items() if moment.astimezone(BERLIN).date() == day),
        key=lambda trip: (leaves[trip], trip),
    )


@pytest.mark.parametrize("change", [SPRING, AUTUMN], ids=["spring", "autumn"])
async def test_search_finds_every_trip_boarded_late_around_a_clock_change(
    engine: AsyncEngine, change: date
) -> None:
    trips = await long_route_network(engine, change)
    clock = FakeClock(datetime.combine(change - timedelta(days=10), datetime.min.time(),
                                       tzinfo=UTC))
    service = BookingService(SqlUnitOfWorkFactory(engine), rules=BookingRules(), clock=clock)
    for boarding in range(1, len(STOPS) - 1):
        for day in (change - timedelta(days=1) + timedelta(days=n) for n in range(4)):
            options = await service.search(STOPS[boarding], STOPS[-1], day)
            assert [o.trip_id for o in options] == expected(trips, boarding, day), (
                STOPS[boarding], day)
            assert all(o.departure.date() == day for o in options)


async def test_day_after_spring_change_keeps_a_trip_boarded_22_hours_in(
    engine: AsyncEngine,
) -> None:
    """The case that was missed: first departure 00:20 UTC on the day of the change,
    boarding 22 hours later, at 00:20 CEST the day after."""
    trips = await long_route_network(engine, SPRING)
    clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
    service = BookingService(SqlUnitOfWorkFactory(engine), clock=clock)
    [trip] = [t for t, first in trips.items() if first == datetime(2026, 3, 29, 0, 20, tzinfo=UTC)]
    options = await service.search("S2", "S6", SPRING + timedelta(days=1))
    found = {o.trip_id: o for o in options}
    assert trip in found
    assert found[trip].departure.isoformat() == "2026-03-30T00:20:00+02:00"
    nearest = await service.nearest_days("S2", "S6", SPRING + timedelta(days=3), 1)
    assert SPRING + timedelta(days=1) in nearest


async def test_the_hour_that_repeats_in_autumn_is_ordered_by_real_time(
    engine: AsyncEngine,
) -> None:
    """02:40 CEST comes before 02:20 CET: local times of one zone compare by the wall clock,
    so the search and a customer's orders sort by the instant."""
    trips = await long_route_network(engine, AUTUMN)
    service = BookingService(SqlUnitOfWorkFactory(engine),
                             clock=FakeClock(datetime(2026, 10, 1, tzinfo=UTC)))
    by_departure = {first: trip for trip, first in trips.items()}
    summer = by_departure[datetime(2026, 10, 25, 0, 40, tzinfo=UTC)]  # 02:40 CEST
    winter = by_departure[datetime(2026, 10, 25, 1, 20, tzinfo=UTC)]  # 02:20 CET
    options = [o.trip_id for o in await service.search("S0", "S1", AUTUMN)]
    assert options.index(summer) < options.index(winter)
    later = await service.hold(7, winter, "S0", "S1", ["Ann"])
    sooner = await service.hold(7, summer, "S0", "S1", ["Ann"])
    assert [v.id for v in await service.orders_of(7)] == [sooner.id, later.id]
