"""Storing imported timetables on SQLite and PostgreSQL: whole, idempotent, searchable."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.gtfs import read_feed
from booking.model import OrderStatus, RouteStop
from booking.service import BookingService
from booking.timetable import Timetable, TimetableRoute
from storage import tables as t
from storage.timetable import store_timetable
from tests.test_gtfs import DB_ZIP, SAMPLE_DIR, copy_sample, edit

DAY = date(2026, 6, 1)  # the conftest clock's day; a Monday
AIRPORT, BULLFROG = "gtfs:dta:BEATTY_AIRPORT", "gtfs:dta:BULLFROG"
COLOGNE, FRANKFURT = "gtfs:db:8000207", "gtfs:db:8000105"


def sample(days: int = 2) -> Timetable:
    return read_feed(SAMPLE_DIR, today=DAY, shift_to=DAY, days=days)


@pytest.fixture(scope="module")
def db_day() -> Timetable:
    """One day of the DB long-distance feed on 2026-06-01 (read once for both databases)."""
    logging.getLogger("booking.gtfs").setLevel(logging.ERROR)  # its three known warnings
    try:
        return read_feed(DB_ZIP, today=DAY, shift_to=DAY, days=1)
    finally:
        logging.getLogger("booking.gtfs").setLevel(logging.NOTSET)


async def count(engine: AsyncEngine, table: t.Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after."""
    async with engine.connect() as conn:
        return {
            table.name: sorted(
                (tuple(row) for row in await conn.execute(select(table))), key=repr
            )
            for table in t.metadata.sorted_tables
        }


async def test_sample_feed_is_stored_and_searchable(
    engine: AsyncEngine, service: BookingService
) -> None:
    timetable = sample()
    report = await store_timetable(engine, timetable)
    assert (report.stations, report.routes_added) == (8, len(timetable.routes))
    assert report.trips_added == len(timetable.trips) and report.trips_kept == 0
    assert await count(engine, t.trips) == len(timetable.trips)
    assert await count(engine, t.route_stops) == sum(len(r.stops) for r in timetable.routes)
    [option] = await service.search(AIRPORT, BULLFROG, DAY)
    assert option.route_name == "10 Airport - Bullfrog (to Bullfrog)"
    assert option.departure.isoformat() == "2026-06-01T08:00:00-07:00"
    assert option.arrival.isoformat() == "2026-06-01T08:10:00-07:00"
    assert (option.price, option.currency) == (125, "USD")
    assert option.seats_free == option.capacity == 49
    stations = await service.stations()
    assert stations[0].code == "gtfs:dta:STAGECOACH"  # the busiest first


async def test_storing_again_changes_nothing_and_keeps_sold_seats(
    engine: AsyncEngine, service: BookingService
) -> None:
    await store_timetable(engine, sample())
    [option] = await service.search(AIRPORT, BULLFROG, DAY)
    order = await service.hold(1001, option.trip_id, AIRPORT, BULLFROG, ["Ann Lee"], ["1A"])
    before = await snapshot(engine)

    report = await store_timetable(engine, sample())

    assert (report.routes_added, report.trips_added) == (0, 0)
    assert report.trips_kept == len(sample().trips)
    assert await snapshot(engine) == before
    assert (await service.order(order.id)).status is OrderStatus.HELD
    seat_map = await service.seat_map(option.trip_id, AIRPORT, BULLFROG)
    assert "1A" not in seat_map.free
    [again] = await service.search(AIRPORT, BULLFROG, DAY)
    assert (again.trip_id, again.seats_free) == (option.trip_id, 48)


async def test_a_longer_window_adds_only_the_new_days(engine: AsyncEngine) -> None:
    first = await store_timetable(engine, sample(days=2))
    longer = sample(days=3)
    report = await store_timetable(engine, longer)
    assert report.trips_kept == first.trips_added
    assert report.trips_added == sum(1 for trip in longer.trips if trip.service_date == date(
        2026, 6, 3))
    assert await count(engine, t.trips) == len(longer.trips)


async def test_stations_follow_the_feed_but_stored_routes_never_change(
    engine: AsyncEngine, service: BookingService
) -> None:
    timetable = sample()
    await store_timetable(engine, timetable)
    renamed = dataclasses.replace(
        timetable,
        stations=[
            dataclasses.replace(s, names={**s.names, "ru": "Аэропорт"}) if s.code == AIRPORT
            else s
            for s in timetable.stations
        ],
        popularity={**timetable.popularity, AIRPORT: 10_000},
        # The same code with other stops must not touch the stored route.
        routes=[dataclasses.replace(r, stops=r.stops[::-1]) for r in timetable.routes],
    )
    report = await store_timetable(engine, renamed)
    assert report.routes_added == 0
    stations = await service.stations()
    assert stations[0].code == AIRPORT
    assert stations[0].name("ru") == "Аэропорт"
    [option] = await service.search(AIRPORT, BULLFROG, DAY)  # still airport first
    assert option.from_seq == 0


async def test_a_store_that_fails_writes_nothing(engine: AsyncEngine) -> None:
    timetable = sample()
    broken_route = TimetableRoute(
        code="gtfs:dta:broken", name="Nowhere", agency="", currency="USD",
        stops=(RouteStop(0, AIRPORT, 0, 0, 0), RouteStop(1, "gtfs:dta:NOWHERE", 10, 10, 500)),
    )
    timetable.routes.append(broken_route)  # its second station is not in the timetable
    with pytest.raises(IntegrityError):
        await store_timetable(engine, timetable)
    for table in t.metadata.sorted_tables:
        assert await count(engine, table) == 0, table.name


async def test_db_feed_is_stored_and_searchable(
    engine: AsyncEngine, service: BookingService, db_day: Timetable
) -> None:
    report = await store_timetable(engine, db_day)
    assert report.trips_added == len(db_day.trips) > 500
    options = await service.search(COLOGNE, FRANKFURT, DAY)
    assert len(options) > 10
    assert [o.departure for o in options] == sorted(o.departure for o in options)
    first = options[0]
    assert first.departure.tzname() == "CEST" and first.departure.date() == DAY
    assert first.currency == "EUR" and 500 <= first.price < 3000  # about 150 km
    assert first.seats_free == first.capacity == 64
    assert first.origin.name("de") == "Köln Hbf"
    hubs = [s.name() for s in (await service.stations())[:10]]
    assert "Frankfurt(Main)Hbf" in hubs and "Köln Hbf" in hubs


async def test_a_feed_at_the_limits_is_stored_alike_on_both_databases(
    engine: AsyncEngine, service: BookingService, tmp_path: Path
) -> None:
    """Names as long as their columns, a currency in lower case, a right-to-left mark (a
    format character, which names in Arabic or Hebrew may need): stored on PostgreSQL as on
    SQLite. One character more, or a control character, is refused by read_feed first."""
    folder = copy_sample(tmp_path)
    edit(folder, "agency.txt", "Demo Transit Authority", "D" * 200)
    edit(folder, "stops.txt", "Nye County Airport (Demo)", "\u200f" + "N" * 199)
    edit(folder, "fare_attributes.txt", "p,1.25,USD", "p,1.25,usd")
    timetable = read_feed(folder, today=DAY, shift_to=DAY, days=1)
    await store_timetable(engine, timetable)
    async with engine.connect() as conn:
        agencies = set((await conn.execute(select(t.routes.c.agency, t.routes.c.currency))).all())
    assert agencies == {("D" * 200, "USD")}
    [option] = await service.search(AIRPORT, BULLFROG, DAY)
    assert option.origin.name() == "\u200f" + "N" * 199
    assert (option.price, option.currency) == (125, "USD")
