"""What the booking use cases need from storage; storage/ implements these."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol

from booking.model import (
    Customer,
    Order,
    OrderStatus,
    Role,
    Route,
    SeatLayout,
    Station,
    Ticket,
    Trip,
)
from booking.outcomes import PaymentStatus


class LockTimeout(Exception):
    """A lock was not granted within its bound; the caller may retry, then report busy."""


class DuplicateKey(Exception):
    """A concurrent transaction committed the same idempotency key first (a hold's request
    key, a payment's provider reference). Nothing was written; a retry reads that row and
    decides on it (replay, or refuse), so no caller ever sees a constraint error."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One row of an order's history, written in the same transaction as the change."""

    order_id: str
    at: datetime
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Segment:
    trip_id: int
    from_seq: int
    to_seq: int


@dataclass(frozen=True, slots=True)
class TripLoad:
    """How full a trip is now. A seat sold A->C and again C->E counts twice in ``sold`` (two
    tickets) but once in ``seats_taken`` (one seat not free end to end)."""

    sold: int  # seat allocations of paid orders
    held: int  # seat allocations of holds still live
    seats_taken: int  # distinct seats taken on some part of the route


class Catalog(Protocol):
    async def stations(self) -> list[Station]: ...
    async def station(self, code: str) -> Station | None: ...
    async def route(self, route_id: int) -> Route: ...
    async def routes(self, route_ids: Sequence[int]) -> dict[int, Route]: ...
    async def layout(self, layout_id: int) -> SeatLayout: ...
    async def routes_serving(self, origin: str, destination: str) -> list[int]:
        """Ids of routes that call at origin and later at destination."""
        ...
    async def destinations_from(self, origin: str) -> set[str]: ...
    async def trips_departing(
        self, route_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[Trip]:
        """Trips of these routes leaving their first stop in [start, end)."""
        ...
    async def trip(self, trip_id: int, *, lock: bool = False) -> Trip | None:
        """The trip; with ``lock`` its row stays locked until the transaction ends."""
        ...
    def known_route_of(self, trip_id: int) -> int | None:
        """The route of a trip this process has read before (a trip never changes route),
        without reading; None for a trip not met yet."""
        ...
    async def trip_with_taken_seats(self, segment: Segment, now: datetime
                                    ) -> tuple[Trip, set[str]] | None:
        """The segment's trip and its taken seats (as Inventory.taken_seats), read
        together; None if there is no such trip."""
        ...
    async def trip_of_order(self, order_id: str, *, lock: bool = False) -> Trip | None:
        """The order's trip (None: no such order), in one read, so that a payment takes
        the trip's lock before it reads the order."""
        ...
    async def trips_on(self, service_date: date) -> list[Trip]:
        """Every trip of every route running on this service date, by departure."""
        ...
    async def update_trip(self, trip: Trip, reason: str) -> None:
        """Store the trip's departure, status and delay, with the staff's reason."""
        ...


class Inventory(Protocol):
    async def taken_seats(
        self, segment: Segment, now: datetime, *, exclude_order: str | None = None
    ) -> set[str]:
        """Seats held (and not expired) or sold on any stop interval overlapping the segment."""
        ...
    async def taken_counts(self, segments: Sequence[Segment], now: datetime) -> dict[int, int]:
        """For each segment's trip, how many seats are taken on that segment."""
        ...
    async def trip_loads(self, trip_ids: Sequence[int], now: datetime) -> dict[int, TripLoad]:
        """For each trip with live allocations: seats sold, seats held, seats taken anywhere."""
        ...


@dataclass(frozen=True, slots=True)
class TripSales:
    """One trip's paid business: the seats of orders that were paid (refunded ones too),
    the money taken and given back, and the seat-legs still sold."""

    trip_id: int
    route_id: int
    service_date: date
    layout_id: int
    legs: int  # stops - 1
    cancelled: bool
    currency: str
    tickets: int = 0
    revenue: int = 0
    refunds: int = 0
    seat_legs: int = 0  # seats x legs of orders still paid (not refunded or cancelled)


class Orders(Protocol):
    async def add(self, order: Order, event: AuditEvent) -> None: ...
    async def get(self, order_id: str, *, lock: bool = False) -> Order | None: ...
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
        """Move the order to ``status``; its seats stay allocated only if ``seats_live``."""
        ...
    async def note(self, event: AuditEvent) -> None:
        """An audit row that changes no status (a refused payment, say)."""
        ...
    async def by_request_key(self, customer_id: int, request_key: str) -> Order | None: ...
    async def live_holds(self, customer_id: int, now: datetime) -> int:
        """How many of the customer's orders are held and not yet expired."""
        ...
    async def for_customer(self, customer_id: int) -> list[Order]: ...
    async def for_trip(self, trip_id: int, statuses: Collection[OrderStatus]) -> list[Order]:
        """The trip's orders in one of ``statuses``, oldest first."""
        ...
    async def passengers(self, now: datetime, *, trip_id: int | None = None,
                         route_id: int | None = None, first_day: date | None = None,
                         last_day: date | None = None) -> set[int]:
        """Customers with a paid ticket or a live hold on the trips that match."""
        ...
    async def sales_by_trip(self, first: date, last: date) -> list[TripSales]:
        """Every trip running from ``first`` to ``last`` with what its paid orders sold."""
        ...
    async def expired_holds(self, now: datetime, limit: int) -> list[Order]:
        """Held orders past their expiry, locked for this transaction (skipping locked ones)."""
        ...


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    order_id: str
    provider: str
    reference: str
    amount: int
    currency: str
    status: PaymentStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """One event a provider sent, by the provider's own id, and what it did."""

    provider: str
    event_id: str
    type: str
    order_id: str
    amount: int
    currency: str
    outcome: str
    received_at: datetime


class Payments(Protocol):
    async def find(self, provider: str, reference: str) -> PaymentRecord | None: ...
    async def add(self, payment: PaymentRecord) -> None: ...
    async def for_order(self, order_id: str) -> list[PaymentRecord]: ...
    async def mark_refunded(
        self, provider: str, reference: str, refund_reference: str, amount: int, at: datetime
    ) -> bool:
        """Record the provider's refund of the payment; False if it was refunded before."""
        ...
    async def find_event(self, provider: str, event_id: str) -> PaymentEvent | None: ...
    async def add_event(self, event: PaymentEvent) -> None: ...


class Tickets(Protocol):
    async def add(self, tickets: Sequence[Ticket]) -> None: ...
    async def for_order(self, order_id: str, *, lock: bool = False) -> list[Ticket]:
        """The order's tickets; ``lock``: locked until the commit, so that a check-in
        waits for the transaction (or it for the check-in)."""
        ...
    async def boarded(self, order_ids: Sequence[str]) -> set[str]:
        """Which of these orders have a ticket checked in."""
        ...

    async def get(self, ticket_id: str, *, lock: bool = False) -> Ticket | None: ...
    async def mark_used(self, ticket_id: str, at: datetime, by: int | None) -> bool:
        """Valid -> used; False if it was not valid any more (another scan was first)."""
        ...
    async def void_order(self, order_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A delivery due at ``due_at``: what to do (``kind``), for whom, with what."""

    kind: str  # a booking.outbox.MessageKind value
    recipient: int | None
    payload: dict[str, Any]
    due_at: datetime
    dedupe_key: str | None = None  # the same key twice is one message
    id: int | None = None  # given by the outbox when stored
    attempts: int = 0  # deliveries tried before this one
    broadcast_id: int | None = None  # the broadcast this message is part of, if any
    parts_sent: int = 0  # of a message sent in parts, those an earlier attempt sent


@dataclass(frozen=True, slots=True)
class OutboxOutcome:
    """What became of one claimed message: finished (``status``), or pending again.

    A pending message is due again at ``due_at`` (unchanged when None); ``attempted``
    says whether this counts as one of its delivery attempts (a message given back
    unsent, or held back by flood control, was not attempted).
    """

    id: int
    status: str | None  # a booking.outbox.DeliveryStatus value; None: pending again
    error: str | None = None
    due_at: datetime | None = None
    attempted: bool = True
    parts_sent: int | None = None  # pending again with more of its parts sent than before


class Outbox(Protocol):
    async def add(self, message: OutboxMessage, created_at: datetime) -> None:
        """Store the message in this transaction; a dedupe key already there is a no-op."""
        ...
    async def add_many(self, messages: Sequence[OutboxMessage], created_at: datetime) -> None:
        """Store many messages in one statement (a broadcast's); dedupe keys as ``add``."""
        ...
    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        """Pending messages due by ``now`` that nobody holds, held by the caller until
        ``lease_until`` (others skip them meanwhile): a person's own messages before a
        broadcast's, and of each the oldest due first."""
        ...
    async def mark_done(self, message_id: int, status: str, at: datetime,
                        error: str | None = None) -> None:
        """Finish the message: sent, failed for good, or blocked (the person blocked us)."""
        ...
    async def retry_later(self, message_id: int, due_at: datetime, error: str) -> None:
        """Count the failed attempt and make the message due again at ``due_at``."""
        ...
    async def record(self, outcomes: Sequence[OutboxOutcome], at: datetime) -> None:
        """Record what became of claimed messages, all in this transaction; a message
        that is no longer pending (someone else finished it) is left as it is."""
        ...
    async def progress(self, broadcast_id: int) -> dict[str, int]:
        """How many of a broadcast's messages are in each status (pending, sent, failed,
        blocked), every status present even when zero."""
        ...


@dataclass(frozen=True, slots=True)
class StaffAction:
    """One thing a staff member did: the audit trail of the staff console."""

    staff_id: int
    action: str  # a booking.staff.StaffActionKind value
    target: str  # what it was done to: a trip id, a user id, a broadcast id
    detail: dict[str, Any]
    at: datetime


class StaffActions(Protocol):
    async def add(self, action: StaffAction) -> None:
        """Record the action in this transaction: it stands only if the action commits."""
        ...
    async def new_broadcast(self, staff_id: int, audience: dict[str, Any], text: str,
                            total: int, at: datetime) -> int:
        """Record a broadcast; its id."""
        ...
    async def recent(self, limit: int, *, target: str | None = None) -> list[StaffAction]:
        """The latest actions first, all or those on ``target``."""
        ...


class Customers(Protocol):
    async def get(self, customer_id: int, *, lock: bool = False) -> Customer | None:
        """The customer; with ``lock`` the row stays locked until the transaction ends."""
        ...
    async def add_if_missing(self, customer: Customer, created_at: datetime) -> bool:
        """Insert the customer unless one with that id exists; True if inserted."""
        ...
    async def update(self, customer: Customer) -> None: ...
    async def blocked_among(self, customer_ids: Collection[int]) -> set[int]:
        """Those of ``customer_ids`` who have blocked the bot."""
        ...
    async def reachable(self) -> list[int]:
        """Every customer who has written to the bot and not blocked it."""
        ...
    async def with_roles(self, roles: Collection[Role]) -> list[Customer]:
        """Every customer whose role in force is one of ``roles``, by id."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; it rolls back unless ``commit`` is called."""

    # Read-only properties, so that an implementation may narrow the types.
    @property
    def catalog(self) -> Catalog: ...
    @property
    def inventory(self) -> Inventory: ...
    @property
    def orders(self) -> Orders: ...
    @property
    def payments(self) -> Payments: ...
    @property
    def customers(self) -> Customers: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def tickets(self) -> Tickets: ...
    @property
    def staff_actions(self) -> StaffActions: ...

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False, one_statement: bool = False) -> UnitOfWork:
        """A new unit of work; ``write`` asks for a transaction that will write.

        ``one_statement``: the unit of work sends a single write, atomic on its own, so a
        backend may run it as its own transaction (on PostgreSQL: without the BEGIN and
        COMMIT round trips). It may then count as soon as it is sent: nothing that can
        fail may come between it and ``commit``, which is called all the same."""
        ...
