"""The customers repository: rows of ``customers`` in and out as booking's Customer."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.customers import Customer, Role
from storage import tables as t

# Built once: the bot reads a customer on many updates.
CUSTOMER_BY_ID = select(t.customers).where(t.customers.c.id == bindparam("customer_id"))
CUSTOMER_BY_ID_LOCKED = CUSTOMER_BY_ID.with_for_update()
# "On conflict do nothing" rather than read-then-insert: the first two messages of a new
# user may be handled at once, and the second must not fail. Its values come with each
# execution.
ADD_IF_MISSING = {
    "postgresql": postgresql.insert(t.customers).on_conflict_do_nothing(
        index_elements=[t.customers.c.id]),
    "sqlite": sqlite.insert(t.customers).on_conflict_do_nothing(
        index_elements=[t.customers.c.id]),
}


def customer_from_row(row: Sequence[Any]) -> Customer:
    """The Customer in a row of customers: SQLAlchemy's Row or asyncpg's Record alike."""
    customer_id, name, language, role, granted_role, blocked, saved_passengers, _created = row
    return Customer(
        id=customer_id,
        name=name,
        language=language,
        role=Role(role),
        blocked=blocked,
        saved_passengers=tuple(saved_passengers),
        granted=Role(granted_role),
    )


class SqlCustomers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._dialect = conn.dialect.name

    async def get(self, customer_id: int, *, lock: bool = False) -> Customer | None:
        # SQLite has no row locks; its writing transactions hold the database write lock.
        query = CUSTOMER_BY_ID_LOCKED if lock and self._dialect != "sqlite" else CUSTOMER_BY_ID
        row = (await self._conn.execute(query, {"customer_id": customer_id})).first()
        return customer_from_row(row) if row is not None else None

    async def add_if_missing(self, customer: Customer, created_at: datetime) -> bool:
        result = await self._conn.execute(
            ADD_IF_MISSING[self._dialect],
            {"id": customer.id, "created_at": created_at, **_columns(customer)})
        return bool(result.rowcount == 1)

    async def blocked_among(self, customer_ids: Collection[int]) -> set[int]:
        if not customer_ids:
            return set()
        c = t.customers.c
        query = select(c.id).where(c.id.in_(list(customer_ids)), c.blocked.is_(True))
        return set((await self._conn.execute(query)).scalars())

    async def reachable(self) -> list[int]:
        c = t.customers.c
        # A row with neither a name nor a language is someone who never wrote to the bot:
        # an id from KASSA_STAFF_IDS, or given a role by /staff add, before their first
        # message (Telegram gives every person who writes a name). Telegram would answer
        # "chat not found" to a message for them.
        query = (select(c.id)
                 .where(c.blocked.is_(False), or_(c.name != "", c.language.is_not(None)))
                 .order_by(c.id))
        return list((await self._conn.execute(query)).scalars())

    async def with_roles(self, roles: Collection[Role]) -> list[Customer]:
        c = t.customers.c
        query = select(c.id).where(c.role.in_([r.value for r in roles])).order_by(c.id)
        found = []
        for customer_id in (await self._conn.execute(query)).scalars():
            customer = await self.get(customer_id)
            if customer is not None:
                found.append(customer)
        return found

    async def update(self, customer: Customer) -> None:
        await self._conn.execute(
            update(t.customers)
            .where(t.customers.c.id == customer.id)
            .values(**_columns(customer))
        )


def _columns(customer: Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "language": customer.language,
        "role": customer.role.value,
        "blocked": customer.blocked,
        "saved_passengers": list(customer.saved_passengers),
        "granted_role": customer.granted.value,
    }
