"""The outbox repository: messages in, claimed by a worker, their outcomes recorded.

A claim is one statement: the oldest due rows nobody holds, leased to the claimer. On
PostgreSQL the candidate rows are locked with SKIP LOCKED, so workers of several processes
take disjoint batches at once instead of queueing behind each other (and a row another
worker is claiming this instant is skipped, not claimed twice: its lease is re-checked on
the locked, newest version). Outcomes are recorded a batch at a time: the bulk of them,
the messages sent, in one UPDATE.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from booking.ports import OutboxMessage, OutboxOutcome
from storage import tables as t

PENDING = "pending"
# Every status a broadcast's progress shows, zero or not (booking.outbox.DeliveryStatus).
STATUSES = (PENDING, "sent", "failed", "blocked")
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
        broadcast_id=row.broadcast_id,
        parts_sent=row.parts_sent,
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
            broadcast_id=message.broadcast_id,
        )
        if message.dedupe_key is not None:
            statement = statement.on_conflict_do_nothing(index_elements=[_o.dedupe_key])
        await self._conn.execute(statement)

    async def add_many(self, messages: Sequence[OutboxMessage], created_at: datetime) -> None:
        if not messages:
            return
        insert: Any = postgresql.insert if self._postgres else sqlite.insert
        rows = [{"kind": m.kind, "recipient": m.recipient, "payload": m.payload,
                 "dedupe_key": m.dedupe_key, "due_at": m.due_at, "status": PENDING,
                 "attempts": m.attempts, "created_at": created_at,
                 "broadcast_id": m.broadcast_id} for m in messages]
        statement = insert(t.outbox).on_conflict_do_nothing(index_elements=[_o.dedupe_key])
        await self._conn.execute(statement, rows)

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        # A person's own messages (tickets, an expired hold, a reminder) before a
        # broadcast's: a broadcast of thousands, due all at once, would otherwise hold up
        # a ticket paid for while it goes out. Each kind is found by its own partial index.
        claimed = await self._claim(now, limit, lease_until, _o.broadcast_id.is_(None))
        if len(claimed) < limit:
            claimed += await self._claim(now, limit - len(claimed), lease_until,
                                         _o.broadcast_id.is_not(None))
        return claimed

    async def _claim(self, now: datetime, limit: int, lease_until: datetime,
                     which: Any) -> list[OutboxMessage]:
        due = (
            select(_o.id)
            .where(_o.status == PENDING, _o.due_at <= now, which,
                   or_(_o.claimed_until.is_(None), _o.claimed_until <= now))
            .order_by(_o.due_at, _o.id)
            .limit(limit)
        )
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(t.outbox)
            .where(_o.id.in_(due.scalar_subquery()))
            .values(claimed_until=lease_until)
            .returning(*t.outbox.c)
        )
        rows = (await self._conn.execute(claim)).all()
        return sorted((_message(r) for r in rows), key=lambda m: (m.due_at, m.id or 0))

    async def mark_done(self, message_id: int, status: str, at: datetime,
                        error: str | None = None) -> None:
        await self.record([OutboxOutcome(message_id, status, error)], at)

    async def retry_later(self, message_id: int, due_at: datetime, error: str) -> None:
        await self.record([OutboxOutcome(message_id, None, error, due_at)], at=due_at)

    async def record(self, outcomes: Sequence[OutboxOutcome], at: datetime) -> None:
        # Outcomes alike (every message sent, say) are one statement whatever their number.
        alike: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for o in outcomes:
            alike[(o.status, o.error, o.due_at, o.attempted, o.parts_sent)].append(o.id)
        for (status, error, due_at, attempted, parts_sent), ids in alike.items():
            values: dict[str, Any] = {"claimed_until": None}
            if parts_sent is not None:
                values["parts_sent"] = parts_sent
            if attempted:
                values["attempts"] = _o.attempts + 1
                values["last_error"] = error
            elif error is not None:
                values["last_error"] = error
            if status is not None:
                values.update(status=status, done_at=at)
            elif due_at is not None:
                values["due_at"] = due_at
            await self._conn.execute(
                update(t.outbox).where(and_(_o.id.in_(ids), _o.status == PENDING))
                .values(**values)
            )

    async def progress(self, broadcast_id: int) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        query = (select(_o.status, func.count()).where(_o.broadcast_id == broadcast_id)
                 .group_by(_o.status))
        for status, count in (await self._conn.execute(query)).all():
            counts[status] = int(count)
        return counts


@dataclass(frozen=True)
class OutboxBacklog:
    """The messages not yet delivered, for the metrics (bot/metrics.py)."""

    pending: int  # due, and no worker holds them
    claimed: int  # a worker's lease on them runs
    scheduled: int  # due later (reminders, retries waiting out their back-off)
    oldest_due: datetime | None  # when the longest-waiting pending one fell due


async def backlog(engine: AsyncEngine, now: datetime) -> OutboxBacklog:
    """One read over the pending rows (the partial index ix_outbox_pending_due holds just
    them), so a scrape costs the same whatever the sent history."""
    claimed = and_(_o.claimed_until.is_not(None), _o.claimed_until > now)
    due = and_(_o.due_at <= now, ~claimed)

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = select(
        count(due), count(claimed), count(and_(_o.due_at > now, ~claimed)),
        func.min(case((due, _o.due_at)), type_=t.UTCDateTime()),
    ).where(_o.status == PENDING)
    async with engine.connect() as conn:
        pending, held, later, oldest = (await conn.execute(query)).one()
    return OutboxBacklog(int(pending), int(held), int(later), oldest)
