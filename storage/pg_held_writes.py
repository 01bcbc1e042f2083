"""Writes a unit of work on PostgreSQL holds back, to send them as one statement.

A payment's confirmation writes a payment, its event, the order's new status with its seats
and audit row, the tickets and the outbox rows: six round trips, each costing the process
more CPU (a send, a wake-up, a parse) than the database spends on it. None of them returns
anything the use case needs, so they are kept here and go out together, as one statement of
data-modifying CTEs, at COMMIT or just before the unit of work's next statement of any kind
(PgTransaction.run and the connection SQLAlchemy's repositories use both send them first).
So every statement still sees the writes made before it; what changes is only when an error
in one of them is raised: at that next statement or at COMMIT, still inside the unit of
work, which then rolls back as it would have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from booking.model import Order, OrderStatus, Ticket
from booking.ports import AuditEvent, OutboxMessage, PaymentEvent, PaymentRecord


@dataclass(frozen=True, slots=True)
class StatusChange:
    order: Order
    status: OrderStatus
    event: AuditEvent
    seats_live: bool
    refund_amount: int | None
    payment_reference: str | None


@dataclass(slots=True)
class HeldWrites:
    payments: list[PaymentRecord] = field(default_factory=list)
    payment_events: list[PaymentEvent] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    outbox: list[tuple[OutboxMessage, datetime]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.payments or self.payment_events or self.changes or self.tickets
                    or self.outbox)

    def only_outbox(self) -> bool:
        return not (self.payments or self.payment_events or self.changes or self.tickets)

    def changes_order(self, order_id: str) -> bool:
        """Whether a status change of this order is held (a second one must not join it:
        one statement may change a row only once)."""
        return any(change.order.id == order_id for change in self.changes)

    def arguments(self) -> tuple[Any, ...]:
        """The arrays of WRITE_HELD, in the order of its parameters."""
        p, e, c, k = self.payments, self.payment_events, self.changes, self.tickets
        return (
            [x.order_id for x in p], [x.provider for x in p], [x.reference for x in p],
            [x.amount for x in p], [x.currency for x in p], [x.status.value for x in p],
            [x.created_at for x in p],
            [x.provider for x in e], [x.event_id for x in e], [x.type for x in e],
            [x.order_id for x in e], [x.amount for x in e], [x.currency for x in e],
            [x.outcome for x in e], [x.received_at for x in e],
            [x.order.id for x in c], [x.order.status.value for x in c],
            [x.status.value for x in c], [x.event.at for x in c],
            [x.refund_amount for x in c], [x.payment_reference for x in c],
            [x.seats_live for x in c],
            [x.order.expires_at if x.status is OrderStatus.HELD else None for x in c],
            [x.event.actor for x in c], [json.dumps(x.event.detail) for x in c],
            [x.id for x in k], [x.order_id for x in k], [x.seat for x in k],
            [x.passenger for x in k], [x.status.value for x in k], [x.issued_at for x in k],
            *outbox_columns(self.outbox),
        )


def outbox_columns(pending: list[tuple[OutboxMessage, datetime]]) -> tuple[list[Any], ...]:
    """Outbox rows as one array per column, in the order the statements unnest them."""
    return (
        [m.kind for m, _ in pending], [m.recipient for m, _ in pending],
        [json.dumps(m.payload) for m, _ in pending], [m.dedupe_key for m, _ in pending],
        [m.due_at for m, _ in pending], [m.attempts for m, _ in pending],
        [at for _, at in pending], [m.broadcast_id for m, _ in pending],
    )


def outbox_insert(first: int) -> str:
    """The insert of outbox_columns' arrays, bound from parameter ``$first`` on: zero or
    more rows, a row whose dedupe key is taken left out."""
    p = [f"${n}" for n in range(first, first + 8)]
    return f"""
    INSERT INTO outbox (kind, recipient, payload, dedupe_key, due_at, status, attempts,
                        created_at, broadcast_id)
    SELECT m.kind, m.recipient, m.payload::json, m.dedupe_key, m.due_at, 'pending',
           m.attempts, m.created_at, m.broadcast_id
    FROM unnest({p[0]}::varchar[], {p[1]}::bigint[], {p[2]}::text[], {p[3]}::varchar[],
                {p[4]}::timestamptz[], {p[5]}::int[], {p[6]}::timestamptz[], {p[7]}::int[])
         AS m(kind, recipient, payload, dedupe_key, due_at, attempts, created_at,
              broadcast_id)
    ON CONFLICT DO NOTHING
"""


# Every part takes zero or more rows. A status change is guarded on the status it was
# decided from, as SqlOrders.change_status's update is; its seats and audit row follow only
# where the guard held, and the count returned tells the caller whether every one did.
WRITE_HELD = f"""
WITH new_payments AS (
    INSERT INTO payments (order_id, provider, reference, amount, currency, status, created_at)
    SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::int[],
                         $5::varchar[], $6::varchar[], $7::timestamptz[])
), new_events AS (
    INSERT INTO payment_events (provider, event_id, type, order_id, amount, currency,
                                outcome, received_at)
    SELECT * FROM unnest($8::varchar[], $9::varchar[], $10::varchar[], $11::varchar[],
                         $12::bigint[], $13::varchar[], $14::varchar[], $15::timestamptz[])
), changes AS (
    SELECT * FROM unnest($16::varchar[], $17::varchar[], $18::varchar[], $19::timestamptz[],
                         $20::int[], $21::varchar[], $22::bool[], $23::timestamptz[],
                         $24::varchar[], $25::text[])
        AS c(order_id, from_status, to_status, at, refund, reference, live, held_until,
             actor, detail)
), changed AS (
    UPDATE orders o SET status = c.to_status, updated_at = c.at,
                        refund_amount = COALESCE(c.refund, o.refund_amount),
                        payment_reference = COALESCE(c.reference, o.payment_reference)
    FROM changes c
    WHERE o.id = c.order_id AND o.status = c.from_status
    RETURNING o.id
), seats AS (
    UPDATE allocations a SET live = c.live, held_until = c.held_until
    FROM changes c
    WHERE a.order_id = c.order_id AND a.order_id IN (SELECT id FROM changed)
), audit AS (
    INSERT INTO order_events (order_id, at, from_status, to_status, actor, detail)
    SELECT c.order_id, c.at, c.from_status, c.to_status, c.actor, c.detail::json
    FROM changes c WHERE c.order_id IN (SELECT id FROM changed)
), new_tickets AS (
    INSERT INTO tickets (id, order_id, seat, passenger, status, issued_at)
    SELECT * FROM unnest($26::varchar[], $27::varchar[], $28::varchar[], $29::varchar[],
                         $30::varchar[], $31::timestamptz[])
), new_outbox AS ({outbox_insert(32)})
SELECT count(*) FROM changed
"""
