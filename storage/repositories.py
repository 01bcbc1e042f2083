"""Repositories: rows in and out of the tables, as booking's domain objects."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import and_, bindparam, insert, or_, select, text, update
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
)
from booking.outcomes import PaymentStatus
from booking.ports import AuditEvent, LockTimeout, PaymentRecord, Segment
from storage import tables as t
from storage.errors import _PG_RETRYABLE

T = TypeVar("T")

# Routes and layouts never change once stored (a new timetable makes new routes), so
# every process may keep them; this saves two queries on each hold.
_route_cache: dict[tuple[str, int], Route] = {}
_layout_cache: dict[tuple[str, int], SeatLayout] = {}


def _station(row: Row[Any]) -> Station:
    return Station(
        code=row.code, names=dict(row.names), timezone=row.timezone, lat=row.lat, lon=row.lon
    )


def _trip(row: Any) -> Trip:  # a Row of _TRIP_COLUMNS
    return Trip(
        id=row.id,
        route_id=row.route_id,
        service_date=row.service_date,
        departure_at=row.departure_at,
        layout_id=row.layout_id,
        status=TripStatus(row.status),
        delay_minutes=row.delay_minutes,
    )


_TRIP_COLUMNS = (
    t.trips.c.id,
    t.trips.c.route_id,
    t.trips.c.service_date,
    t.trips.c.departure_at,
    t.trips.c.layout_id,
    t.trips.c.status,
    t.trips.c.delay_minutes,
)


# The hold path runs these on every hold: built once here (building a statement costs
# more than compiling it, which SQLAlchemy caches), values given as parameters.
_TRIP_BY_ID = select(*_TRIP_COLUMNS).where(t.trips.c.id == bindparam("trip_id"))
_TRIP_BY_ID_LOCKED = _TRIP_BY_ID.with_for_update(of=t.trips)
_TRIPS_DEPARTING = select(*_TRIP_COLUMNS).where(
    t.trips.c.route_id.in_(bindparam("route_ids", expanding=True)),
    t.trips.c.departure_at >= bindparam("start"),
    t.trips.c.departure_at < bindparam("end"),
)

# Built once (aliases included) so that SQLAlchemy compiles them once.
_CALL_A = t.route_stops.alias("a")
_CALL_B = t.route_stops.alias("b")
_ROUTES_SERVING = (
    select(_CALL_A.c.route_id)
    .join(_CALL_B, and_(_CALL_B.c.route_id == _CALL_A.c.route_id, _CALL_B.c.seq > _CALL_A.c.seq))
    .where(_CALL_A.c.station_code == bindparam("origin"),
           _CALL_B.c.station_code == bindparam("destination"))
    .distinct()
)
_DESTINATIONS_FROM = (
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


# ---- the hold path on PostgreSQL, straight on asyncpg -----------------------------------
#
# A hold is BEGIN, lock the trip, read its taken seats, insert, COMMIT. On PostgreSQL the
# unit of work runs its transaction on the asyncpg connection under SQLAlchemy's (see
# storage/uow.py) and hands it to the repositories as ``driver``; the three statements of
# the hold go to it directly. SQLAlchemy's execution layer costs about as much CPU per
# statement as asyncpg's whole round trip, and on a machine shared with the database that
# CPU is what bounds the hold rate (measured with bench/holds.py: ~1.4 -> ~0.9 ms of
# Python per hold). Same SQL as the prebuilt statements above, same transaction, same lock.

_PG_TRIP = (
    "SELECT id, route_id, service_date, departure_at, layout_id, status, delay_minutes"
    " FROM trips WHERE id = $1"
)
_PG_TRIP_LOCKED = _PG_TRIP + " FOR UPDATE OF trips"
_PG_TAKEN_SEATS = (
    "SELECT seat FROM allocations WHERE trip_id = $1 AND live AND from_seq < $2"
    " AND to_seq > $3 AND (held_until IS NULL OR held_until > $4)"
)
_PG_TAKEN_SEATS_EXCLUDING = _PG_TAKEN_SEATS + " AND order_id <> $5"
# The order, its seats and its audit row in one statement. The foreign keys of the seats
# and of the audit row on the new order are checked at the end of the statement, when the
# order row is there; WITH ORDINALITY keeps the seats' ids in the passengers' order.
_PG_ADD_ORDER = """
WITH new_order AS (
    INSERT INTO orders (id, customer_id, trip_id, from_seq, to_seq, status, amount, currency,
                        created_at, updated_at, expires_at, request_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)
    RETURNING id
), new_seats AS (
    INSERT INTO allocations (order_id, trip_id, seat, passenger, from_seq, to_seq, live,
                             held_until)
    SELECT new_order.id, $3, s.seat, s.passenger, $4, $5, true, $10
    FROM new_order,
         unnest($12::varchar[], $13::varchar[]) WITH ORDINALITY AS s(seat, passenger, n)
    ORDER BY s.n
)
INSERT INTO order_events (order_id, at, from_status, to_status, actor, detail)
SELECT new_order.id, $14, $15, $16, $17, $18::json FROM new_order
"""


async def on_driver(call: Awaitable[T]) -> T:
    """Await a statement sent straight to asyncpg; lock contention becomes LockTimeout
    (what the unit of work makes of SQLAlchemy's errors)."""
    try:
        return await call
    except asyncpg.PostgresError as error:
        if error.sqlstate in _PG_RETRYABLE:
            raise LockTimeout(str(error)) from error
        raise


def _trip_record(row: Any) -> Trip:  # an asyncpg Record of _PG_TRIP
    return Trip(
        id=row["id"],
        route_id=row["route_id"],
        service_date=row["service_date"],
        departure_at=row["departure_at"],
        layout_id=row["layout_id"],
        status=TripStatus(row["status"]),
        delay_minutes=row["delay_minutes"],
    )


class SqlCatalog:
    def __init__(self, conn: AsyncConnection, cache_key: str, driver: Any = None) -> None:
        self._conn = conn
        self._cache_key = cache_key
        self._for_update = conn.dialect.name != "sqlite"
        self._driver = driver  # the asyncpg connection of the transaction, on PostgreSQL

    async def stations(self) -> list[Station]:
        rows = await self._conn.execute(
            select(t.stations).order_by(t.stations.c.popularity.desc(), t.stations.c.code)
        )
        return [_station(r) for r in rows]

    async def station(self, code: str) -> Station | None:
        query = select(t.stations).where(t.stations.c.code == code)
        row = (await self._conn.execute(query)).first()
        return _station(row) if row else None

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
        row = (
            await self._conn.execute(select(t.seat_layouts).where(t.seat_layouts.c.id == layout_id))
        ).one()
        layout = SeatLayout(
            id=row.id,
            name=row.name,
            rows=row.rows,
            columns=row.columns,
            seat_class=row.seat_class,
            missing=frozenset(row.missing),
        )
        _layout_cache[key] = layout
        return layout

    async def routes_serving(self, origin: str, destination: str) -> list[int]:
        rows = await self._conn.execute(
            _ROUTES_SERVING, {"origin": origin, "destination": destination}
        )
        return [r.route_id for r in rows]

    async def destinations_from(self, origin: str) -> set[str]:
        rows = await self._conn.execute(_DESTINATIONS_FROM, {"origin": origin})
        return {r.station_code for r in rows} - {origin}

    async def trips_departing(
        self, route_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[Trip]:
        if not route_ids:
            return []
        rows = await self._conn.execute(
            _TRIPS_DEPARTING, {"route_ids": list(route_ids), "start": start, "end": end}
        )
        return [_trip(r) for r in rows]

    async def trip(self, trip_id: int, *, lock: bool = False) -> Trip | None:
        if self._driver is not None:
            record = await on_driver(
                self._driver.fetchrow(_PG_TRIP_LOCKED if lock else _PG_TRIP, trip_id)
            )
            return _trip_record(record) if record else None
        # SQLite has no row locks: its writing transactions hold the database write lock
        # from BEGIN IMMEDIATE, which serialises them just the same.
        query = _TRIP_BY_ID_LOCKED if lock and self._for_update else _TRIP_BY_ID
        row = (await self._conn.execute(query, {"trip_id": trip_id})).first()
        return _trip(row) if row else None


# Spelled as the bare column so that SQLite matches it to the partial index's "WHERE live"
# (SQLAlchemy writes a boolean column as "live = 1" there, which SQLite does not match).
_LIVE = text("allocations.live")


def _taken_seats_query(*, exclude_order: bool) -> Any:
    a = t.allocations.c
    condition = and_(
        a.trip_id == bindparam("trip_id"),
        _LIVE,
        a.from_seq < bindparam("to_seq"),
        a.to_seq > bindparam("from_seq"),
        or_(a.held_until.is_(None), a.held_until > bindparam("now")),
    )
    if exclude_order:
        condition = and_(condition, a.order_id != bindparam("order_id"))
    return select(a.seat).where(condition)


_LIVE_ALLOCATIONS_OF_TRIPS = select(
    t.allocations.c.trip_id, t.allocations.c.seat, t.allocations.c.from_seq,
    t.allocations.c.to_seq,
).where(
    t.allocations.c.trip_id.in_(bindparam("trip_ids", expanding=True)),
    _LIVE,
    or_(t.allocations.c.held_until.is_(None), t.allocations.c.held_until > bindparam("now")),
)
_TAKEN_SEATS = _taken_seats_query(exclude_order=False)
_TAKEN_SEATS_EXCLUDING = _taken_seats_query(exclude_order=True)


class SqlInventory:
    def __init__(self, conn: AsyncConnection, driver: Any = None) -> None:
        self._conn = conn
        self._driver = driver

    async def taken_seats(
        self, segment: Segment, now: datetime, *, exclude_order: str | None = None
    ) -> set[str]:
        if self._driver is not None:
            args: list[Any] = [segment.trip_id, segment.to_seq, segment.from_seq, now]
            query = _PG_TAKEN_SEATS
            if exclude_order is not None:
                query = _PG_TAKEN_SEATS_EXCLUDING
                args.append(exclude_order)
            records = await on_driver(self._driver.fetch(query, *args))
            return {r[0] for r in records}
        params: dict[str, Any] = {
            "trip_id": segment.trip_id,
            "from_seq": segment.from_seq,
            "to_seq": segment.to_seq,
            "now": now,
        }
        statement = _TAKEN_SEATS
        if exclude_order is not None:
            statement = _TAKEN_SEATS_EXCLUDING
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
        taken: dict[int, set[str]] = {}
        for r in rows:
            segment = wanted[r.trip_id]
            if r.from_seq < segment.to_seq and r.to_seq > segment.from_seq:
                taken.setdefault(r.trip_id, set()).add(r.seat)
        return {trip_id: len(seats) for trip_id, seats in taken.items()}


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

class SqlOrders:
    def __init__(self, conn: AsyncConnection, driver: Any = None) -> None:
        self._conn = conn
        self._skip_locked = conn.dialect.name != "sqlite"
        self._driver = driver

    async def add(self, order: Order, event: AuditEvent) -> None:
        """Insert the order, its seats and its audit row (one statement on PostgreSQL)."""
        if self._driver is not None:
            await on_driver(
                self._driver.execute(
                    _PG_ADD_ORDER,
                    order.id, order.customer_id, order.trip_id, order.from_seq, order.to_seq,
                    order.status.value, order.amount, order.currency, order.created_at,
                    order.expires_at, order.request_key,
                    [s.seat for s in order.seats], [s.passenger for s in order.seats],
                    event.at, event.from_status.value if event.from_status else None,
                    event.to_status.value, event.actor, json.dumps(event.detail),
                )
            )
            return
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
        query = select(t.orders).where(t.orders.c.id == order_id)
        if lock and self._skip_locked:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        return (await self._with_seats([row]))[0]

    async def _with_seats(self, rows: Sequence[Row[Any]]) -> list[Order]:
        ids = [r.id for r in rows]
        seats: dict[str, list[SeatAllocation]] = {i: [] for i in ids}
        if ids:
            alloc = await self._conn.execute(
                select(t.allocations.c.order_id, t.allocations.c.seat, t.allocations.c.passenger)
                .where(t.allocations.c.order_id.in_(ids))
                .order_by(t.allocations.c.id)
            )
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
        values: dict[str, Any] = {"status": status.value, "updated_at": event.at}
        if refund_amount is not None:
            values["refund_amount"] = refund_amount
        if payment_reference is not None:
            values["payment_reference"] = payment_reference
        # Guard on the status we decided from: a concurrent change makes this a no-op
        # that the caller sees, never a silent overwrite.
        result = await self._conn.execute(
            update(t.orders)
            .where(t.orders.c.id == order.id, t.orders.c.status == order.status.value)
            .values(**values)
        )
        if result.rowcount != 1:
            raise RuntimeError(f"order {order.id} changed under us")
        await self._conn.execute(
            update(t.allocations)
            .where(t.allocations.c.order_id == order.id)
            .values(
                live=seats_live,
                held_until=order.expires_at if status is OrderStatus.HELD else None,
            )
        )
        await self._add_event(event)
        return replace(
            order,
            status=status,
            refund_amount=order.refund_amount if refund_amount is None else refund_amount,
            payment_reference=payment_reference or order.payment_reference,
        )

    async def note(self, event: AuditEvent) -> None:
        await self._add_event(event)

    async def by_request_key(self, customer_id: int, request_key: str) -> Order | None:
        row = (
            await self._conn.execute(
                select(t.orders).where(
                    t.orders.c.customer_id == customer_id, t.orders.c.request_key == request_key
                )
            )
        ).first()
        return (await self._with_seats([row]))[0] if row else None

    async def for_customer(self, customer_id: int) -> list[Order]:
        rows = (
            await self._conn.execute(
                select(t.orders)
                .where(t.orders.c.customer_id == customer_id)
                .order_by(t.orders.c.created_at.desc())
            )
        ).all()
        return await self._with_seats(rows)

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


class SqlPayments:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @staticmethod
    def _record(row: Row[Any]) -> PaymentRecord:
        return PaymentRecord(
            order_id=row.order_id,
            provider=row.provider,
            reference=row.reference,
            amount=row.amount,
            currency=row.currency,
            status=PaymentStatus(row.status),
            created_at=row.created_at,
        )

    async def find(self, provider: str, reference: str) -> PaymentRecord | None:
        row = (
            await self._conn.execute(
                select(t.payments).where(
                    t.payments.c.provider == provider, t.payments.c.reference == reference
                )
            )
        ).first()
        return self._record(row) if row else None

    async def add(self, payment: PaymentRecord) -> None:
        await self._conn.execute(
            insert(t.payments).values(
                order_id=payment.order_id,
                provider=payment.provider,
                reference=payment.reference,
                amount=payment.amount,
                currency=payment.currency,
                status=payment.status,
                created_at=payment.created_at,
            )
        )

    async def for_order(self, order_id: str) -> list[PaymentRecord]:
        rows = await self._conn.execute(
            select(t.payments).where(t.payments.c.order_id == order_id).order_by(t.payments.c.id)
        )
        return [self._record(r) for r in rows]


def clear_caches() -> None:
    """Forget cached routes and layouts (for a process that recreates its database)."""
    _route_cache.clear()
    _layout_cache.clear()
