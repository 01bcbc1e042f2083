"""Storing a timetable: one transaction, idempotent, fast enough for a national feed.

* Stations are upserted: names, timezone, position and popularity follow the timetable.
* Seat layouts and routes are looked up by name and code and only inserted when missing.
  A stored route is never changed: other code caches routes by id, and a changed
  timetable comes with new route codes anyway (the code carries a digest of the route).
* Trips are looked up by source key and only inserted when missing; an existing trip is
  never touched, so its status, delay and sold seats stay as they are.

Everything happens in one transaction: a timetable is stored whole or not at all.
Reads and writes go in batches (existing keys fetched in chunks, rows inserted with
executemany), never one statement per trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from booking.model import Station
from booking.timetable import StoreReport, Timetable, TimetableRoute, TimetableTrip
from storage import tables as t
from storage.database import write_transaction
from storage.repositories import clear_caches

T = TypeVar("T")

# SQLite allows a limited number of bound parameters per statement (999 in older
# builds); PostgreSQL's limit is 32767. IN lists and insert batches stay below both.
SQLITE_CHUNK = 500
POSTGRES_CHUNK = 5000


async def store_timetable(engine: AsyncEngine, timetable: Timetable) -> StoreReport:
    """Store ``timetable`` in one transaction; storing it again changes nothing."""
    # On SQLite this takes the write lock at BEGIN, so the import never fails halfway
    # for want of it; on PostgreSQL it is an ordinary transaction.
    async with write_transaction(engine) as conn:
        store = _Store(conn)
        await store.stations(timetable.stations, timetable.popularity)
        layout_ids = await store.layouts(timetable)
        route_ids, routes_added = await store.routes(timetable.routes)
        trips_added = await store.trips(timetable.trips, route_ids, layout_ids)
    # This process sees the new stations and routes at once (a read still in flight as the
    # import commits may keep what it read for its minute).
    clear_caches()
    if trips_added:
        async with engine.connect() as conn:
            await _refresh_statistics(conn)
    return StoreReport(
        stations=len(timetable.stations),
        routes_added=routes_added,
        trips_added=trips_added,
        trips_kept=len(timetable.trips) - trips_added,
    )


async def _refresh_statistics(conn: AsyncConnection) -> None:
    """Let the query planner see the new rows now rather than whenever autovacuum (or
    never, on SQLite) gets to it: right after a bulk import its estimates are far off."""
    async with conn.begin():
        for table in (t.stations, t.routes, t.route_stops, t.fares, t.trips):
            await conn.execute(text(f"ANALYZE {table.name}"))


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Store:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._chunk = SQLITE_CHUNK if conn.dialect.name == "sqlite" else POSTGRES_CHUNK

    async def _existing(
        self, key: Column[Any], values: Iterable[Any], *others: Column[Any]
    ) -> dict[Any, Any]:
        """For the ``values`` of ``key`` already stored: value -> row (key, *others)."""
        found: dict[Any, Any] = {}
        for chunk in chunked(list(values), self._chunk):
            rows = await self._conn.execute(select(key, *others).where(key.in_(chunk)))
            found.update((row[0], row) for row in rows)
        return found

    async def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        for chunk in chunked(rows, self._chunk):
            await self._conn.execute(insert(table), list(chunk))

    async def stations(self, stations: list[Station], popularity: dict[str, int]) -> None:
        c = t.stations.c
        wanted = {station.code: _station_row(station, popularity) for station in stations}
        stored = await self._existing(c.code, wanted, c.names, c.timezone, c.lat, c.lon,
                                      c.popularity)
        await self._insert(t.stations, [row for code, row in wanted.items() if code not in stored])
        changed = [
            {"b_code": code, **{k: v for k, v in row.items() if k != "code"}}
            for code, row in wanted.items()
            if code in stored and _differs(row, stored[code]._mapping)
        ]
        if changed:
            # Only rows that differ are written: storing the same feed again writes nothing.
            await self._conn.execute(
                update(t.stations).where(c.code == bindparam("b_code")), changed
            )

    async def layouts(self, timetable: Timetable) -> dict[str, int]:
        c = t.seat_layouts.c
        names = {layout.name for layout in timetable.layouts}
        needed = {trip.layout_name for trip in timetable.trips}
        stored = await self._existing(c.name, names | needed, c.id)
        missing = [layout for layout in timetable.layouts if layout.name not in stored]
        await self._insert(
            t.seat_layouts,
            [
                {"name": layout.name, "rows": layout.rows, "columns": layout.columns,
                 "seat_class": layout.seat_class, "missing": sorted(layout.missing)}
                for layout in missing
            ],
        )
        if missing:
            stored = await self._existing(c.name, names | needed, c.id)
        unknown = needed - stored.keys()
        if unknown:
            raise ValueError(f"trips use seat layouts the timetable lacks: {sorted(unknown)}")
        return {name: row.id for name, row in stored.items()}

    async def routes(self, routes: list[TimetableRoute]) -> tuple[dict[str, int], int]:
        """Ids of the timetable's routes by code, inserting the missing ones."""
        c = t.routes.c
        by_code = {route.code: route for route in routes}
        stored = await self._existing(c.code, by_code, c.id)
        new = [route for code, route in by_code.items() if code not in stored]
        await self._insert(
            t.routes,
            [{"code": r.code, "name": r.name, "agency": r.agency, "currency": r.currency}
             for r in new],
        )
        ids = {code: row.id for code, row in stored.items()}
        if new:
            added = await self._existing(c.code, [r.code for r in new], c.id)
            ids.update((code, row.id) for code, row in added.items())
            await self._insert(t.route_stops, [
                {"route_id": ids[r.code], "seq": s.seq, "station_code": s.station_code,
                 "arrive_offset": s.arrive_offset, "depart_offset": s.depart_offset,
                 "fare_offset": s.fare_offset}
                for r in new for s in r.stops
            ])
            await self._insert(t.fares, [
                {"route_id": ids[r.code], "from_seq": i, "to_seq": j, "amount": amount}
                for r in new for (i, j), amount in sorted(r.fares.items())
            ])
        return ids, len(new)

    async def trips(
        self, trips: list[TimetableTrip], route_ids: dict[str, int], layout_ids: dict[str, int]
    ) -> int:
        """Insert the trips not stored yet; returns how many."""
        c = t.trips.c
        unknown = {trip.route_code for trip in trips} - route_ids.keys()
        if unknown:
            raise ValueError(f"trips use routes the timetable lacks: {sorted(unknown)[:5]}")
        by_key = {trip.source_key: trip for trip in trips}
        stored = await self._existing(c.source_key, by_key)
        new = [
            {"route_id": route_ids[trip.route_code], "service_date": trip.service_date,
             "departure_at": trip.departure_at, "layout_id": layout_ids[trip.layout_name],
             "source_key": key}
            for key, trip in by_key.items() if key not in stored
        ]
        await self._insert(t.trips, new)
        return len(new)


def _station_row(station: Station, popularity: dict[str, int]) -> dict[str, Any]:
    return {
        "code": station.code,
        "names": dict(station.names),
        "timezone": station.timezone,
        "lat": station.lat,
        "lon": station.lon,
        "popularity": popularity.get(station.code, 0),
    }


def _differs(row: dict[str, Any], stored: Any) -> bool:
    return any(row[key] != stored[key] for key in row if key != "code")
