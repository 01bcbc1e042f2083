"""The bot's own state in ``bot_state``: (kind, key) -> JSON, one row each.

A plain repository over one table, with no idea of who uses it: bot/persistence.py keeps
python-telegram-bot's user_data, chat_data, bot_data and conversations here. Every call is
its own short transaction and reads or writes the database as it is now (nothing is cached),
so several bot processes on one database see each other's writes.

Only plain JSON is stored (str keys; str, int, float, bool, lists and dicts as values).
Anything else is refused with a TypeError when it is written, rather than coming back
different (a tuple as a list, an int key as a str) the next time it is read. ``None`` is not
stored either: a missing row is how "nothing" reads back, so it is deleted instead.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t
from storage.database import single_write, without_transactions

# bot_state.kind is a String(32); longer kinds would fail on PostgreSQL only.
KIND_LENGTH: int = t.bot_state.c.kind.type.length  # type: ignore[attr-defined]


_c = t.bot_state.c
_ROWS_OF_KIND = select(_c.key, _c.data).where(_c.kind == bindparam("kind"))
_ONE_ROW = select(_c.data).where(_c.kind == bindparam("kind"), _c.key == bindparam("key"))
_DELETE_ROW = delete(t.bot_state).where(_c.kind == bindparam("kind"), _c.key == bindparam("key"))


class BotStateStore:
    """Rows of ``bot_state`` by kind and key."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = without_transactions(engine)
        insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # Built once: SQLAlchemy derives a statement's cache key from the object, and one
        # built per call cost more CPU than its round trip (a save after every update).
        upsert = insert(t.bot_state)
        self._upsert = upsert.on_conflict_do_update(
            index_elements=[t.bot_state.c.kind, t.bot_state.c.key],
            set_={"data": upsert.excluded.data, "updated_at": upsert.excluded.updated_at},
        )

    async def load(self, kind: str) -> dict[str, Any]:
        """Every row of one kind, key -> data; each call parses fresh objects."""
        async with self._reads.connect() as conn:
            rows = await conn.execute(_ROWS_OF_KIND, {"kind": kind})
            return {key: data for key, data in rows}

    async def load_one(self, kind: str, key: str) -> Any | None:
        """The data of one row, or None when there is no such row."""
        async with self._reads.connect() as conn:
            return await conn.scalar(_ONE_ROW, {"kind": kind, "key": key})

    async def save(self, kind: str, key: str, data: Any) -> None:
        """Insert or replace one row; data that JSON would change is refused (TypeError)."""
        plain_json(data, f"{kind} {key!r}".strip())
        if len(kind) > KIND_LENGTH:
            raise ValueError(f"kind {kind!r} is longer than {KIND_LENGTH} characters")
        async with single_write(self._engine) as conn:
            await conn.execute(self._upsert, {"kind": kind, "key": key, "data": data,
                                              "updated_at": t.utcnow()})

    async def delete(self, kind: str, key: str) -> None:
        """Remove one row; a row that is not there is no error."""
        async with single_write(self._engine) as conn:
            await conn.execute(_DELETE_ROW, {"kind": kind, "key": key})


def canonical_json(data: Any) -> str:
    """One text per value (sorted keys), so equal data compares equal as text."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False)


def plain_json(data: Any, what: str) -> str:
    """``data`` as canonical JSON text, if it comes back from JSON exactly as it is."""
    if data is None:
        raise TypeError(f"{what} is None: delete the row instead")
    try:
        text = canonical_json(data)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} cannot be stored as JSON: {error}") from error
    if json.loads(text) != data:
        raise TypeError(
            f"{what} would not come back the same from JSON: "
            "use str keys, and lists rather than tuples"
        )
    return text
