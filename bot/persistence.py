"""python-telegram-bot's persistence in the database, so a restart loses no conversation.

Each piece of bot state is one row of ``bot_state`` (storage/bot_state.py): user_data,
chat_data, bot_data, the callback data and each conversation's states. A passenger half-way
through a booking continues where they were after a restart or a crash, on any instance
sharing the database.

What makes that hold:
  * PTB calls ``refresh_*`` before each update (and job) that uses a user's, a chat's or the
    bot's data, and they read the row as it is now, so a change written by another process
    is what the handler sees;
  * every write is compare-and-set on the row's version: it is based on the version this
    process last read or wrote, and a row that has moved on since (another process wrote
    it) is left alone. An older copy never replaces a newer one: not a stopping instance's
    last hand-over, not a periodic run, not an update that lost a race;
  * a write of data unchanged since this process last read or wrote it is skipped (it
    could only put an older copy back);
  * with ``user_data_in_turns`` (Kassa's bot, bot/turns.py) a person's data is written only
    at the end of each of their turns, under their lock, by ``save_user_data``; PTB's own
    hand-overs of user_data (each ``update_interval`` and at shutdown) are ignored, since PTB
    copies the data outside the person's turn, perhaps half-way through one. Without it,
    ``save_after_each_update`` writes after each update, as a plain PTB bot would.

On PostgreSQL a turn reads the person's row as it takes their lock, in one round trip
(``lock_user_data``), and the refresh PTB makes in that turn uses that row rather than
reading it again; the turn's write goes through the same connection (``save_user_data``'s
``rows``). The row is read while the lock is held either way: only the round trips differ.

A refresh keeps changes this process made but has not written yet, as long as the row is
still at the version they were made on; once another process has written the row, the row
wins (those changes could no longer be written anyway).

Still in memory and read once at start-up: conversation states (PTB keeps them in each
ConversationHandler) and the callback data cache. Several processes on one database need
those read per update too, so Kassa uses neither: its booking flow is in user_data.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
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

from storage.bot_state import (
    KIND_LENGTH,
    BotStateStore,
    Stored,
    TurnRows,
    canonical_json,
    plain_json,
)

log = logging.getLogger(__name__)

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


class Known(NamedTuple):
    """A row as this process last read or wrote it."""

    text: bytes  # its data as canonical JSON
    version: int


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    """user_data, chat_data, bot_data, callback_data and conversations in ``bot_state``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
        user_data_in_turns: bool = False,
    ) -> None:
        super().__init__(
            store_data=store_data or PersistenceInput(), update_interval=update_interval
        )
        self._rows = BotStateStore(engine)
        self._user_data_in_turns = user_data_in_turns
        # Per row, what this process last exchanged with the database. It never stands in
        # for the database: refresh_* read the row every time. Its version is what the
        # next write is based on; its text tells this process's own unwritten changes
        # apart, and lets a write of unchanged data be skipped.
        self._known: dict[RowId, Known] = {}
        # A person's row as their running turn read it with their lock (lock_user_data),
        # for the refresh of their data in that turn; by user_data key.
        self._read_in_turn: dict[str, Stored | None] = {}

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
        """Make ``user_data`` what the database holds now (another process may have written):
        in a turn that read the row with the person's lock, that row, once."""
        key = str(user_id)
        if key in self._read_in_turn:
            self._take(USER_DATA, key, self._read_in_turn.pop(key), user_data)
        else:
            await self._refresh(USER_DATA, key, user_data)

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
        if self._user_data_in_turns:
            return  # PTB's copy, taken outside the person's turn: the turn writes
        await self._save(USER_DATA, str(user_id), data)

    async def save_user_data(self, user_id: int, data: Data, *,
                             rows: TurnRows | None = None) -> bool:
        """Write a person's data at the end of their turn (through ``rows``, the turn's
        connection, if given); False if the row had moved on (another process wrote it
        after this one read it), which is then left as it is."""
        return await self._save(USER_DATA, str(user_id), data, rows=rows)

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

    async def users_written_since(self, since: datetime, path: tuple[str, ...],
                                  value: int) -> list[int]:
        """The people whose data was written at ``since`` or later and holds ``value`` at
        ``path``, as stored now (a job's way to find whose data it has work in)."""
        keys = await self._rows.keys_written_since(USER_DATA, since, path, value)
        return [int(key) for key in keys]

    # ---- a person's turn (bot/turns.py) ------------------------------------------------

    async def lock_user_data(self, user_id: int, rows: TurnRows, lock_key: int, *,
                             wait: bool = True) -> bool:
        """Take the person's advisory lock on the turn's connection and read their row in
        the same round trip; the next refresh of their data in this turn takes that row
        instead of reading again. False: the lock is not held (and nothing was read).

        Only with ``user_data_in_turns``, where nothing but the person's turns writes
        their row from this process: otherwise a write of this process could come between
        this read and the refresh, and the refresh must read after it."""
        locked = await rows.lock_and_load(lock_key, USER_DATA, str(user_id), wait=wait)
        if locked.held and self._user_data_in_turns:
            self._read_in_turn[str(user_id)] = locked.row
        return locked.held

    def end_turn(self, user_id: int) -> None:
        """The person's turn is over: a row it read and no refresh took is forgotten (the
        next turn reads its own)."""
        self._read_in_turn.pop(str(user_id), None)

    async def flush(self) -> None:
        """Nothing to do: every change was written when it was handed over."""

    # ---- rows -----------------------------------------------------------------------

    async def _load(self, kind: str) -> dict[str, Any]:
        rows = await self._rows.load(kind)
        for key, row in rows.items():
            self._known[(kind, key)] = Known(canonical_json(row.data), row.version)
        return {key: row.data for key, row in rows.items()}

    async def _refresh(self, kind: str, key: str, data: Data) -> None:
        self._take(kind, key, await self._rows.load_one(kind, key), data)

    def _take(self, kind: str, key: str, stored: Stored | None, data: Data) -> None:
        """Make ``data`` the row ``stored`` read just now, unless it is the version this
        process already has."""
        known = self._known.get((kind, key))
        if _version(stored) == _version(known):
            # The row is as this process last saw it: ``data`` is that, or that plus this
            # process's own change not written yet, which the next save writes.
            return
        # In place: PTB hands over the very dict the handlers will see.
        data.clear()
        if stored is None:  # dropped by another process
            self._known.pop((kind, key), None)
            return
        data.update(stored.data)
        self._known[(kind, key)] = Known(canonical_json(stored.data), stored.version)

    async def _save(self, kind: str, key: str, data: Any, *,
                    rows: TurnRows | None = None) -> bool:
        text = plain_json(data, f"{kind} {key!r}".strip())
        known = self._known.get((kind, key))
        if known is not None and known.text == text:
            return True  # unchanged since read or written: nothing of this process's to write
        version = await (rows or self._rows).save(kind, key, data, based_on=_version(known),
                                                  checked=text)
        if version is None:
            # Another process wrote the row after this one last read it: its copy is newer
            # than the one this process would write. Forgotten, so the next refresh reads it.
            log.warning("bot state %s %r: not written, the row changed since it was read",
                        kind, key)
            self._known.pop((kind, key), None)
            return False
        self._known[(kind, key)] = Known(text, version)
        return True

    async def _delete(self, kind: str, key: str) -> None:
        known = self._known.pop((kind, key), None)
        if known is not None:  # a row this process never saw is nothing it can delete
            await self._rows.delete(kind, key, based_on=known.version)


def _version(row: Stored | Known | None) -> int | None:
    return row.version if row is not None else None


def _conversation_kind(name: str) -> str:
    kind = CONVERSATION + name
    if not name or len(kind) > KIND_LENGTH:
        raise ValueError(
            f"conversation name {name!r} must have 1 to {KIND_LENGTH - len(CONVERSATION)} "
            "characters to be stored"
        )
    return kind


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
