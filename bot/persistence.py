"""python-telegram-bot's persistence in the database, so a restart loses no conversation.

Each piece of bot state is one row of ``bot_state`` (storage/bot_state.py): user_data,
chat_data, bot_data, the callback data and each conversation's states. A passenger half-way
through a booking continues where they were after a restart or a crash, on any instance
sharing the database.

What makes that hold:
  * every ``update_*`` call writes through at once (the data is small), nothing waits for
    ``flush``;
  * PTB hands data over only in ``Application.update_persistence``, which runs every
    ``update_interval`` seconds and at shutdown. ``save_after_each_update`` runs it right
    after each update as well, so a crash between two runs loses nothing;
  * PTB calls ``refresh_*`` before each update (and job) that uses a user's, a chat's or the
    bot's data, and they read the row as it is now, so a change written by another process
    is what the handler sees.

The database is the truth, with two exceptions that concern this process's own data:
  * a refresh keeps changes this process has made but not yet written (without
    ``save_after_each_update`` they wait for the next periodic run; with it, only an update
    whose handler raised ApplicationHandlerStop leaves any), since dropping them would lose
    them, and the next run writes them;
  * a write is skipped only when the data is exactly what this process last read from the
    row (it changed nothing since): writing it back could only put an older copy over
    another process's newer one. A copy this process wrote itself never skips a write,
    since another process may have changed the row after it.

Still in memory and read once at start-up: conversation states (PTB keeps them in each
ConversationHandler) and the callback data cache. Several processes on one database need
those read per update too; that is PTB's caching, not this adapter's.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import (
    Application,
    BasePersistence,
    CallbackContext,
    PersistenceInput,
    TypeHandler,
)

from storage.bot_state import KIND_LENGTH, BotStateStore, canonical_json, plain_json

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

# The handler group of save_after_each_update: after every group a bot would use.
SAVE_GROUP = 2**31 - 1

Data = dict[Any, Any]
RowId = tuple[str, str]  # (kind, key)

EMPTY = canonical_json({})  # what PTB starts a user's, chat's or the bot's data as


class Exchanged(NamedTuple):
    """The JSON this process last read from or wrote to one row."""

    text: str
    read: bool  # True: read from the database; False: written by this process


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
        self._rows = BotStateStore(engine)
        # Per row, what this process last exchanged with the database. It never stands in
        # for the database: refresh_* read the row every time. It tells this process's own
        # unwritten changes apart (the data differs from it), and lets a write of data
        # unchanged since it was read be skipped.
        self._exchanged: dict[RowId, Exchanged] = {}

    # ---- reading everything, once at start-up ---------------------------------------

    async def get_user_data(self) -> dict[int, Data]:
        return {int(key): data for key, data in (await self._load(USER_DATA)).items()}

    async def get_chat_data(self) -> dict[int, Data]:
        return {int(key): data for key, data in (await self._load(CHAT_DATA)).items()}

    async def get_bot_data(self) -> Data:
        data: Data = (await self._load(BOT_DATA)).get(SINGLE_ROW, {})
        return data

    async def get_callback_data(self) -> CDCData | None:
        rows = await self._load(CALLBACK_DATA)
        if SINGLE_ROW not in rows:
            return None
        keyboards, queries = rows[SINGLE_ROW]
        return [(uuid, float(at), buttons) for uuid, at, buttons in keyboards], queries

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await self._load(_conversation_kind(name))
        return {tuple(json.loads(key)): state for key, state in rows.items()}

    # ---- reading one row again, before each update that uses it ----------------------

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Make ``user_data`` what the database holds now (another process may have written)."""
        await self._refresh(USER_DATA, str(user_id), user_data)

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Make ``chat_data`` what the database holds now (another process may have written)."""
        await self._refresh(CHAT_DATA, str(chat_id), chat_data)

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Make ``bot_data`` what the database holds now (another process may have written)."""
        await self._refresh(BOT_DATA, SINGLE_ROW, bot_data)

    # ---- writing, straight through --------------------------------------------------

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

    async def flush(self) -> None:
        """Nothing to do: every change was written when it was handed over."""

    # ---- rows -----------------------------------------------------------------------

    async def _load(self, kind: str) -> dict[str, Any]:
        rows = await self._rows.load(kind)
        for key, data in rows.items():
            self._exchanged[(kind, key)] = Exchanged(canonical_json(data), read=True)
        return rows

    async def _refresh(self, kind: str, key: str, data: Data) -> None:
        stored = await self._rows.load_one(kind, key)
        last = self._exchanged.get((kind, key))
        if _text_or_none(data) != (last.text if last else EMPTY):
            return  # this process's own unwritten change: the next save writes it
        # In place: PTB hands over the very dict the handlers will see.
        data.clear()
        if stored is None:  # never written, or dropped by another process
            self._exchanged.pop((kind, key), None)
            return
        data.update(stored)
        self._exchanged[(kind, key)] = Exchanged(canonical_json(stored), read=True)

    async def _save(self, kind: str, key: str, data: Any) -> None:
        text = plain_json(data, f"{kind} {key!r}".strip())
        last = self._exchanged.get((kind, key))
        if last is not None and last.read and last.text == text:
            return  # unchanged since it was read: nothing of this process's to write
        await self._rows.save(kind, key, data)
        self._exchanged[(kind, key)] = Exchanged(text, read=False)

    async def _delete(self, kind: str, key: str) -> None:
        await self._rows.delete(kind, key)
        self._exchanged.pop((kind, key), None)


def _conversation_kind(name: str) -> str:
    kind = CONVERSATION + name
    if not name or len(kind) > KIND_LENGTH:
        raise ValueError(
            f"conversation name {name!r} must have 1 to {KIND_LENGTH - len(CONVERSATION)} "
            "characters to be stored"
        )
    return kind


def _text_or_none(data: Any) -> str | None:
    """``data`` as canonical JSON, or None if it is not plain JSON (it cannot match a row)."""
    try:
        return plain_json(data, "data")
    except TypeError:
        return None


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
