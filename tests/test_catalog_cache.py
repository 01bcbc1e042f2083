"""The timetable's shape (stations, routes between two stations, where a station leads) is
kept for a minute: an import in this process shows at once, another process's within it."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.service import BookingService
from storage import repositories
from storage import tables as t
from storage.timetable import store_timetable
from tests.test_timetable_store import AIRPORT, BULLFROG, DAY, sample

NEW = "gtfs:dta:NEW_STOP"


async def another_process_adds_a_station(engine: AsyncEngine) -> None:
    """A station written behind this process's back, as an import elsewhere would."""
    async with engine.begin() as conn:
        await conn.execute(insert(t.stations).values(
            code=NEW, names={"en": "New Stop"}, timezone="America/Los_Angeles",
            lat=36.9, lon=-116.7, popularity=0))


def a_minute_later(monkeypatch: pytest.MonkeyPatch) -> None:
    later = time.monotonic() + repositories.STATION_CACHE_SECONDS + 1
    monkeypatch.setattr(repositories, "time", SimpleNamespace(monotonic=lambda: later))


async def test_the_shape_is_kept_for_a_minute(engine: AsyncEngine, service: BookingService,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    await store_timetable(engine, sample())
    first = [s.code for s in await service.stations()]
    leads_to = {s.code for s in await service.destinations(AIRPORT)}
    [option] = await service.search(AIRPORT, BULLFROG, DAY)
    await another_process_adds_a_station(engine)

    assert [s.code for s in await service.stations()] == first  # kept
    # The kept list and sets are not handed out to be changed by a caller.
    async with engine.connect() as conn:
        catalog = repositories.SqlCatalog(conn, str(engine.url))
        (await catalog.stations()).clear()
        (await catalog.destinations_from(AIRPORT)).clear()
        (await catalog.routes_serving(AIRPORT, BULLFROG)).clear()
    assert [s.code for s in await service.stations()] == first
    assert {s.code for s in await service.destinations(AIRPORT)} == leads_to
    assert [o.trip_id for o in await service.search(AIRPORT, BULLFROG, DAY)] == [option.trip_id]

    a_minute_later(monkeypatch)
    assert NEW in [s.code for s in await service.stations()]


async def test_an_import_here_shows_at_once(engine: AsyncEngine,
                                            service: BookingService) -> None:
    await store_timetable(engine, sample())
    assert NEW not in [s.code for s in await service.stations()]
    await another_process_adds_a_station(engine)
    await store_timetable(engine, sample())  # changes nothing, but is an import
    assert NEW in [s.code for s in await service.stations()]
