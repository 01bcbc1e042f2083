"""The tickets repository: one row per passenger and seat of a paid order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.model import Ticket, TicketStatus
from storage import tables as t

_t = t.tickets.c


def _ticket(row: Row[Any]) -> Ticket:
    return Ticket(
        id=row.id, order_id=row.order_id, seat=row.seat, passenger=row.passenger,
        status=TicketStatus(row.status), issued_at=row.issued_at, used_at=row.used_at,
        used_by=row.used_by,
    )


_INSERT = insert(t.tickets)  # built once: every payment runs it


class SqlTickets:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._for_update = conn.dialect.name != "sqlite"

    async def add(self, tickets: Sequence[Ticket]) -> None:
        if tickets:
            await self._conn.execute(
                _INSERT,
                [{"id": x.id, "order_id": x.order_id, "seat": x.seat, "passenger": x.passenger,
                  "status": x.status.value, "issued_at": x.issued_at} for x in tickets],
            )

    async def for_order(self, order_id: str, *, lock: bool = False) -> list[Ticket]:
        query = select(t.tickets).where(_t.order_id == order_id).order_by(_t.seat)
        if lock and self._for_update:
            query = query.with_for_update()
        rows = await self._conn.execute(query)
        return [_ticket(r) for r in rows]

    async def boarded(self, order_ids: Sequence[str]) -> set[str]:
        if not order_ids:
            return set()
        rows = await self._conn.execute(
            select(_t.order_id).distinct()
            .where(_t.order_id.in_(order_ids), _t.status == TicketStatus.USED.value))
        return {row.order_id for row in rows}

    async def get(self, ticket_id: str, *, lock: bool = False) -> Ticket | None:
        query = select(t.tickets).where(_t.id == ticket_id)
        if lock and self._for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _ticket(row) if row else None

    async def mark_used(self, ticket_id: str, at: datetime, by: int | None) -> bool:
        # Guarded on the status: of two scans of one ticket at once, exactly one checks it in.
        result = await self._conn.execute(
            update(t.tickets)
            .where(_t.id == ticket_id, _t.status == TicketStatus.VALID.value)
            .values(status=TicketStatus.USED.value, used_at=at, used_by=by)
        )
        return bool(result.rowcount == 1)

    async def void_order(self, order_id: str) -> None:
        await self._conn.execute(
            update(t.tickets)
            .where(_t.order_id == order_id, _t.status == TicketStatus.VALID.value)
            .values(status=TicketStatus.VOID.value)
        )
