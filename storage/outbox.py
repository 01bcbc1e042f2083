"""The outbox repository: messages in, claimed by a worker, marked done or retried."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.ports import OutboxMessage
from storage import tables as t

PENDING = "pending"
_o = t.outbox.c


def _message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        kind=row.kind,
        recipient=row.recipient,
        payload=dict(row.payload),
        due_at=row.due_at,
        dedupe_key=row.dedupe_key,
        id=row.id,
        attempts=row.attempts,
    )


class SqlOutbox:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    async def add(self, message: OutboxMessage, created_at: datetime) -> None:
        insert: Any = postgresql.insert if self._postgres else sqlite.insert
        statement = insert(t.outbox).values(
            kind=message.kind,
            recipient=message.recipient,
            payload=message.payload,
            dedupe_key=message.dedupe_key,
            due_at=message.due_at,
            status=PENDING,
            attempts=message.attempts,
            created_at=created_at,
        )
        if message.dedupe_key is not None:
            statement = statement.on_conflict_do_nothing(index_elements=[_o.dedupe_key])
        await self._conn.execute(statement)

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        query = (
            select(t.outbox)
            .where(_o.status == PENDING, _o.due_at <= now,
                   or_(_o.claimed_until.is_(None), _o.claimed_until <= now))
            .order_by(_o.due_at, _o.id)
            .limit(limit)
        )
        if self._postgres:
            # Workers of several processes take disjoint batches instead of queueing.
            query = query.with_for_update(skip_locked=True)
        rows = (await self._conn.execute(query)).all()
        if rows:
            await self._conn.execute(
                update(t.outbox)
                .where(_o.id.in_([r.id for r in rows]))
                .values(claimed_until=lease_until)
            )
        return [_message(r) for r in rows]

    async def mark_done(self, message_id: int, status: str, at: datetime,
                        error: str | None = None) -> None:
        await self._conn.execute(
            update(t.outbox)
            .where(and_(_o.id == message_id, _o.status == PENDING))
            .values(status=status, done_at=at, claimed_until=None, last_error=error,
                    attempts=_o.attempts + 1)
        )

    async def retry_later(self, message_id: int, due_at: datetime, error: str) -> None:
        await self._conn.execute(
            update(t.outbox)
            .where(and_(_o.id == message_id, _o.status == PENDING))
            .values(due_at=due_at, claimed_until=None, last_error=error,
                    attempts=_o.attempts + 1)
        )
