"""The booking API's idempotency keys in the database (booking/idempotency.py says why)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.idempotency import ABANDONED_AFTER, StoredAnswer
from storage import tables as t
from storage.database import write_transaction

_k = t.api_idempotency.c


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert: Any = (postgresql.insert if engine.dialect.name == "postgresql"
                             else sqlite.insert)

    async def reserve(self, key: str, fingerprint: str, now: datetime) -> StoredAnswer | None:
        async with write_transaction(self._engine) as conn:
            # The key's primary key decides between two requests racing with it: one
            # inserts, the other waits for it to commit and then finds its row.
            taken = (await conn.execute(
                self._insert(t.api_idempotency)
                .values(key=key, fingerprint=fingerprint, created_at=now)
                .on_conflict_do_nothing(index_elements=[_k.key])
                .returning(_k.key)
            )).first()
            if taken is not None:
                return None
            row = (await conn.execute(
                select(_k.fingerprint, _k.status, _k.body, _k.created_at).where(_k.key == key)
            )).one()
            if row.status is None and row.created_at <= now - ABANDONED_AFTER:
                # Guarded on what was read, so two retries never both take it over.
                took_over = await conn.execute(
                    update(t.api_idempotency)
                    .where(_k.key == key, _k.status.is_(None), _k.created_at == row.created_at)
                    .values(fingerprint=fingerprint, created_at=now)
                )
                if took_over.rowcount == 1:
                    return None
            return StoredAnswer(row.fingerprint, row.status, row.body)

    async def complete(self, key: str, status: int, body: str, now: datetime) -> None:
        async with write_transaction(self._engine) as conn:
            await conn.execute(
                update(t.api_idempotency).where(_k.key == key, _k.status.is_(None))
                .values(status=status, body=body, completed_at=now)
            )

    async def release(self, key: str) -> None:
        async with write_transaction(self._engine) as conn:
            await conn.execute(
                delete(t.api_idempotency).where(_k.key == key, _k.status.is_(None)))

    async def purge(self, before: datetime) -> int:
        async with write_transaction(self._engine) as conn:
            result = await conn.execute(
                delete(t.api_idempotency).where(_k.created_at < before))
            return int(result.rowcount or 0)
