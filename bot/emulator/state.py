"""What Telegram's servers hold for one bot: accounts, chats, messages, files and updates.

EmulatorState is the data and the helpers that the Bot API methods (api_bot, api_messages,
api_files, api_payments) work on. It imports none of them: bot.emulator.api puts the method
table together on top of it, so no import runs back from a method module to the dispatcher.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.emulator.entities import Entity
from bot.emulator.errors import BOT_BLOCKED, CANT_INITIATE, CHAT_NOT_FOUND, bad_request, forbidden
from bot.emulator.faults import FaultPlan, FloodControl
from bot.emulator.formatting import format_text
from bot.emulator.records import (
    ApiCall,
    CallbackQueryRecord,
    ChatRecord,
    FileRecord,
    PreCheckoutRecord,
    StoredMessage,
    UserRecord,
)

Update = dict[str, Any]
UpdateSink = Callable[[Update], Awaitable[None]]

# The update types Telegram sends when a bot never chose its allowed_updates.
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)


class EmulatorState:
    """The state of an emulated Bot API for one bot, and what every method needs of it."""

    def __init__(
        self,
        token: str = "123:TEST",
        *,
        username: str = "kassa_test_bot",
        first_name: str = "Kassa",
        group_privacy: bool = True,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot = UserRecord(
            id=int(bot_id) if bot_id.isdigit() else 123,
            first_name=first_name,
            username=username,
            is_bot=True,
        )
        # With privacy mode on (Telegram's default) a bot sees only group messages meant for it.
        self.group_privacy = group_privacy
        self.clock = clock
        self.monotonic = monotonic
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.calls: list[ApiCall] = []
        self.updates: list[Update] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.pre_checkout_queries: dict[str, PreCheckoutRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook_url = ""
        self.webhook_secret_token = ""
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.faults = FaultPlan()
        self.flood = FloodControl(monotonic)
        # With a sink, updates are handed over directly and delivery returns once the sink has
        # processed them; without one they wait in the queue for getUpdates, like on Telegram.
        self.sink: UpdateSink | None = None
        self.pending: list[Update] = []
        self.confirmed_update_id = 0
        self.poller: object | None = None
        self.release_count = 0  # bumped to end the long polls in progress
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._sequence = itertools.count(1)
        self._change: asyncio.Event | None = None

    # ---- people and chats ------------------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        started: bool = True,
    ) -> UserRecord:
        """Register a person and their private chat with the bot."""
        user = UserRecord(
            id=user_id if user_id is not None else next(self._user_ids),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        if user.id in self.users:
            raise ValueError(f"user {user.id} already exists")
        self.users[user.id] = user
        self.chats[user.id] = ChatRecord(id=user.id, type="private", user=user, started=started)
        return user

    def add_group(
        self, title: str, *, members: list[UserRecord] | None = None, supergroup: bool = True
    ) -> ChatRecord:
        """Create a group with the bot already in it."""
        number = next(self._group_ids)
        chat_id = -(1_000_000_000_000 + number) if supergroup else -(4_000_000_000 + number)
        chat = ChatRecord(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            members={m.id for m in members or []},
        )
        self.chats[chat_id] = chat
        return chat

    # ---- helpers for method implementations -----------------------------------------------

    def now(self) -> int:
        """Unix time, as Telegram stamps messages."""
        return int(self.clock())

    def find_chat(self, chat_id: int | str) -> ChatRecord:
        """The chat a chat_id names, or Telegram's "chat not found"."""
        if isinstance(chat_id, str):
            # Only public channels and supergroups have @usernames a bot can address; the
            # emulator has none, and bots can never address people by username.
            raise bad_request(CHAT_NOT_FOUND)
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request(CHAT_NOT_FOUND)
        return chat

    def check_can_write(self, chat: ChatRecord) -> None:
        """Refuse like Telegram when the bot may not write to a chat."""
        if chat.user is not None:
            if chat.bot_status == "kicked":
                raise forbidden(BOT_BLOCKED)
            if not chat.started:
                raise forbidden(CANT_INITIATE)
        elif chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        elif chat.bot_status != "member":
            raise forbidden(f"bot is not a member of the {chat.type} chat")

    def format(self, text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[Entity]]:
        """Plain text and entities for text the bot sent."""
        return format_text(text, parse_mode, entities, self._user_api)

    def _user_api(self, user_id: int) -> dict[str, Any] | None:
        user = self.users.get(user_id)
        return user.to_api() if user else None

    def post(self, chat: ChatRecord, sender: UserRecord, **content: Any) -> StoredMessage:
        """Store a new message in a chat and return it."""
        message = StoredMessage(
            message_id=chat.next_message_id,
            chat=chat,
            sender=sender,
            date=self.now(),
            sequence=next(self._sequence),
            **content,
        )
        chat.next_message_id += 1
        chat.add(message)
        return message

    def store_file(
        self,
        data: bytes,
        *,
        folder: str,
        file_name: str | None,
        mime_type: str | None,
        width: int = 0,
        height: int = 0,
    ) -> FileRecord:
        """Keep uploaded bytes under a fresh file_id, as Telegram does on upload."""
        number = next(self._file_ids)
        extension = file_name.rsplit(".", 1)[1] if file_name and "." in file_name else "bin"
        record = FileRecord(
            file_id=f"EMU{folder[:3].upper()}{number:08d}",
            file_unique_id=f"U{number:08d}",
            file_path=f"{folder}/file_{number}.{extension}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[record.file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    def new_query_id(self) -> str:
        """A fresh id for a callback or pre-checkout query."""
        return str(7_000_000_000_000 + next(self._query_ids))

    # ---- updates ---------------------------------------------------------------------------

    def make_update(self, kind: str, payload: dict[str, Any]) -> Update:
        """Number and log an update."""
        update: Update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        return update

    async def deliver(self, kind: str, payload: dict[str, Any]) -> Update:
        """Send an update to the bot: through the sink if one is set, else via getUpdates."""
        update = self.make_update(kind, payload)
        if self.sink is not None:
            await self.sink(update)
        else:
            self.enqueue(update)
        return update

    def enqueue(self, update: Update) -> None:
        """Queue an update for getUpdates."""
        self.pending.append(update)
        self.notify()

    def confirm(self, offset: int) -> None:
        """Forget updates below `offset`, which is how getUpdates acknowledges them."""
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            self.confirmed_update_id = max(self.confirmed_update_id, offset - 1)
        elif offset < 0:
            dropped = self.pending[:offset]
            self.pending = self.pending[offset:]
            if dropped:
                self.confirmed_update_id = max(self.confirmed_update_id, dropped[-1]["update_id"])
        self.notify()

    def take_pending(self, limit: int) -> list[Update]:
        """Updates for getUpdates; types the bot did not subscribe to are dropped."""
        allowed = self.allowed_updates
        self.pending = [u for u in self.pending if _kind(u) in allowed]
        return self.pending[:limit]

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait up to `within` seconds for `predicate()`, re-checked on every change of state."""
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    await self.wait_change()
        except TimeoutError:
            raise TimeoutError(f"emulator condition not met within {within} s") from None

    async def wait_change(self) -> None:
        """Sleep until the next change of state (a call, an update, a confirmation)."""
        if self._change is None:
            self._change = asyncio.Event()
        await self._change.wait()

    def notify(self) -> None:
        """Wake everything waiting in wait_change."""
        if self._change is not None:
            self._change.set()
            self._change = None

    def release_long_polls(self) -> None:
        """Answer the long polls in progress at once (with no updates), e.g. before shutdown."""
        self.release_count += 1
        self.notify()


def _kind(update: Update) -> str:
    return next(key for key in update if key != "update_id")
