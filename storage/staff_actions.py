"""The staff audit trail: one row per staff action, written with the action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.ports import StaffAction
from storage import tables as t

_a = t.staff_actions.c


def _action(row: Row[Any]) -> StaffAction:
    return StaffAction(staff_id=row.staff_id, action=row.action, target=row.target,
                       detail=dict(row.detail), at=row.at)


class SqlStaffActions:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, action: StaffAction) -> None:
        await self._conn.execute(insert(t.staff_actions).values(
            staff_id=action.staff_id, action=action.action, target=action.target,
            detail=action.detail, at=action.at))

    async def new_broadcast(self, staff_id: int, audience: dict[str, Any], text: str,
                            total: int, at: datetime) -> int:
        result = await self._conn.execute(insert(t.broadcasts).values(
            staff_id=staff_id, audience=audience, text=text, total=total, created_at=at
        ).returning(t.broadcasts.c.id))
        return int(result.scalar_one())

    async def recent(self, limit: int, *, target: str | None = None) -> list[StaffAction]:
        query = select(t.staff_actions).order_by(_a.at.desc(), _a.id.desc()).limit(limit)
        if target is not None:
            query = query.where(_a.target == target)
        return [_action(r) for r in (await self._conn.execute(query)).all()]
