"""The payments repository: provider payments, their refunds, and every provider event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.outcomes import PaymentStatus
from booking.ports import PaymentEvent, PaymentRecord
from storage import tables as t

_p = t.payments.c
_e = t.payment_events.c


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


def _event(row: Row[Any]) -> PaymentEvent:
    return PaymentEvent(
        provider=row.provider, event_id=row.event_id, type=row.type, order_id=row.order_id,
        amount=row.amount, currency=row.currency, outcome=row.outcome,
        received_at=row.received_at,
    )


# Built once (a payment confirmation runs them all): building a statement costs more CPU
# than running it.
_FIND = select(t.payments).where(_p.provider == bindparam("b_provider"),
                                 _p.reference == bindparam("b_reference"))
_FIND_EVENT = select(t.payment_events).where(_e.provider == bindparam("b_provider"),
                                             _e.event_id == bindparam("b_event"))
_INSERT_PAYMENT = insert(t.payments)
_INSERT_EVENT = insert(t.payment_events)


class SqlPayments:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def find(self, provider: str, reference: str) -> PaymentRecord | None:
        params = {"b_provider": provider, "b_reference": reference}
        row = (await self._conn.execute(_FIND, params)).first()
        return _record(row) if row else None

    async def add(self, payment: PaymentRecord) -> None:
        await self._conn.execute(_INSERT_PAYMENT, {
            "order_id": payment.order_id, "provider": payment.provider,
            "reference": payment.reference, "amount": payment.amount,
            "currency": payment.currency, "status": payment.status.value,
            "created_at": payment.created_at,
        })

    async def for_order(self, order_id: str) -> list[PaymentRecord]:
        rows = await self._conn.execute(
            select(t.payments).where(_p.order_id == order_id).order_by(_p.id)
        )
        return [_record(r) for r in rows]

    async def mark_refunded(
        self, provider: str, reference: str, refund_reference: str, amount: int, at: datetime
    ) -> bool:
        result = await self._conn.execute(
            update(t.payments)
            .where(_p.provider == provider, _p.reference == reference,
                   _p.status != PaymentStatus.REFUNDED.value)
            .values(status=PaymentStatus.REFUNDED.value, refund_reference=refund_reference,
                    refunded_amount=amount, refunded_at=at)
        )
        return bool(result.rowcount == 1)

    async def find_event(self, provider: str, event_id: str) -> PaymentEvent | None:
        params = {"b_provider": provider, "b_event": event_id}
        row = (await self._conn.execute(_FIND_EVENT, params)).first()
        return _event(row) if row else None

    async def add_event(self, event: PaymentEvent) -> None:
        await self._conn.execute(_INSERT_EVENT, {
            "provider": event.provider, "event_id": event.event_id, "type": event.type,
            "order_id": event.order_id, "amount": event.amount, "currency": event.currency,
            "outcome": event.outcome, "received_at": event.received_at,
        })
