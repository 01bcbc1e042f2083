"""The update ids taken in webhook mode: the first delivery of an update is handled, a
replay is not (Telegram sends an update again when it did not see our answer in time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t
from storage.database import single_write


class Delivery(NamedTuple):
    """An update as it reached the webhook: what its record holds."""

    update_id: int
    received_at: datetime


def _record(insert: Any) -> Any:
    return insert(t.webhook_updates).on_conflict_do_nothing(
        index_elements=[t.webhook_updates.c.update_id])


# Built once (see storage/bot_state.py): this runs for every update.
_RECORD = {"postgresql": _record(postgresql.insert), "sqlite": _record(sqlite.insert)}


async def first_delivery(engine: AsyncEngine, update_id: int, now: datetime) -> bool:
    """Record the update; False if it was recorded before (a replay)."""
    async with single_write(engine) as conn:
        result = await conn.execute(_RECORD[engine.dialect.name],
                                    {"update_id": update_id, "received_at": now})
    return bool(result.rowcount == 1)


_RAW_RECORD = ("INSERT INTO webhook_updates (update_id, received_at) VALUES ($1, $2) "
               "ON CONFLICT (update_id) DO NOTHING")


async def first_delivery_on(conn: asyncpg.Connection, update_id: int, now: datetime) -> bool:
    """As first_delivery, on a raw asyncpg connection (PostgreSQL; the turns' lock pool,
    storage/shared_locks.py): one autocommit statement, without SQLAlchemy's layers. (An
    update that is a person's turn is recorded with its lock instead: TurnRows.)"""
    return str(await conn.execute(_RAW_RECORD, update_id, now)).endswith(" 1")


async def forget_before(engine: AsyncEngine, before: datetime) -> int:
    """Drop the ids older than ``before`` (Telegram keeps an update at most a day)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(t.webhook_updates).where(t.webhook_updates.c.received_at < before))
    return int(result.rowcount or 0)
