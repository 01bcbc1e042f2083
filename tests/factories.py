"""A small network written straight into the tables, for tests of the booking core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t

BERLIN = ZoneInfo("Europe/Berlin")
STOPS = ["A", "B", "C", "D", "E", "F"]  # Alpha .. Foxtrot, one hour apart


def pax(n: int) -> str:
    """A passenger name for number ``n`` in letters only, as names must be ("Pax B")."""
    letters = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"Pax {letters}"


@dataclass(frozen=True)
class Network:
    trips: dict[date, int]  # service day -> trip id of the 08:00 run
    route_id: int
    layout_capacity: int


async def build_network(
    engine: AsyncEngine,
    first_day: date = date(2026, 6, 1),
    days: int = 7,
    rows: int = 5,
    columns: str = "AB_CD",
) -> Network:
    """Stations A-F, one route calling at all of them, a daily 08:00 (Berlin) trip."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(t.stations),
            [
                {
                    "code": code,
                    "names": {"en": f"Station {code}", "ru": f"Станция {code}",
                              "zh": f"{code}站"},
                    "timezone": "Europe/Moscow" if code == "F" else "Europe/Berlin",
                    "popularity": 10 - i,
                }
                for i, code in enumerate(STOPS)
            ],
        )
        layout_id = (
            await conn.execute(
                insert(t.seat_layouts)
                .values(name="test", rows=rows, columns=columns, seat_class="standard",
                        missing=[])
                .returning(t.seat_layouts.c.id)
            )
        ).scalar_one()
        route_id = (
            await conn.execute(
                insert(t.routes)
                .values(code="A-F", name="A - F", currency="EUR")
                .returning(t.routes.c.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(t.route_stops),
            [
                {
                    "route_id": route_id,
                    "seq": seq,
                    "station_code": code,
                    "arrive_offset": seq * 60,
                    "depart_offset": seq * 60 + (5 if 0 < seq < len(STOPS) - 1 else 0),
                    "fare_offset": seq * 1000,
                }
                for seq, code in enumerate(STOPS)
            ],
        )
        trips: dict[date, int] = {}
        for n in range(days):
            day = first_day + timedelta(days=n)
            departure = datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).replace(hour=8)
            trips[day] = (
                await conn.execute(
                    insert(t.trips)
                    .values(
                        route_id=route_id,
                        service_date=day,
                        departure_at=departure,
                        layout_id=layout_id,
                        source_key=f"test:{day.isoformat()}",
                    )
                    .returning(t.trips.c.id)
                )
            ).scalar_one()
        capacity = rows * len(columns.replace("_", ""))
    return Network(trips=trips, route_id=route_id, layout_capacity=capacity)


async def double_allocations(engine: AsyncEngine, now: datetime) -> list[tuple[int, str]]:
    """(trip, seat) pairs that two live allocations hold on overlapping stop intervals."""
    a = t.allocations.c
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(a.trip_id, a.seat, a.from_seq, a.to_seq, a.held_until, a.order_id).where(
                    a.live
                )
            )
        ).all()
    live = [r for r in rows if r.held_until is None or r.held_until > now]
    clashes = []
    for i, x in enumerate(live):
        for y in live[i + 1 :]:
            same_seat = x.trip_id == y.trip_id and x.seat == y.seat
            if same_seat and x.from_seq < y.to_seq and y.from_seq < x.to_seq:
                clashes.append((x.trip_id, x.seat))
    return clashes
