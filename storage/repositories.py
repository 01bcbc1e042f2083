"""Repositories: rows in and out of the tables, as booking's domain objects."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Integer, String, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.model import (
    Order,
    OrderStatus,
    Route,
    RouteStop,
    SeatAllocation,
    SeatLayout,
    Station,
    Trip,
    TripStatus,
    segments_overlap,
)
from booking.ports import AuditEvent, Segment, TripLoad, TripSales
from storage import tables as t

T = TypeVar("T")

# Stations and the timetable's shape (the list of stations, the routes serving a pair of
# stations, the stations a station's routes lead on to) change only with an import (which
# may rename a station or correct its timezone), and every passenger's search asks them
# again; every order view names two stations. So each answer is kept for a minute (not an
# unknown station: it may be imported any moment). An import in this process forgets them
# at once (storage/timetable.py); another process's shows within the minute.
STATION_CACHE_SECONDS = 60.0
_shape_cache: dict[tuple[str, str, str, str], tuple[float, Any]] = {}
SHAPE_CACHE_ENTRIES = 20_000  # past this many answers kept, start over

# Routes and layouts never change once stored (a new timetable makes new routes), so
# every process may keep them; this saves two queries on each hold.
_route_cache: dict[tuple[str, int], Route] = {}
# Nor does the route a trip runs on: the trips this process has read, by id.
_trip_routes: dict[tuple[str, int], int] = {}
TRIP_ROUTES_KEPT = 100_000  # past this many trips, start over
_layout_cache: dict[tuple[str, int], SeatLayout] = {}


def station_from_row(row: Sequence[Any]) -> Station:
    """The Station in a row of stations: SQLAlchemy's Row or asyncpg's Record alike."""
    code, names, timezone, lat, lon, _popularity = row
    return Station(code=code, names=dict(names), timezone=timezone, lat=lat, lon=lon)


def count_taken(rows: Iterable[Sequence[Any]], wanted: dict[int, Segment]) -> dict[int, int]:
    """Seats taken per trip on its wanted segment, from live allocation rows of
    (trip_id, seat, from_seq, to_seq): SQLAlchemy's Rows or asyncpg's Records alike."""
    taken: dict[int, set[str]] = {}
    for trip_id, seat, from_seq, to_seq in rows:
        segment = wanted[trip_id]
        if segments_overlap((from_seq, to_seq), (segment.from_seq, segment.to_seq)):
            taken.setdefault(trip_id, set()).add(seat)
    return {trip_id: len(seats) for trip_id, seats in taken.items()}


def trip_from_row(row: Sequence[Any]) -> Trip:
    """The Trip in a row of TRIP_COLUMNS: SQLAlchemy's Row or asyncpg's Record alike."""
    trip_id, route_id, service_date, departure_at, layout_id, status, delay_minutes = row
    return Trip(
        id=trip_id,
        route_id=route_id,
        service_date=service_date,
        departure_at=departure_at,
        layout_id=layout_id,
        status=TripStatus(status),
        delay_minutes=delay_minutes,
    )


TRIP_COLUMNS = (
    t.trips.c.id,
    t.trips.c.route_id,
    t.trips.c.service_date,
    t.trips.c.departure_at,
    t.trips.c.layout_id,
    t.trips.c.status,
    t.trips.c.delay_minutes,
)


# The hold path runs these on every hold: built once here (building a statement costs
# more than compiling it, which SQLAlchemy caches), values given as parameters. On
# PostgreSQL storage/pg_fastpath.py sends them straight to asyncpg.
TRIP_BY_ID = select(*TRIP_COLUMNS).where(t.trips.c.id == bindparam("trip_id"))
TRIP_BY_ID_LOCKED = TRIP_BY_ID.with_for_update(of=t.trips)
_TRIP_OF_ORDER = select(*TRIP_COLUMNS).where(
    t.trips.c.id == select(t.orders.c.trip_id).where(t.orders.c.id == bindparam("order_id"))
    .scalar_subquery())
TRIP_OF_ORDER_LOCKED = _TRIP_OF_ORDER.with_for_update(of=t.trips)
_TRIPS_DEPARTING = select(*TRIP_COLUMNS).where(
    t.trips.c.route_id.in_(bindparam("route_ids", expanding=True)),
    t.trips.c.departure_at >= bindparam("start"),
    t.trips.c.departure_at < bindparam("end"),
)
# Every hold looks for an earlier one made with its request key first.
_ORDER_BY_REQUEST_KEY = select(t.orders).where(
    t.orders.c.customer_id == bindparam("customer_id"),
    t.orders.c.request_key == bindparam("request_key"))
_LIVE_HOLDS = select(func.count()).select_from(t.orders).where(
    t.orders.c.customer_id == bindparam("customer_id"),
    t.orders.c.status == OrderStatus.HELD.value,
    t.orders.c.expires_at > bindparam("now"))
_TRIPS_ON = (
    select(*TRIP_COLUMNS)
    .where(t.trips.c.service_date == bindparam("service_date"))
    .order_by(t.trips.c.departure_at, t.trips.c.id)
)

# Built once (aliases included) so that SQLAlchemy compiles them once.
_CALL_A = t.route_stops.alias("a")
_CALL_B = t.route_stops.alias("b")
ROUTES_SERVING = (
    select(_CALL_A.c.route_id)
    .join(_CALL_B, and_(_CALL_B.c.route_id == _CALL_A.c.route_id, _CALL_B.c.seq > _CALL_A.c.seq))
    .where(_CALL_A.c.station_code == bindparam("origin"),
           _CALL_B.c.station_code == bindparam("destination"))
    .distinct()
)
DESTINATIONS_FROM = (
    select(_CALL_B.c.station_code)
    .join(_CALL_A, and_(_CALL_A.c.route_id == _CALL_B.c.route_id, _CALL_B.c.seq > _CALL_A.c.seq))
    .where(_CALL_A.c.station_code == bindparam("origin"))
    .distinct()
)

_ROUTE_HEADS = select(t.routes).where(t.routes.c.id.in_(bindparam("ids", expanding=True)))
_ROUTE_STOPS = (
    select(t.route_stops)
    .where(t.route_stops.c.route_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.route_stops.c.route_id, t.route_stops.c.seq)
)
_ROUTE_FARES = select(t.fares).where(t.fares.c.route_id.in_(bindparam("ids", expanding=True)))


STATIONS = select(t.stations).order_by(t.stations.c.popularity.desc(), t.stations.c.code)
STATION_BY_CODE = select(t.stations).where(t.stations.c.code == bindparam("code"))
LAYOUT_BY_ID = select(t.seat_layouts).where(t.seat_layouts.c.id == bindparam("layout_id"))


def layout_from_row(row: Sequence[Any]) -> SeatLayout:
    """The SeatLayout in a row of seat_layouts: SQLAlchemy's Row or asyncpg's Record alike."""
    layout_id, name, rows, columns, seat_class, missing = row
    return SeatLayout(id=layout_id, name=name, rows=rows, columns=columns,
                      seat_class=seat_class, missing=frozenset(missing))


class SqlCatalog:
    def __init__(self, conn: AsyncConnection, cache_key: str) -> None:
        self._conn = conn
        self._cache_key = cache_key
        self._for_update = conn.dialect.name != "sqlite"

    async def stations(self) -> list[Station]:
        return list(await self._kept("stations", "", "", self._read_stations))

    async def _read_stations(self) -> tuple[Station, ...]:
        rows = await self._conn.execute(STATIONS)
        return tuple(station_from_row(r) for r in rows)

    async def _kept(self, question: str, origin: str, destination: str,
                    read: Callable[[], Awaitable[T]]) -> T:
        """``read()``'s answer, or the one kept from less than a minute ago (None, "no
        such thing", is never kept)."""
        key = (self._cache_key, question, origin, destination)
        kept = _shape_cache.get(key)
        now = time.monotonic()
        if kept is not None and kept[0] > now:
            return cast(T, kept[1])
        answer = await read()
        if answer is not None:
            if len(_shape_cache) >= SHAPE_CACHE_ENTRIES:
                _shape_cache.clear()
            _shape_cache[key] = (now + STATION_CACHE_SECONDS, answer)
        return answer

    async def station(self, code: str) -> Station | None:
        return await self._kept("station", code, "", lambda: self._read_station(code))

    async def _read_station(self, code: str) -> Station | None:
        row = (await self._conn.execute(STATION_BY_CODE, {"code": code})).first()
        return station_from_row(row) if row is not None else None

    async def route(self, route_id: int) -> Route:
        return (await self.routes([route_id]))[route_id]

    async def routes(self, route_ids: Sequence[int]) -> dict[int, Route]:
        """The routes by id, those not cached yet loaded together in three queries."""
        found: dict[int, Route] = {}
        missing: list[int] = []
        for route_id in route_ids:
            cached = _route_cache.get((self._cache_key, route_id))
            if cached is None:
                missing.append(route_id)
            else:
                found[route_id] = cached
        if not missing:
            return found
        ids = {"ids": missing}
        heads = (await self._conn.execute(_ROUTE_HEADS, ids)).all()
        stops: dict[int, list[RouteStop]] = {r.id: [] for r in heads}
        for s in await self._conn.execute(_ROUTE_STOPS, ids):
            stops[s.route_id].append(
                RouteStop(s.seq, s.station_code, s.arrive_offset, s.depart_offset, s.fare_offset)
            )
        fares: dict[int, dict[tuple[int, int], int]] = {r.id: {} for r in heads}
        for f in await self._conn.execute(_ROUTE_FARES, ids):
            fares[f.route_id][(f.from_seq, f.to_seq)] = f.amount
        for head in heads:
            route = Route(head.id, head.code, head.name, head.currency,
                          tuple(stops[head.id]), fares[head.id])
            _route_cache[(self._cache_key, head.id)] = route
            found[head.id] = route
        if len(found) != len(set(route_ids)):
            raise LookupError(f"no route {sorted(set(route_ids) - set(found))}")
        return found

    async def layout(self, layout_id: int) -> SeatLayout:
        key = (self._cache_key, layout_id)
        cached = _layout_cache.get(key)
        if cached is not None:
            return cached
        layout = await self._read_layout(layout_id)
        _layout_cache[key] = layout
        return layout

    async def _read_layout(self, layout_id: int) -> SeatLayout:
        return layout_from_row((await self._conn.execute(LAYOUT_BY_ID,
                                                         {"layout_id": layout_id})).one())

    async def routes_serving(self, origin: str, destination: str) -> list[int]:
        return list(await self._kept("routes_serving", origin, destination,
                                     lambda: self._read_routes_serving(origin, destination)))

    async def _read_routes_serving(self, origin: str, destination: str) -> tuple[int, ...]:
        rows = await self._conn.execute(
            ROUTES_SERVING, {"origin": origin, "destination": destination}
        )
        return tuple(r.route_id for r in rows)

    async def destinations_from(self, origin: str) -> set[str]:
        return set(await self._kept("destinations_from", origin, "",
                                    lambda: self._read_destinations_from(origin)))

    async def _read_destinations_from(self, origin: str) -> frozenset[str]:
        rows = await self._conn.execute(DESTINATIONS_FROM, {"origin": origin})
        return frozenset(r.station_code for r in rows) - {origin}

    async def trips_departing(
        self, route_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[Trip]:
        if not route_ids:
            return []
        rows = await self._conn.execute(
            _TRIPS_DEPARTING, {"route_ids": list(route_ids), "start": start, "end": end}
        )
        return [self._met(trip_from_row(r)) for r in rows]

    async def trips_on(self, service_date: date) -> list[Trip]:
        rows = await self._conn.execute(_TRIPS_ON, {"service_date": service_date})
        return [trip_from_row(r) for r in rows]

    async def update_trip(self, trip: Trip, reason: str) -> None:
        await self._conn.execute(
            update(t.trips).where(t.trips.c.id == trip.id).values(
                departure_at=trip.departure_at, status=trip.status.value,
                delay_minutes=trip.delay_minutes, status_reason=reason))

    async def trip(self, trip_id: int, *, lock: bool = False) -> Trip | None:
        # SQLite has no row locks: its writing transactions hold the database write lock
        # from BEGIN IMMEDIATE, which serialises them just the same.
        query = TRIP_BY_ID_LOCKED if lock and self._for_update else TRIP_BY_ID
        row = (await self._conn.execute(query, {"trip_id": trip_id})).first()
        return self._met(trip_from_row(row)) if row else None

    def _met(self, trip: Trip) -> Trip:
        """A trip just read: its route is now known without reading it again."""
        if len(_trip_routes) >= TRIP_ROUTES_KEPT:
            _trip_routes.clear()
        _trip_routes[(self._cache_key, trip.id)] = trip.route_id
        return trip

    def known_route_of(self, trip_id: int) -> int | None:
        return _trip_routes.get((self._cache_key, trip_id))

    async def trip_with_taken_seats(self, segment: Segment, now: datetime
                                    ) -> tuple[Trip, set[str]] | None:
        trip = await self.trip(segment.trip_id)
        if trip is None:
            return None
        return trip, await SqlInventory(self._conn).taken_seats(segment, now)

    async def trip_of_order(self, order_id: str, *, lock: bool = False) -> Trip | None:
        query = TRIP_OF_ORDER_LOCKED if lock and self._for_update else _TRIP_OF_ORDER
        row = (await self._conn.execute(query, {"order_id": order_id})).first()
        return trip_from_row(row) if row else None


_alloc = t.allocations.c
# An allocation counts while it is live and its hold has not run out (a paid seat has no
# held_until). Spelled with the bare column so that SQLite matches it to the partial
# index's "WHERE live" (SQLAlchemy writes a boolean column as "live = 1" there, which
# SQLite does not match).
LIVE_AT_NOW = and_(
    text("allocations.live"),
    or_(_alloc.held_until.is_(None), _alloc.held_until > bindparam("now")),
)
# The seat-overlap rule in SQL, for every statement that applies it: the allocation's
# stop interval overlaps [from_seq, to_seq), as booking.model.segments_overlap says.
_OVERLAPS_SEGMENT = and_(_alloc.from_seq < bindparam("to_seq"),
                         _alloc.to_seq > bindparam("from_seq"))

# On PostgreSQL storage/pg_fastpath.py sends these two straight to asyncpg.
TAKEN_SEATS = select(_alloc.seat).where(
    _alloc.trip_id == bindparam("trip_id"), LIVE_AT_NOW, _OVERLAPS_SEGMENT
)
TAKEN_SEATS_EXCLUDING = TAKEN_SEATS.where(_alloc.order_id != bindparam("order_id"))
# A trip with the seats taken on one of its segments, in one statement (array_agg: on
# PostgreSQL, storage/pg_fastpath.py): what each booking step after the trip is chosen
# shows. NULL when none is taken.
TRIP_WITH_TAKEN_SEATS = select(
    *TRIP_COLUMNS,
    select(func.array_agg(_alloc.seat))
    .where(_alloc.trip_id == t.trips.c.id, LIVE_AT_NOW, _OVERLAPS_SEGMENT)
    .scalar_subquery(),
).where(t.trips.c.id == bindparam("trip_id"))
_LIVE_SEATS_OF_TRIPS = select(_alloc.trip_id, _alloc.seat, _alloc.held_until).where(
    _alloc.trip_id.in_(bindparam("trip_ids", expanding=True)), LIVE_AT_NOW
)
_LIVE_ALLOCATIONS_OF_TRIPS = select(
    _alloc.trip_id, _alloc.seat, _alloc.from_seq, _alloc.to_seq
).where(_alloc.trip_id.in_(bindparam("trip_ids", expanding=True)), LIVE_AT_NOW)


class SqlInventory:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def taken_seats(
        self, segment: Segment, now: datetime, *, exclude_order: str | None = None
    ) -> set[str]:
        params: dict[str, Any] = {
            "trip_id": segment.trip_id,
            "from_seq": segment.from_seq,
            "to_seq": segment.to_seq,
            "now": now,
        }
        statement = TAKEN_SEATS
        if exclude_order is not None:
            statement = TAKEN_SEATS_EXCLUDING
            params["order_id"] = exclude_order
        rows = await self._conn.execute(statement, params)
        return {r.seat for r in rows}

    async def taken_counts(self, segments: Sequence[Segment], now: datetime) -> dict[int, int]:
        if not segments:
            return {}
        # One statement of one shape whatever the number of trips (so it is compiled and
        # planned once); each trip's own segment is applied to the live rows here.
        wanted = {s.trip_id: s for s in segments}
        rows = await self._conn.execute(
            _LIVE_ALLOCATIONS_OF_TRIPS, {"trip_ids": list(wanted), "now": now}
        )
        return count_taken(rows, wanted)

    async def trip_loads(self, trip_ids: Sequence[int], now: datetime) -> dict[int, TripLoad]:
        if not trip_ids:
            return {}
        rows = await self._conn.execute(
            _LIVE_SEATS_OF_TRIPS, {"trip_ids": list(trip_ids), "now": now}
        )
        sold: dict[int, int] = {}
        held: dict[int, int] = {}
        seats: dict[int, set[str]] = {}
        for r in rows:
            counter = held if r.held_until is not None else sold
            counter[r.trip_id] = counter.get(r.trip_id, 0) + 1
            seats.setdefault(r.trip_id, set()).add(r.seat)
        return {trip_id: TripLoad(sold.get(trip_id, 0), held.get(trip_id, 0), len(taken))
                for trip_id, taken in seats.items()}


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "trip_id": order.trip_id,
        "from_seq": order.from_seq,
        "to_seq": order.to_seq,
        "status": order.status.value,
        "amount": order.amount,
        "currency": order.currency,
        "created_at": order.created_at,
        "updated_at": order.created_at,
        "expires_at": order.expires_at,
        "request_key": order.request_key,
    }


