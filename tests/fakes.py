"""In-memory fakes of every port in booking/ports.py, for tests of the booking decisions.

Plain dicts written by hand, no mocks. A FakeDatabase holds the committed state; each unit
of work works on its own copy and puts it back only when it commits, so a unit of work that
does not commit leaves no trace, like a rolled-back transaction. Nothing here decides
anything the domain decides: the seat-overlap rule is booking.model.segments_overlap and a
status change goes through Order.transition.

Locks are not modelled: these tests run one unit of work at a time. A commit over changes
another unit of work committed meanwhile is refused rather than merged, so a test that
strays into concurrency fails loudly; the races run on real databases
(tests/test_concurrency.py), and tests/test_booking_service.py proves the SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from booking.model import (
    Customer,
    Order,
    OrderStatus,
    Role,
    Route,
    RouteStop,
    SeatLayout,
    Station,
    Ticket,
    TicketStatus,
    Trip,
    TripStatus,
    segments_overlap,
)
from booking.outcomes import PaymentStatus
from booking.ports import (
    AuditEvent,
    LockTimeout,
    OutboxMessage,
    OutboxOutcome,
    PaymentEvent,
    PaymentRecord,
    Segment,
    StaffAction,
    TripLoad,
    TripSales,
)

PENDING = "pending"


class Conflict(Exception):
    """What a unique constraint or a foreign key of the real tables would refuse."""


@dataclass(frozen=True, slots=True)
class SeatsState:
    """An order's seats as the allocations table keeps them: whether they still count, and
    until when (None: for good, as for a paid order)."""

    live: bool
    held_until: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    message: OutboxMessage  # carries the row's id, due time and attempts so far
    created_at: datetime
    status: str = PENDING
    claimed_until: datetime | None = None
    done_at: datetime | None = None
    last_error: str | None = None


@dataclass
class Tables:
    """Everything a database would hold, keyed as its tables are. Values are frozen, so a
    copy of the containers is a copy of the state."""

    stations: dict[str, Station] = field(default_factory=dict)  # the busiest first
    routes: dict[int, Route] = field(default_factory=dict)
    layouts: dict[int, SeatLayout] = field(default_factory=dict)
    trips: dict[int, Trip] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    seats: dict[str, SeatsState] = field(default_factory=dict)  # by order id
    events: list[AuditEvent] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    payment_events: list[PaymentEvent] = field(default_factory=list)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    next_outbox_id: int = 1
    staff_actions: list[StaffAction] = field(default_factory=list)
    broadcasts: list[tuple[Any, ...]] = field(default_factory=list)

    def copy(self) -> Tables:
        return Tables(
            stations=dict(self.stations),
            routes=dict(self.routes),
            layouts=dict(self.layouts),
            trips=dict(self.trips),
            orders=dict(self.orders),
            seats=dict(self.seats),
            events=list(self.events),
            payments=list(self.payments),
            payment_events=list(self.payment_events),
            tickets=dict(self.tickets),
            customers=dict(self.customers),
            outbox=dict(self.outbox),
            next_outbox_id=self.next_outbox_id,
            staff_actions=list(self.staff_actions),
            broadcasts=list(self.broadcasts),
        )

    def outbox_messages(self, kind: str | None = None) -> list[OutboxMessage]:
        return [r.message for r in self.outbox.values() if kind is None or r.message.kind == kind]

    def events_of(self, order_id: str) -> list[tuple[OrderStatus | None, OrderStatus]]:
        return [(e.from_status, e.to_status) for e in self.events if e.order_id == order_id]


class FakeDatabase:
    """The committed state. Tests set up and inspect ``committed`` directly, as the
    real-database tests write and read the tables."""

    def __init__(self) -> None:
        self.committed = Tables()
        self.version = 0  # bumped by every commit

    def put(self, tables: Tables, read_version: int) -> int:
        if self.version != read_version:
            raise RuntimeError(
                "another unit of work committed since this one began; the fake does not "
                "merge concurrent transactions (run races on a real database)"
            )
        self.committed = tables.copy()
        self.version += 1
        return self.version


# ---- the repositories ----------------------------------------------------------------------


class FakeCatalog:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def stations(self) -> list[Station]:
        return list(self._t.stations.values())

    async def station(self, code: str) -> Station | None:
        return self._t.stations.get(code)

    async def route(self, route_id: int) -> Route:
        return (await self.routes([route_id]))[route_id]

    async def routes(self, route_ids: Sequence[int]) -> dict[int, Route]:
        missing = sorted(set(route_ids) - set(self._t.routes))
        if missing:
            raise LookupError(f"no route {missing}")
        return {route_id: self._t.routes[route_id] for route_id in route_ids}

    async def layout(self, layout_id: int) -> SeatLayout:
        return self._t.layouts[layout_id]

    async def routes_serving(self, origin: str, destination: str) -> list[int]:
        return [
            route.id for route in self._t.routes.values()
            if destination in _called_after(route, origin)
        ]

    async def destinations_from(self, origin: str) -> set[str]:
        reached: set[str] = set()
        for route in self._t.routes.values():
            reached |= _called_after(route, origin)
        return reached - {origin}

    async def trips_departing(
        self, route_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[Trip]:
        wanted = set(route_ids)
        return [
            trip for trip in self._t.trips.values()
            if trip.route_id in wanted and start <= trip.departure_at < end
        ]

    async def trip(self, trip_id: int, *, lock: bool = False) -> Trip | None:
        return self._t.trips.get(trip_id)

    def known_route_of(self, trip_id: int) -> int | None:
        trip = self._t.trips.get(trip_id)  # as a process that has met every trip
        return trip.route_id if trip is not None else None

    async def trip_with_taken_seats(self, segment: Segment, now: datetime
                                    ) -> tuple[Trip, set[str]] | None:
        trip = self._t.trips.get(segment.trip_id)
        if trip is None:
            return None
        return trip, await FakeInventory(self._t).taken_seats(segment, now)

    async def trip_of_order(self, order_id: str, *, lock: bool = False) -> Trip | None:
        order = self._t.orders.get(order_id)
        return self._t.trips.get(order.trip_id) if order else None

    async def update_trip(self, trip: Trip, reason: str) -> None:
        self._t.trips[trip.id] = trip

    async def trips_on(self, service_date: date) -> list[Trip]:
        return sorted((trip for trip in self._t.trips.values()
                       if trip.service_date == service_date),
                      key=lambda trip: (trip.departure_at, trip.id))


def _called_after(route: Route, origin: str) -> set[str]:
    """Stations the route calls at after some call at ``origin``."""
    boarding = [s.seq for s in route.stops if s.station_code == origin]
    if not boarding:
        return set()
    return {s.station_code for s in route.stops if s.seq > min(boarding)}


class FakeInventory:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def _live(self, trip_id: int, now: datetime) -> list[Order]:
        """Orders of the trip whose seats count now: paid, or held and not yet expired."""
        live = []
        for order_id, state in self._t.seats.items():
            order = self._t.orders[order_id]
            still_held = state.held_until is None or state.held_until > now
            if order.trip_id == trip_id and state.live and still_held:
                live.append(order)
        return live

    async def taken_seats(
        self, segment: Segment, now: datetime, *, exclude_order: str | None = None
    ) -> set[str]:
        wanted = (segment.from_seq, segment.to_seq)
        taken: set[str] = set()
        for order in self._live(segment.trip_id, now):
            if order.id != exclude_order and segments_overlap(
                (order.from_seq, order.to_seq), wanted
            ):
                taken.update(allocation.seat for allocation in order.seats)
        return taken

    async def taken_counts(self, segments: Sequence[Segment], now: datetime) -> dict[int, int]:
        counts = {}
        for segment in segments:
            taken = await self.taken_seats(segment, now)
            if taken:
                counts[segment.trip_id] = len(taken)
        return counts

    async def trip_loads(self, trip_ids: Sequence[int], now: datetime) -> dict[int, TripLoad]:
        loads = {}
        for trip_id in trip_ids:
            sold = held = 0
            seats: set[str] = set()
            for order in self._live(trip_id, now):
                if self._t.seats[order.id].held_until is None:
                    sold += len(order.seats)
                else:
                    held += len(order.seats)
                seats.update(allocation.seat for allocation in order.seats)
            if seats:
                loads[trip_id] = TripLoad(sold, held, len(seats))
        return loads


class FakeOrders:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, order: Order, event: AuditEvent) -> None:
        if order.id in self._t.orders:
            raise Conflict(f"order {order.id} exists")
        if order.trip_id not in self._t.trips:
            raise Conflict(f"no trip {order.trip_id}")
        if order.request_key is not None and await self.by_request_key(
            order.customer_id, order.request_key
        ):
            raise Conflict(f"request key {order.request_key!r} used")
        _check_event(event, order.id, None, order.status)
        self._t.orders[order.id] = order
        self._t.seats[order.id] = SeatsState(live=True, held_until=order.expires_at)
        self._t.events.append(event)

    async def get(self, order_id: str, *, lock: bool = False) -> Order | None:
        return self._t.orders.get(order_id)

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
        stored = self._t.orders.get(order.id)
        # The guarded update: only from the status the caller decided from.
        if stored is None or stored.status is not order.status:
            raise RuntimeError(f"order {order.id} changed under us")
        changed = order.transition(
            status, refund_amount=refund_amount, payment_reference=payment_reference
        )
        _check_event(event, order.id, order.status, status)
        self._t.orders[order.id] = changed
        self._t.seats[order.id] = SeatsState(
            live=seats_live,
            held_until=order.expires_at if status is OrderStatus.HELD else None,
        )
        self._t.events.append(event)
        return changed

    async def note(self, event: AuditEvent) -> None:
        if event.order_id not in self._t.orders:
            raise Conflict(f"no order {event.order_id}")
        self._t.events.append(event)

    async def by_request_key(self, customer_id: int, request_key: str) -> Order | None:
        for order in self._t.orders.values():
            if order.customer_id == customer_id and order.request_key == request_key:
                return order
        return None

    async def live_holds(self, customer_id: int, now: datetime) -> int:
        return sum(1 for o in self._t.orders.values()
                   if o.customer_id == customer_id and o.status is OrderStatus.HELD
                   and o.expires_at is not None and o.expires_at > now)

    async def for_customer(self, customer_id: int) -> list[Order]:
        mine = [o for o in self._t.orders.values() if o.customer_id == customer_id]
        return sorted(mine, key=lambda o: o.created_at, reverse=True)

    async def for_trip(self, trip_id: int, statuses: Collection[OrderStatus]) -> list[Order]:
        found = [o for o in self._t.orders.values()
                 if o.trip_id == trip_id and o.status in statuses]
        return sorted(found, key=lambda o: (o.created_at, o.id))

    async def passengers(self, now: datetime, *, trip_id: int | None = None,
                         route_id: int | None = None, first_day: date | None = None,
                         last_day: date | None = None) -> set[int]:
        found = set()
        for order in self._t.orders.values():
            trip = self._t.trips[order.trip_id]
            if not (order.status in (OrderStatus.PAID, OrderStatus.USED)
                    or order.hold_live(now)):
                continue
            if ((trip_id is None or trip.id == trip_id)
                    and (route_id is None or trip.route_id == route_id)
                    and (first_day is None or trip.service_date >= first_day)
                    and (last_day is None or trip.service_date <= last_day)):
                found.add(order.customer_id)
        return found

    async def sales_by_trip(self, first: date, last: date) -> list[TripSales]:
        found = {}
        for trip in self._t.trips.values():
            if first <= trip.service_date <= last:
                route = self._t.routes[trip.route_id]
                found[trip.id] = TripSales(
                    trip.id, trip.route_id, trip.service_date, trip.layout_id,
                    route.stops[-1].seq - route.stops[0].seq,
                    trip.status is TripStatus.CANCELLED, route.currency)
        for order in self._t.orders.values():
            sales = found.get(order.trip_id)
            if sales is None or order.payment_reference is None:
                continue
            sold = order.status in (OrderStatus.PAID, OrderStatus.USED)
            found[order.trip_id] = replace(
                sales, tickets=sales.tickets + len(order.seats),
                revenue=sales.revenue + order.amount,
                refunds=sales.refunds + (order.refund_amount or 0),
                seat_legs=sales.seat_legs
                + (len(order.seats) * (order.to_seq - order.from_seq) if sold else 0))
        return sorted(found.values(), key=lambda s: (s.service_date, s.route_id, s.trip_id))

    async def expired_holds(self, now: datetime, limit: int) -> list[Order]:
        due = [
            o for o in self._t.orders.values()
            if o.status is OrderStatus.HELD and o.expires_at is not None and o.expires_at <= now
        ]
        return sorted(due, key=lambda o: o.expires_at or now)[:limit]


def _check_event(
    event: AuditEvent, order_id: str, from_status: OrderStatus | None, to_status: OrderStatus
) -> None:
    """Every state change writes one audit row, and that row tells the change truly."""
    if (event.order_id, event.from_status, event.to_status) != (order_id, from_status, to_status):
        raise ValueError(f"audit event {event} does not describe {from_status} -> {to_status}")


class FakePayments:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def find(self, provider: str, reference: str) -> PaymentRecord | None:
        for payment in self._t.payments:
            if (payment.provider, payment.reference) == (provider, reference):
                return payment
        return None

    async def add(self, payment: PaymentRecord) -> None:
        if await self.find(payment.provider, payment.reference) is not None:
            raise Conflict(f"payment {payment.provider}:{payment.reference} exists")
        if payment.order_id not in self._t.orders:
            raise Conflict(f"no order {payment.order_id}")
        self._t.payments.append(payment)

    async def for_order(self, order_id: str) -> list[PaymentRecord]:
        return [p for p in self._t.payments if p.order_id == order_id]

    async def mark_refunded(
        self, provider: str, reference: str, refund_reference: str, amount: int, at: datetime
    ) -> bool:
        for i, payment in enumerate(self._t.payments):
            if (payment.provider, payment.reference) == (provider, reference):
                if payment.status is PaymentStatus.REFUNDED:
                    return False
                self._t.payments[i] = replace(payment, status=PaymentStatus.REFUNDED)
                return True
        return False

    async def find_event(self, provider: str, event_id: str) -> PaymentEvent | None:
        return next((e for e in self._t.payment_events
                     if (e.provider, e.event_id) == (provider, event_id)), None)

    async def add_event(self, event: PaymentEvent) -> None:
        if await self.find_event(event.provider, event.event_id) is not None:
            raise Conflict(f"payment event {event.provider}:{event.event_id} exists")
        self._t.payment_events.append(event)


class FakeTickets:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, tickets: Sequence[Ticket]) -> None:
        for ticket in tickets:
            if ticket.id in self._t.tickets:
                raise Conflict(f"ticket {ticket.id} exists")
            self._t.tickets[ticket.id] = ticket

    async def for_order(self, order_id: str, *, lock: bool = False) -> list[Ticket]:
        return sorted((t for t in self._t.tickets.values() if t.order_id == order_id),
                      key=lambda t: t.seat)

    async def boarded(self, order_ids: Sequence[str]) -> set[str]:
        return {t.order_id for t in self._t.tickets.values()
                if t.order_id in order_ids and t.status is TicketStatus.USED}

    async def get(self, ticket_id: str, *, lock: bool = False) -> Ticket | None:
        return self._t.tickets.get(ticket_id)

    async def mark_used(self, ticket_id: str, at: datetime, by: int | None) -> bool:
        ticket = self._t.tickets.get(ticket_id)
        if ticket is None or ticket.status is not TicketStatus.VALID:
            return False
        self._t.tickets[ticket_id] = replace(ticket, status=TicketStatus.USED, used_at=at,
                                             used_by=by)
        return True

    async def void_order(self, order_id: str) -> None:
        for ticket in await self.for_order(order_id):
            if ticket.status is TicketStatus.VALID:
                self._t.tickets[ticket.id] = replace(ticket, status=TicketStatus.VOID)


class FakeOutbox:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, message: OutboxMessage, created_at: datetime) -> None:
        if message.dedupe_key is not None and any(
            row.message.dedupe_key == message.dedupe_key for row in self._t.outbox.values()
        ):
            return
        message_id = self._t.next_outbox_id
        self._t.next_outbox_id += 1
        self._t.outbox[message_id] = OutboxRow(replace(message, id=message_id), created_at)

    async def add_many(self, messages: Sequence[OutboxMessage], created_at: datetime) -> None:
        for message in messages:
            await self.add(message, created_at)

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        due = sorted(
            (
                row for row in self._t.outbox.values()
                if row.status == PENDING and row.message.due_at <= now
                and (row.claimed_until is None or row.claimed_until <= now)
            ),
            key=lambda row: (row.message.broadcast_id is not None, row.message.due_at,
                             row.message.id or 0),
        )[:limit]
        for row in due:
            self._put(replace(row, claimed_until=lease_until))
        return [row.message for row in due]

    async def mark_done(
        self, message_id: int, status: str, at: datetime, error: str | None = None
    ) -> None:
        await self.record([OutboxOutcome(message_id, status, error)], at)

    async def retry_later(self, message_id: int, due_at: datetime, error: str) -> None:
        await self.record([OutboxOutcome(message_id, None, error, due_at)], due_at)

    async def record(self, outcomes: Sequence[OutboxOutcome], at: datetime) -> None:
        for outcome in outcomes:
            row = self._t.outbox.get(outcome.id)
            if row is None or row.status != PENDING:
                continue
            message = row.message
            if outcome.attempted:
                message = replace(message, attempts=message.attempts + 1)
            if outcome.status is None and outcome.due_at is not None:
                message = replace(message, due_at=outcome.due_at)
            if outcome.parts_sent is not None:
                message = replace(message, parts_sent=outcome.parts_sent)
            error = outcome.error if outcome.attempted or outcome.error else row.last_error
            if outcome.status is None:
                self._put(replace(row, message=message, claimed_until=None, last_error=error))
            else:
                self._put(replace(row, message=message, status=outcome.status, done_at=at,
                                  claimed_until=None, last_error=error))

    async def progress(self, broadcast_id: int) -> dict[str, int]:
        counts = dict.fromkeys((PENDING, "sent", "failed", "blocked"), 0)
        for row in self._t.outbox.values():
            if row.message.broadcast_id == broadcast_id:
                counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    def _put(self, row: OutboxRow) -> None:
        if row.message.id is None:
            raise ValueError("an outbox row without an id")
        self._t.outbox[row.message.id] = row


class FakeCustomers:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, customer_id: int, *, lock: bool = False) -> Customer | None:
        return self._t.customers.get(customer_id)

    async def add_if_missing(self, customer: Customer, created_at: datetime) -> bool:
        if customer.id in self._t.customers:
            return False
        self._t.customers[customer.id] = customer
        return True

    async def blocked_among(self, customer_ids: Collection[int]) -> set[int]:
        return {i for i in customer_ids
                if (c := self._t.customers.get(i)) is not None and c.blocked}

    async def reachable(self) -> list[int]:
        return sorted(c.id for c in self._t.customers.values() if not c.blocked)

    async def with_roles(self, roles: Collection[Role]) -> list[Customer]:
        return sorted((c for c in self._t.customers.values() if c.role in roles),
                      key=lambda c: c.id)

    async def update(self, customer: Customer) -> None:
        if customer.id in self._t.customers:
            self._t.customers[customer.id] = customer


class FakeStaffActions:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, action: StaffAction) -> None:
        self._t.staff_actions.append(action)

    async def new_broadcast(self, staff_id: int, audience: dict[str, Any], text: str,
                            total: int, at: datetime) -> int:
        self._t.broadcasts.append((staff_id, audience, text, total, at))
        return len(self._t.broadcasts)

    async def recent(self, limit: int, *, target: str | None = None) -> list[StaffAction]:
        found = [a for a in reversed(self._t.staff_actions) if target in (None, a.target)]
        return found[:limit]


# ---- the unit of work ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Repositories:
    catalog: FakeCatalog
    inventory: FakeInventory
    orders: FakeOrders
    payments: FakePayments
    customers: FakeCustomers
    outbox: FakeOutbox
    tickets: FakeTickets
    staff_actions: FakeStaffActions


class FakeUnitOfWork:
    """One transaction on a copy of the committed state, put back only by ``commit``."""

    def __init__(self, db: FakeDatabase, *, write: bool = False,
                 lock_timeout: bool = False) -> None:
        self._db = db
        self.write = write
        self._lock_timeout = lock_timeout
        self._begun = Tables()
        self._tables: Tables | None = None
        self._repositories: _Repositories | None = None
        self._read_version = 0

    @property
    def tables(self) -> Tables:
        """The state this unit of work sees and changes."""
        if self._tables is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._tables

    def _repos(self) -> _Repositories:
        if self._repositories is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._repositories

    @property
    def catalog(self) -> FakeCatalog:
        return self._repos().catalog

    @property
    def inventory(self) -> FakeInventory:
        return self._repos().inventory

    @property
    def orders(self) -> FakeOrders:
        return self._repos().orders

    @property
    def payments(self) -> FakePayments:
        return self._repos().payments

    @property
    def customers(self) -> FakeCustomers:
        return self._repos().customers

    @property
    def outbox(self) -> FakeOutbox:
        return self._repos().outbox

    @property
    def tickets(self) -> FakeTickets:
        return self._repos().tickets

    @property
    def staff_actions(self) -> FakeStaffActions:
        return self._repos().staff_actions

    async def __aenter__(self) -> FakeUnitOfWork:
        if self._lock_timeout:
            # What a writer sees when its wait for the database's lock runs out.
            raise LockTimeout("the fake's lock wait timed out")
        self._begun = self._db.committed.copy()
        self._tables = t = self._begun.copy()
        self._repositories = _Repositories(
            FakeCatalog(t), FakeInventory(t), FakeOrders(t), FakePayments(t),
            FakeCustomers(t), FakeOutbox(t), FakeTickets(t), FakeStaffActions(t),
        )
        self._read_version = self._db.version
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever was not committed is dropped with the copy.
        self._tables = self._repositories = None

    async def commit(self) -> None:
        if not self.write and self.tables != self._begun:
            # On SQLite only a unit of work opened to write takes the write lock at BEGIN;
            # a deferred one that reads, then writes, fails instead of waiting.
            raise RuntimeError("a unit of work opened without write=True changed something")
        self._read_version = self._db.put(self.tables, self._read_version)


class FakeUnitOfWorkFactory:
    """Units of work on one FakeDatabase. ``lock_timeouts`` makes that many of the next
    writing units of work time out waiting for their lock."""

    def __init__(self, db: FakeDatabase | None = None) -> None:
        self.db = db or FakeDatabase()
        self.lock_timeouts = 0
        self.opened: list[FakeUnitOfWork] = []

    def __call__(self, *, write: bool = False, one_statement: bool = False) -> FakeUnitOfWork:
        timeout = write and self.lock_timeouts > 0
        if timeout:
            self.lock_timeouts -= 1
        uow = FakeUnitOfWork(self.db, write=write, lock_timeout=timeout)
        self.opened.append(uow)
        return uow


# ---- a network to book on ------------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
STOPS = ["A", "B", "C", "D", "E", "F"]  # Alpha .. Foxtrot, one hour apart


@dataclass(frozen=True)
class FakeNetwork:
    trips: dict[date, int]  # service day -> trip id of the 08:00 run
    route_id: int
    layout_capacity: int


def seed_network(
    db: FakeDatabase,
    first_day: date = date(2026, 6, 1),
    days: int = 7,
    rows: int = 5,
    columns: str = "AB_CD",
) -> FakeNetwork:
    """The network of tests/factories.py's build_network, in memory: stations A-F (F in
    Moscow's timezone), one route calling at all of them an hour apart (1000 a stop), a
    daily 08:00 (Berlin) trip."""
    t = db.committed
    for code in STOPS:
        t.stations[code] = Station(
            code=code,
            names={"en": f"Station {code}", "ru": f"Станция {code}", "zh": f"{code}站"},
            timezone="Europe/Moscow" if code == "F" else "Europe/Berlin",
        )
    layout = SeatLayout(id=1, name="test", rows=rows, columns=columns)
    t.layouts[layout.id] = layout
    stops = tuple(
        RouteStop(seq, code, seq * 60, seq * 60 + (5 if 0 < seq < len(STOPS) - 1 else 0),
                  seq * 1000)
        for seq, code in enumerate(STOPS)
    )
    route = Route(id=1, code="A-F", name="A - F", currency="EUR", stops=stops)
    t.routes[route.id] = route
    trips: dict[date, int] = {}
    for n in range(days):
        day = first_day + timedelta(days=n)
        departure = datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).replace(hour=8)
        trip = Trip(id=n + 1, route_id=route.id, service_date=day,
                    departure_at=departure.astimezone(UTC), layout_id=layout.id)
        t.trips[trip.id] = trip
        trips[day] = trip.id
    return FakeNetwork(trips=trips, route_id=route.id, layout_capacity=layout.capacity)
