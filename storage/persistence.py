"""python-telegram-bot's persistence in the database, so a restart loses no conversation.

Each piece of bot state is one row of ``bot_state``: (kind, key) -> JSON. A passenger
half-way through a booking continues where they were after a restart or a crash, on any
instance sharing the database.

Two things make that hold:
  * every ``update_*`` call writes through at once (the data is small), nothing waits for
    ``flush``;
  * PTB hands data over only in ``Application.update_persistence``, which runs every
    ``update_interval`` seconds and at shutdown. ``save_after_each_update`` runs it right
    after each update as well, so a crash between two runs loses nothing.

Only plain JSON is stored (str keys; str, int, float, bool, None, lists and dicts as
values). Anything else is refused with a TypeError when it is written, rather than coming
back different (a tuple as a list, an int key as a str) after the next restart.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import (
    Application,
    BasePersistence,
    CallbackContext,
    PersistenceInput,
    TypeHandler,
)

from storage import tables as t
from storage.database import write_transaction

# PTB's own aliases live in a private module; these are the same types.
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

USER_DATA = "user_data"
CHAT_DATA = "chat_data"
BOT_DATA = "bot_data"
CALLBACK_DATA = "callback_data"
CONVERSATION = "conv:"  # + the ConversationHandler's name
SINGLE_ROW = ""  # the key of the one bot_data row and the one callback_data row

KIND_LENGTH = 32  # bot_state.kind is a String(32)

# The handler group of save_after_each_update: after every group a bot would use.
SAVE_GROUP = 2**31 - 1

Data = dict[Any, Any]


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    """user_data, chat_data, bot_data, callback_data and conversations in ``bot_state``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
    ) -> None:
        super().__init__(
            store_data=store_data or PersistenceInput(), update_interval=update_interval
        )
        self._engine = engine
        self._insert: Any = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        )
        # The JSON last written (or read) for each row: PTB hands over bot_data and the
        # callback data on every run, and unchanged data need not be written again.
        self._saved: dict[tuple[str, str], str] = {}

    # ---- reading, once at start-up ------------------------------------------------------

    async def get_user_data(self) -> dict[int, Data]:
        return {int(key): data for key, data in await self._load(USER_DATA)}

    async def get_chat_data(self) -> dict[int, Data]:
        return {int(key): data for key, data in await self._load(CHAT_DATA)}

    async def get_bot_data(self) -> Data:
        rows = await self._load(BOT_DATA)
        return rows[0][1] if rows else {}

    async def get_callback_data(self) -> CDCData | None:
        rows = await self._load(CALLBACK_DATA)
        if not rows:
            return None
        keyboards, queries = rows[0][1]
        return [(uuid, float(at), buttons) for uuid, at, buttons in keyboards], queries

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await self._load(_conversation_kind(name))
        return {tuple(json.loads(key)): state for key, state in rows}

    # ---- writing, straight through ------------------------------------------------------

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        kind = _conversation_kind(name)
        row_key = json.dumps(list(key))
        if new_state is None:  # the conversation ended
            await self._delete(kind, row_key)
        else:
            await self._save(kind, row_key, new_state)

    async def update_user_data(self, user_id: int, data: Data) -> None:
        await self._save(USER_DATA, str(user_id), data)

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        await self._save(CHAT_DATA, str(chat_id), data)

    async def update_bot_data(self, data: Data) -> None:
        await self._save(BOT_DATA, SINGLE_ROW, data)

    async def update_callback_data(self, data: CDCData) -> None:
        keyboards, queries = data
        plain = [[[uuid, at, buttons] for uuid, at, buttons in keyboards], queries]
        await self._save(CALLBACK_DATA, SINGLE_ROW, plain)

    async def drop_user_data(self, user_id: int) -> None:
        await self._delete(USER_DATA, str(user_id))

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._delete(CHAT_DATA, str(chat_id))

    # This process holds the current data in memory and is the one that writes it, so
    # there is nothing newer in the database to refresh from.

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Nothing to do: this process's user_data is the newest there is."""

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Nothing to do: this process's chat_data is the newest there is."""

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Nothing to do: this process's bot_data is the newest there is."""

    async def flush(self) -> None:
        """Nothing to do: every change was written when it was handed over."""

    # ---- rows ---------------------------------------------------------------------------

    async def _load(self, kind: str) -> list[tuple[str, Any]]:
        """Every (key, data) of one kind; each call parses fresh objects from the database."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t.bot_state.c.key, t.bot_state.c.data).where(t.bot_state.c.kind == kind)
                )
            ).all()
        for key, data in rows:
            self._saved[(kind, key)] = _canonical(data)
        return [(key, data) for key, data in rows]

    async def _save(self, kind: str, key: str, data: Any) -> None:
        text = _plain_json(data, f"{kind} {key!r}".strip())
        if self._saved.get((kind, key)) == text:
            return
        statement = self._insert(t.bot_state).values(
            kind=kind, key=key, data=data, updated_at=t.utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[t.bot_state.c.kind, t.bot_state.c.key],
            set_={"data": statement.excluded.data, "updated_at": statement.excluded.updated_at},
        )
        async with write_transaction(self._engine) as conn:
            await conn.execute(statement)
        self._saved[(kind, key)] = text

    async def _delete(self, kind: str, key: str) -> None:
        async with write_transaction(self._engine) as conn:
            await conn.execute(
                delete(t.bot_state).where(t.bot_state.c.kind == kind, t.bot_state.c.key == key)
            )
        self._saved.pop((kind, key), None)


def _conversation_kind(name: str) -> str:
    kind = CONVERSATION + name
    if not name or len(kind) > KIND_LENGTH:
        raise ValueError(
            f"conversation name {name!r} must have 1 to {KIND_LENGTH - len(CONVERSATION)} "
            "characters to be stored"
        )
    return kind


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _plain_json(data: Any, what: str) -> str:
    """``data`` as canonical JSON text, if it comes back from JSON exactly as it is."""
    try:
        text = _canonical(data)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} cannot be stored as JSON: {error}") from error
    if json.loads(text) != data:
        raise TypeError(
            f"{what} would not come back the same from JSON: "
            "use str keys, and lists rather than tuples"
        )
    return text


def save_after_each_update(
    application: Application[Any, Any, Any, Any, Any, Any], *, group: int = SAVE_GROUP
) -> None:
    """Write the persistence as soon as each update has been handled.

    PTB would otherwise write conversation states only every ``update_interval`` seconds
    and at shutdown, so a crash could send a passenger back a step or two. The handler sits
    in a group after all others; it does not run for an update whose handler raised
    ApplicationHandlerStop, whose state then goes with the next periodic run.
    """
    application.add_handler(TypeHandler(Update, _save_now), group=group)


async def _save_now(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
    application = context.application
    # The Application marks an update's user and chat for saving only after every group
    # has run, which is after this handler: mark them now.
    application.mark_data_for_update_persistence(
        chat_ids=update.effective_chat.id if update.effective_chat else None,
        user_ids=update.effective_user.id if update.effective_user else None,
    )
    await application.update_persistence()