def _event_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "event_order_id": event.order_id,
        "at": event.at,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "actor": event.actor,
        "detail": event.detail,
    }


_INSERT_ORDER = insert(t.orders)
_INSERT_ALLOCATION = insert(t.allocations)
_INSERT_EVENT = insert(t.order_events).values(
    order_id=bindparam("event_order_id"),
    at=bindparam("at"),
    from_status=bindparam("from_status"),
    to_status=bindparam("to_status"),
    actor=bindparam("actor"),
    detail=bindparam("detail"),
)


# Built once: a payment confirmation or a cancellation runs these, and building a statement
# costs more CPU than running it does.
_ORDER_BY_ID = select(t.orders).where(t.orders.c.id == bindparam("b_order_id"))
_ORDER_BY_ID_LOCKED = _ORDER_BY_ID.with_for_update()
_SEATS_OF_ORDERS = (
    select(t.allocations.c.order_id, t.allocations.c.seat, t.allocations.c.passenger)
    .where(t.allocations.c.order_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(t.allocations.c.id)
)
# Guarded on the status decided from; a value given as None keeps the one stored.
_CHANGE_STATUS = (
    update(t.orders)
    .where(t.orders.c.id == bindparam("b_order_id"),
           t.orders.c.status == bindparam("b_from_status"))
    .values(
        status=bindparam("b_status"),
        updated_at=bindparam("b_at"),
        refund_amount=func.coalesce(bindparam("b_refund", type_=Integer),
                                    t.orders.c.refund_amount),
        payment_reference=func.coalesce(bindparam("b_reference", type_=String),
                                        t.orders.c.payment_reference),
    )
)
_SET_SEATS_LIVE = (
    update(t.allocations)
    .where(t.allocations.c.order_id == bindparam("b_order_id"))
    .values(live=bindparam("b_live"), held_until=bindparam("b_held_until"))
)


def checked_change(order: Order, status: OrderStatus, event: AuditEvent,
                   refund_amount: int | None, payment_reference: str | None) -> Order:
    """The order after the change, through the domain's transitions first: an illegal
    change, or an audit event that does not describe it, raises before anything is written."""
    changed = order.transition(
        status, refund_amount=refund_amount, payment_reference=payment_reference
    )
    if (event.from_status, event.to_status) != (order.status, status):
        raise ValueError(f"audit event {event.from_status}->{event.to_status} does not "
                         f"match the change {order.status}->{status}")
    return changed


class SqlOrders:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._skip_locked = conn.dialect.name != "sqlite"

    async def add(self, order: Order, event: AuditEvent) -> None:
        """Insert the order, its seats and its audit row."""
        await self._conn.execute(_INSERT_ORDER, _order_values(order))
        await self._conn.execute(
            _INSERT_ALLOCATION,
            [
                {"order_id": order.id, "trip_id": order.trip_id, "seat": s.seat,
                 "passenger": s.passenger, "from_seq": order.from_seq, "to_seq": order.to_seq,
                 "live": True, "held_until": order.expires_at}
                for s in order.seats
            ],
        )
        await self._add_event(event)

    async def _add_event(self, event: AuditEvent) -> None:
        await self._conn.execute(_INSERT_EVENT, _event_values(event))

    async def get(self, order_id: str, *, lock: bool = False) -> Order | None:
        query = _ORDER_BY_ID_LOCKED if lock and self._skip_locked else _ORDER_BY_ID
        row = (await self._conn.execute(query, {"b_order_id": order_id})).first()
        if row is None:
            return None
        return (await self._with_seats([row]))[0]

    async def _with_seats(self, rows: Sequence[Row[Any]]) -> list[Order]:
        ids = [r.id for r in rows]
        seats: dict[str, list[SeatAllocation]] = {i: [] for i in ids}
        if ids:
            alloc = await self._conn.execute(_SEATS_OF_ORDERS, {"b_ids": ids})
            for a in alloc:
                seats[a.order_id].append(SeatAllocation(a.seat, a.passenger))
        return [
            Order(
                id=r.id,
                customer_id=r.customer_id,
                trip_id=r.trip_id,
                from_seq=r.from_seq,
                to_seq=r.to_seq,
                status=OrderStatus(r.status),
                amount=r.amount,
                currency=r.currency,
                seats=tuple(seats[r.id]),
                created_at=r.created_at,
                expires_at=r.expires_at,
                refund_amount=r.refund_amount,
                payment_reference=r.payment_reference,
                request_key=r.request_key,
            )
            for r in rows
        ]

    async def change_status(
        self,
        order: Order,
        status: OrderStatus,
        event: AuditEvent,
        *,
        seats_live: bool,
        refund_amount: int | None = None,
        payment_reference: str | None = None,
    ) -> Order:
        changed = checked_change(order, status, event, refund_amount, payment_reference)
        # Guard on the status we decided from: a concurrent change makes this a no-op
        # that the caller sees, never a silent overwrite.
        result = await self._conn.execute(_CHANGE_STATUS, {
            "b_order_id": order.id, "b_from_status": order.status.value,
            "b_status": status.value, "b_at": event.at, "b_refund": refund_amount,
            "b_reference": payment_reference,
        })
        if result.rowcount != 1:
            raise RuntimeError(f"order {order.id} changed under us")
        await self._conn.execute(_SET_SEATS_LIVE, {
            "b_order_id": order.id, "b_live": seats_live,
            "b_held_until": order.expires_at if status is OrderStatus.HELD else None,
        })
        await self._add_event(event)
        return changed

    async def note(self, event: AuditEvent) -> None:
        await self._add_event(event)

    async def by_request_key(self, customer_id: int, request_key: str) -> Order | None:
        row = (await self._conn.execute(_ORDER_BY_REQUEST_KEY, {
            "customer_id": customer_id, "request_key": request_key})).first()
        return (await self._with_seats([row]))[0] if row else None

    async def live_holds(self, customer_id: int, now: datetime) -> int:
        return (await self._conn.execute(_LIVE_HOLDS, {
            "customer_id": customer_id, "now": now})).scalar_one()

    async def for_customer(self, customer_id: int) -> list[Order]:
        rows = (
            await self._conn.execute(
                select(t.orders)
                .where(t.orders.c.customer_id == customer_id)
                .order_by(t.orders.c.created_at.desc())
            )
        ).all()
        return await self._with_seats(rows)

    async def for_trip(self, trip_id: int, statuses: Collection[OrderStatus]) -> list[Order]:
        c = t.orders.c
        rows = (await self._conn.execute(
            select(t.orders)
            .where(c.trip_id == trip_id, c.status.in_([s.value for s in statuses]))
            .order_by(c.created_at, c.id)
        )).all()
        return await self._with_seats(rows)

    async def passengers(self, now: datetime, *, trip_id: int | None = None,
                         route_id: int | None = None, first_day: date | None = None,
                         last_day: date | None = None) -> set[int]:
        o, tr = t.orders.c, t.trips.c
        live = or_(o.status.in_([OrderStatus.PAID.value, OrderStatus.USED.value]),
                   and_(o.status == OrderStatus.HELD.value, o.expires_at > now))
        query = select(o.customer_id).distinct().join(t.trips, tr.id == o.trip_id).where(live)
        if trip_id is not None:
            query = query.where(o.trip_id == trip_id)
        if route_id is not None:
            query = query.where(tr.route_id == route_id)
        if first_day is not None:
            query = query.where(tr.service_date >= first_day)
        if last_day is not None:
            query = query.where(tr.service_date <= last_day)
        return set((await self._conn.execute(query)).scalars())

    async def sales_by_trip(self, first: date, last: date) -> list[TripSales]:
        # Two grouped reads (trips with their leg counts, then paid orders with their seat
        # counts) instead of one per trip: a national timetable runs hundreds a day.
        tr, o, a, rs = t.trips.c, t.orders.c, t.allocations.c, t.route_stops.c
        legs = (select(rs.route_id, (func.max(rs.seq) - func.min(rs.seq)).label("legs"))
                .group_by(rs.route_id).subquery())
        trips = (await self._conn.execute(
            select(tr.id, tr.route_id, tr.service_date, tr.layout_id, tr.status,
                   t.routes.c.currency, legs.c.legs)
            .join(t.routes, t.routes.c.id == tr.route_id)
            .join(legs, legs.c.route_id == tr.route_id)
            .where(tr.service_date.between(first, last))
        )).all()
        found = {row.id: TripSales(
            row.id, row.route_id, row.service_date, row.layout_id, int(row.legs),
            row.status == TripStatus.CANCELLED.value, row.currency) for row in trips}
        if not found:
            return []
        orders = (await self._conn.execute(
            select(o.trip_id, o.status, o.amount, o.refund_amount,
                   func.count(a.id).label("seats"),
                   func.sum(a.to_seq - a.from_seq).label("seat_legs"))
            .join(t.allocations, a.order_id == o.id)
            .join(t.trips, tr.id == o.trip_id)
            .where(tr.service_date.between(first, last), o.payment_reference.is_not(None))
            .group_by(o.id, o.trip_id, o.status, o.amount, o.refund_amount)
        )).all()
        still_sold = {OrderStatus.PAID.value, OrderStatus.USED.value}
        for row in orders:
            trip = found[row.trip_id]
            found[row.trip_id] = replace(
                trip, tickets=trip.tickets + int(row.seats), revenue=trip.revenue + row.amount,
                refunds=trip.refunds + (row.refund_amount or 0),
                seat_legs=trip.seat_legs + (int(row.seat_legs) if row.status in still_sold else 0))
        return sorted(found.values(), key=lambda s: (s.service_date, s.route_id, s.trip_id))

    async def expired_holds(self, now: datetime, limit: int) -> list[Order]:
        query = (
            select(t.orders)
            .where(t.orders.c.status == OrderStatus.HELD.value, t.orders.c.expires_at <= now)
            .order_by(t.orders.c.expires_at)
            .limit(limit)
        )
        if self._skip_locked:
            # Several sweepers (one per bot instance) share the work instead of queueing.
            query = query.with_for_update(skip_locked=True)
        rows = (await self._conn.execute(query)).all()
        return await self._with_seats(rows)


def clear_caches() -> None:
    """Forget cached stations, the timetable's shape, routes, trips' routes and layouts
    (for a process storing a timetable, or recreating its database)."""
    _shape_cache.clear()
    _route_cache.clear()
    _trip_routes.clear()
    _layout_cache.clear()
