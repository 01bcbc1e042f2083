"""The hold and payment paths on PostgreSQL, straight on asyncpg.

A hold is BEGIN, lock the trip, read its taken seats, insert, COMMIT. SQLAlchemy's
execution layer costs about as much CPU per statement as asyncpg's whole round trip, and
on a machine shared with the database that CPU is what bounds the hold rate (measured
with bench/holds.py: ~1.4 -> ~0.9 ms of Python per hold). So on PostgreSQL the unit of
work runs its transaction on the asyncpg connection under SQLAlchemy's (PgTransaction)
and the hold's own statements go to that connection directly: locking the trip
(PgCatalog), its taken seats (PgInventory), and the order with its seats and audit row in
one statement (PgOrders). A payment's confirmation is the other busy writer (one per
paid order, from the provider's webhook): its order read with the seats, its status change
with the seats and the audit row, its payment and event rows and its tickets are one
statement each here (PgOrders, PgPayments, PgTickets), about a third of the CPU they took
through SQLAlchemy. So are the reads a passenger's booking steps make on every update
(PgCatalog's stations, journeys, trips and layouts, PgInventory's taken seats and counts,
PgCustomers' customer), and the unit of work takes its connection without a call through
SQLAlchemy's async layer beyond the checkout: each such call spawns a greenlet, whose
stack is a fresh mapping on this kind of machine. Everything else goes through
SQLAlchemy, in the same transaction. The reads are the statements of
storage/repositories.py and storage/customers.py, compiled once for asyncpg: the same SQL,
the same plan, the same lock (a list of ids is one array parameter, = ANY($1), where
SQLAlchemy writes IN with a parameter per id).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import ARRAY, Integer, any_, bindparam, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Insert, Select

from booking.model import (
    Customer,
    Order,
    OrderStatus,
    SeatAllocation,
    SeatLayout,
    Station,
    Ticket,
    Trip,
)
from booking.outcomes import PaymentStatus
from booking.ports import AuditEvent, OutboxMessage, PaymentEvent, PaymentRecord, Segment
from storage import tables as t
from storage.customers import (
    ADD_IF_MISSING,
    CUSTOMER_BY_ID,
    CUSTOMER_BY_ID_LOCKED,
    SqlCustomers,
    customer_from_row,
)
from storage.errors import lock_timeout
from storage.outbox import SqlOutbox
from storage.payments import SqlPayments
from storage.pg_held_writes import (
    WRITE_HELD,
    HeldWrites,
    StatusChange,
    outbox_columns,
    outbox_insert,
)
from storage.repositories import (
    DESTINATIONS_FROM,
    LAYOUT_BY_ID,
    LIVE_AT_NOW,
    ROUTES_SERVING,
    STATION_BY_CODE,
    STATIONS,
    TAKEN_SEATS,
    TAKEN_SEATS_EXCLUDING,
    TRIP_BY_ID,
    TRIP_BY_ID_LOCKED,
    TRIP_COLUMNS,
    TRIP_OF_ORDER_LOCKED,
    TRIP_WITH_TAKEN_SEATS,
    SqlCatalog,
    SqlInventory,
    SqlOrders,
    checked_change,
    count_taken,
    layout_from_row,
    station_from_row,
    trip_from_row,
)
from storage.tickets import SqlTickets

T = TypeVar("T")


async def _sent(call: Awaitable[T]) -> T:
    """Await a statement sent straight to asyncpg; lock contention becomes LockTimeout."""
    try:
        return await call
    except asyncpg.PostgresError as error:
        timeout = lock_timeout(error)
        if timeout is None:
            raise
        raise timeout from error


def _compiled(statement: Select[Any] | Insert, *names: str) -> str:
    """The SQL of a SQLAlchemy statement as asyncpg takes it; ``names`` are its parameters
    in the order of $1, $2, ..., checked here so that the callers can pass them by position."""
    compiled = statement.compile(dialect=asyncpg_dialect())
    if tuple(compiled.positiontup or ()) != names:
        raise RuntimeError(f"parameters {compiled.positiontup}, not {names}: {compiled}")
    return str(compiled)


_TRIP_LOCKED = _compiled(TRIP_BY_ID_LOCKED, "trip_id")
_TRIP_OF_ORDER_LOCKED = _compiled(TRIP_OF_ORDER_LOCKED, "order_id")
_TAKEN_SEATS = _compiled(TAKEN_SEATS, "trip_id", "now", "to_seq", "from_seq")

# The reads of a passenger's booking steps, each a statement of storage/repositories.py
# (or storage/customers.py) compiled for asyncpg; a list of ids is one array parameter
# (= ANY($1)) where SQLAlchemy expands IN (...) into a parameter per id.
_TRIP = _compiled(TRIP_BY_ID, "trip_id")
_TRIP_WITH_TAKEN_SEATS = _compiled(TRIP_WITH_TAKEN_SEATS, "now", "to_seq", "from_seq",
                                   "trip_id")
_TAKEN_SEATS_EXCLUDING = _compiled(TAKEN_SEATS_EXCLUDING, "trip_id", "now", "to_seq",
                                   "from_seq", "order_id")
_LIVE_ALLOCATIONS_OF_TRIPS = _compiled(
    select(t.allocations.c.trip_id, t.allocations.c.seat, t.allocations.c.from_seq,
           t.allocations.c.to_seq)
    .where(t.allocations.c.trip_id == any_(bindparam("trip_ids", type_=ARRAY(Integer))),
           LIVE_AT_NOW),
    "trip_ids", "now")
_TRIPS_DEPARTING = _compiled(
    select(*TRIP_COLUMNS).where(
        t.trips.c.route_id == any_(bindparam("route_ids", type_=ARRAY(Integer))),
        t.trips.c.departure_at >= bindparam("start"),
        t.trips.c.departure_at < bindparam("end"),
    ),
    "route_ids", "start", "end")
_ROUTES_SERVING = _compiled(ROUTES_SERVING, "origin", "destination")
_DESTINATIONS_FROM = _compiled(DESTINATIONS_FROM, "origin")
_STATIONS = _compiled(STATIONS)
_STATION = _compiled(STATION_BY_CODE, "code")
_LAYOUT = _compiled(LAYOUT_BY_ID, "layout_id")
_CUSTOMER = _compiled(CUSTOMER_BY_ID, "customer_id")
_CUSTOMER_LOCKED = _compiled(CUSTOMER_BY_ID_LOCKED, "customer_id")
_ADD_CUSTOMER = _compiled(ADD_IF_MISSING["postgresql"], "id", "name", "language", "role",
                          "granted_role", "blocked", "saved_passengers", "created_at")

# The order, its seats, its audit row and the hold's outbox rows in one statement. The
# foreign keys of the seats and of the audit row on the new order are checked at the end of
# the statement, when the order row is there; WITH ORDINALITY keeps the seats' ids in the
# passengers' order.
_ADD_ORDER = f"""
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
), new_outbox AS (
    -- the outbox rows the same unit of work wrote before (see PgOutbox): none, or a few
    {outbox_insert(19)})
INSERT INTO order_events (order_id, at, from_status, to_status, actor, detail)
SELECT new_order.id, $14, $15, $16, $17, $18::json FROM new_order
"""


class PgTransaction:
    """The unit of work's transaction on PostgreSQL, begun and ended on asyncpg itself.

    SQLAlchemy's own transaction handling is switched off for this checkout (AUTOCOMMIT:
    it sends no BEGIN or COMMIT of its own), so the statements sent through SQLAlchemy and
    those sent straight to asyncpg share one server transaction, begun here and ended by
    commit() or end().
    """

    __slots__ = ("conn", "driver", "held", "one_statement", "reading", "sent")

    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self.conn = conn
        self.driver = driver  # the asyncpg connection
        # Writes not yet sent (storage/pg_held_writes.py); outbox rows alone also ride
        # along with the next order insert (see PgOrders.add).
        self.held = HeldWrites()
        self.reading = False
        self.one_statement = False
        self.sent = 0  # statements sent through run() and InOrder: one_statement's check

    @classmethod
    async def begin(cls, conn: AsyncConnection, *, reading: bool = False,
                    one_statement: bool = False) -> PgTransaction:
        """The transaction on ``conn``, a connection in AUTOCOMMIT (from
        storage.database.without_transactions); for a unit of work that only reads
        (``reading``), none at all.

        Under READ COMMITTED each statement sees its own snapshot, whether in a transaction
        or not: a reading unit of work gains nothing from BEGIN and ROLLBACK but two round
        trips (about a third of the statements a passenger's step sent).

        Nor for a unit of work of ``one_statement``: a single statement is a transaction of
        its own (a new customer's insert: three round trips to one).
        """
        try:
            sync = conn.sync_connection
            if sync is None or \
                    sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                raise RuntimeError("PgTransaction needs a connection in AUTOCOMMIT")
            # The checked-out connection itself, with no call through SQLAlchemy's async
            # layer (each costs a greenlet): nothing here can need to reconnect.
            driver: Any = sync.connection.driver_connection
            if not reading and not one_statement:
                await _sent(driver.execute("BEGIN"))
        except BaseException:
            await conn.invalidate()  # whatever state it is in, it is not pooled again
            raise
        transaction = cls(conn, driver)
        transaction.reading = reading
        transaction.one_statement = one_statement
        return transaction

    def sending(self) -> None:
        """Count a statement about to be sent; a second one in a unit of work of one
        statement is a mistake (it would not share a transaction with the first)."""
        self.sent += 1
        if self.one_statement and self.sent > 1:
            raise RuntimeError("a unit of work of one statement sent a second")

    async def send_held(self) -> None:
        """Send the writes held back, however many (a broadcast's thousands of outbox
        rows), in one statement."""
        held = self.held
        if not held:
            return
        self.held = HeldWrites()
        self.sending()
        if held.only_outbox():
            await _sent(self.driver.execute(_ADD_OUTBOX, *outbox_columns(held.outbox)))
            return
        changed = await _sent(self.driver.fetchval(WRITE_HELD, *held.arguments()))
        if changed != len(held.changes):
            raise RuntimeError("an order changed under us: "
                               f"{[c.order.id for c in held.changes]}")

    async def run(self, method: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``method(*args)`` on the asyncpg connection, after the writes held back."""
        await self.send_held()
        self.sending()
        return await _sent(method(*args))

    async def commit(self) -> None:
        if self.reading:
            raise RuntimeError("a reading unit of work has nothing to commit; "
                               "open it with write=True")
        await self.send_held()
        if self.one_statement:  # it committed as it ran
            return
        status = await _sent(self.driver.execute("COMMIT"))
        if status != "COMMIT":  # the server ended a failed transaction with ROLLBACK
            raise RuntimeError(f"transaction not committed (the server said {status})")

    async def end(self, failing: BaseException | None) -> None:
        """Roll back what was not committed; a connection in doubt is not pooled again."""
        driver = self.driver
        healthy = False
        try:
            if not driver.is_closed() and driver.is_in_transaction():
                await driver.execute("ROLLBACK")
            healthy = not driver.is_closed() and not driver.is_in_transaction()
        except Exception:
            # E.g. a cancelled statement still in progress: the connection is dropped
            # below, which ends the transaction; the error the body raised goes on.
            if failing is None:
                raise
        finally:
            if not healthy:
                await self.conn.invalidate()


class InOrder:
    """The unit of work's SQLAlchemy connection as its repositories use it (execute and
    dialect), sending the writes held back before each statement, so it sees them."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        self._conn = conn
        self._pg = pg
        self.dialect = conn.dialect

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        await self._pg.send_held()
        self._pg.sending()
        return await self._conn.execute(*args, **kwargs)

    def as_connection(self) -> AsyncConnection:
        # What the repositories call on a connection, this has (see the class docstring).
        return cast(AsyncConnection, self)


class PgCatalog(SqlCatalog):
    """The catalog: the trip a hold locks and the reads of a passenger's booking steps
    (stations, routes serving a journey, trips, layouts) straight on asyncpg."""

    def __init__(self, conn: AsyncConnection, cache_key: str, pg: PgTransaction) -> None:
        super().__init__(conn, cache_key)
        self._pg = pg

    async def trip(self, trip_id: int, *, lock: bool = False) -> Trip | None:
        row = await self._pg.run(self._pg.driver.fetchrow, _TRIP_LOCKED if lock else _TRIP,
                                 trip_id)
        return self._met(trip_from_row(row)) if row else None

    async def trip_with_taken_seats(self, segment: Segment, now: datetime
                                    ) -> tuple[Trip, set[str]] | None:
        row = await self._pg.run(self._pg.driver.fetchrow, _TRIP_WITH_TAKEN_SEATS,
                                 now, segment.to_seq, segment.from_seq, segment.trip_id)
        if row is None:
            return None
        return self._met(trip_from_row(row[:-1])), set(row[-1] or ())

    async def _read_stations(self) -> tuple[Station, ...]:
        rows = await self._pg.run(self._pg.driver.fetch, _STATIONS)
        return tuple(station_from_row(r) for r in rows)

    async def _read_station(self, code: str) -> Station | None:
        row = await self._pg.run(self._pg.driver.fetchrow, _STATION, code)
        return station_from_row(row) if row else None

    async def _read_layout(self, layout_id: int) -> SeatLayout:
        row = await self._pg.run(self._pg.driver.fetchrow, _LAYOUT, layout_id)
        if row is None:
            raise LookupError(f"no seat layout {layout_id}")
        return layout_from_row(row)

    async def _read_routes_serving(self, origin: str, destination: str) -> tuple[int, ...]:
        rows = await self._pg.run(self._pg.driver.fetch, _ROUTES_SERVING, origin, destination)
        return tuple(r[0] for r in rows)

    async def _read_destinations_from(self, origin: str) -> frozenset[str]:
        rows = await self._pg.run(self._pg.driver.fetch, _DESTINATIONS_FROM, origin)
        return frozenset(r[0] for r in rows) - {origin}

    async def trips_departing(
        self, route_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[Trip]:
        if not route_ids:
            return []
        rows = await self._pg.run(self._pg.driver.fetch, _TRIPS_DEPARTING, list(route_ids),
                                  start, end)
        return [self._met(trip_from_row(r)) for r in rows]

    async def trip_of_order(self, order_id: str, *, lock: bool = False) -> Trip | None:
        if not lock:
            return await super().trip_of_order(order_id)
        row = await self._pg.run(self._pg.driver.fetchrow, _TRIP_OF_ORDER_LOCKED, order_id)
        return trip_from_row(row) if row else None


class PgInventory(SqlInventory):
    """The inventory's reads straight on asyncpg: a segment's taken seats (a hold's, a
    late payment's check leaving its own order out) and the taken counts of a search."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        super().__init__(conn)
        self._pg = pg

    async def taken_seats(
        self, segment: Segment, now: datetime, *, exclude_order: str | None = None
    ) -> set[str]:
        if exclude_order is not None:  # a late payment's check, not the hold's
            rows = await self._pg.run(self._pg.driver.fetch, _TAKEN_SEATS_EXCLUDING,
                                      segment.trip_id, now, segment.to_seq, segment.from_seq,
                                      exclude_order)
        else:
            rows = await self._pg.run(self._pg.driver.fetch, _TAKEN_SEATS, segment.trip_id,
                                      now, segment.to_seq, segment.from_seq)
        return {r[0] for r in rows}

    async def taken_counts(self, segments: Sequence[Segment], now: datetime) -> dict[int, int]:
        if not segments:
            return {}
        # As SqlInventory: the live rows of the trips, each trip's segment applied here.
        wanted = {s.trip_id: s for s in segments}
        rows = await self._pg.run(self._pg.driver.fetch, _LIVE_ALLOCATIONS_OF_TRIPS,
                                  list(wanted), now)
        return count_taken(rows, wanted)


class PgCustomers(SqlCustomers):
    """The customers, the bot's read of one (and a change's locked read) and a new one's
    insert on asyncpg."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        super().__init__(conn)
        self._pg = pg

    async def get(self, customer_id: int, *, lock: bool = False) -> Customer | None:
        row = await self._pg.run(self._pg.driver.fetchrow,
                                 _CUSTOMER_LOCKED if lock else _CUSTOMER, customer_id)
        return customer_from_row(row) if row else None

    async def add_if_missing(self, customer: Customer, created_at: datetime) -> bool:
        status = await self._pg.run(
            self._pg.driver.execute, _ADD_CUSTOMER, customer.id, customer.name,
            customer.language, customer.role.value, customer.granted.value, customer.blocked,
            json.dumps(list(customer.saved_passengers)), created_at)
        return bool(status == "INSERT 0 1")


_ORDER_WITH_SEATS = """
SELECT o.id, o.customer_id, o.trip_id, o.from_seq, o.to_seq, o.status, o.amount, o.currency,
       o.created_at, o.expires_at, o.refund_amount, o.payment_reference, o.request_key,
       ARRAY(SELECT a.seat FROM allocations a WHERE a.order_id = o.id ORDER BY a.id),
       ARRAY(SELECT a.passenger FROM allocations a WHERE a.order_id = o.id ORDER BY a.id)
FROM orders o WHERE o.id = $1
"""
_ORDER_WITH_SEATS_LOCKED = _ORDER_WITH_SEATS + "FOR UPDATE OF o"
_ORDER_BY_REQUEST_KEY = _ORDER_WITH_SEATS.replace(
    "WHERE o.id = $1", "WHERE o.customer_id = $1 AND o.request_key = $2")
_LIVE_HOLDS = """
SELECT count(*) FROM orders
WHERE customer_id = $1 AND status = 'held' AND expires_at > $2
"""

def _order_from_record(r: Any) -> Order:
    return Order(
        id=r[0], customer_id=r[1], trip_id=r[2], from_seq=r[3], to_seq=r[4],
        status=OrderStatus(r[5]), amount=r[6], currency=r[7],
        seats=tuple(SeatAllocation(seat, passenger) for seat, passenger in zip(r[13], r[14],
                                                                              strict=True)),
        created_at=r[8], expires_at=r[9], refund_amount=r[10], payment_reference=r[11],
        request_key=r[12],
    )


class PgOrders(SqlOrders):
    """The orders: a hold's look-ups (an earlier order with its request key, the customer's
    live holds) and insert (with the outbox rows before it), and a payment's read and
    status change, straight on asyncpg."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        super().__init__(conn)
        self._pg = pg

    async def add(self, order: Order, event: AuditEvent) -> None:
        """Insert the order, its seats, its audit row and the pending outbox rows in one
        statement."""
        if not self._pg.held.only_outbox():
            await self._pg.send_held()
        pending, self._pg.held.outbox = self._pg.held.outbox, []
        await _sent(
            self._pg.driver.execute(
                _ADD_ORDER,
                order.id, order.customer_id, order.trip_id, order.from_seq, order.to_seq,
                order.status.value, order.amount, order.currency, order.created_at,
                order.expires_at, order.request_key,
                [s.seat for s in order.seats], [s.passenger for s in order.seats],
                event.at, event.from_status.value if event.from_status else None,
                event.to_status.value, event.actor, json.dumps(event.detail),
                *outbox_columns(pending),
            )
        )

    async def get(self, order_id: str, *, lock: bool = False) -> Order | None:
        query = _ORDER_WITH_SEATS_LOCKED if lock else _ORDER_WITH_SEATS
        row = await self._pg.run(self._pg.driver.fetchrow, query, order_id)
        return _order_from_record(row) if row else None

    async def by_request_key(self, customer_id: int, request_key: str) -> Order | None:
        row = await self._pg.run(self._pg.driver.fetchrow, _ORDER_BY_REQUEST_KEY,
                                 customer_id, request_key)
        return _order_from_record(row) if row else None

    async def live_holds(self, customer_id: int, now: datetime) -> int:
        return int(await self._pg.run(self._pg.driver.fetchval, _LIVE_HOLDS, customer_id, now))

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
        # Held back with the other writes; the guard is checked when they are sent.
        held = self._pg.held
        if held.changes_order(order.id):
            await self._pg.send_held()
        self._pg.held.changes.append(StatusChange(order, status, event, seats_live,
                                                  refund_amount, payment_reference))
        return changed


_FIND_PAYMENT = """
SELECT order_id, provider, reference, amount, currency, status, created_at
FROM payments WHERE provider = $1 AND reference = $2
"""
class PgPayments(SqlPayments):
    """A confirmation's payment reads and writes straight on asyncpg; the rest as SqlPayments."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        super().__init__(conn)
        self._pg = pg

    async def find(self, provider: str, reference: str) -> PaymentRecord | None:
        r = await self._pg.run(self._pg.driver.fetchrow, _FIND_PAYMENT, provider, reference)
        if r is None:
            return None
        return PaymentRecord(order_id=r[0], provider=r[1], reference=r[2], amount=r[3],
                             currency=r[4], status=PaymentStatus(r[5]), created_at=r[6])

    async def add(self, payment: PaymentRecord) -> None:
        self._pg.held.payments.append(payment)  # sent with the next statement

    async def add_event(self, event: PaymentEvent) -> None:
        self._pg.held.payment_events.append(event)  # sent with the next statement


class PgTickets(SqlTickets):
    """A paid order's tickets in one statement straight on asyncpg; the rest as SqlTickets."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        super().__init__(conn)
        self._pg = pg

    async def add(self, tickets: Sequence[Ticket]) -> None:
        self._pg.held.tickets.extend(tickets)  # sent with the next statement


# Outbox rows written with no order insert after them (the expiry sweep's notices, a
# broadcast's recipients).
_ADD_OUTBOX = outbox_insert(1)


class PgOutbox(SqlOutbox):
    """Outbox rows are held back with the transaction's other writes and go out with its
    next statement of any kind, in one statement with the rest (PgTransaction.send_held):
    a hold's row rides with its order's insert, and saves it a round trip."""

    def __init__(self, conn: AsyncConnection, pg: PgTransaction) -> None:
        super().__init__(conn)
        self._pg = pg

    async def add(self, message: OutboxMessage, created_at: datetime) -> None:
        self._pg.held.outbox.append((message, created_at))

    async def add_many(self, messages: Sequence[OutboxMessage], created_at: datetime) -> None:
        """A payment's reminders, a broadcast's recipients: held back like one row, and
        written with the other held writes in one statement."""
        self._pg.held.outbox.extend((message, created_at) for message in messages)
