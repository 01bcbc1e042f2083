"""The client side: simulated people who type, press buttons, block the bot and pay."""

from __future__ import annotations

import contextlib
import mimetypes
from dataclasses import dataclass
from typing import Any

from bot.emulator.api import BotApiEmulator
from bot.emulator.api_files import image_size
from bot.emulator.entities import find_entities, trim, utf16_slice
from bot.emulator.errors import EmulatorUsageError
from bot.emulator.records import (
    CallbackAnswer,
    CallbackQueryRecord,
    ChatRecord,
    PreCheckoutRecord,
    StoredMessage,
    UserRecord,
)

PAYMENT_ANSWER_TIMEOUT = 10.0  # Telegram cancels a checkout the bot leaves unanswered this long


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """The outcome of paying an invoice."""

    ok: bool
    answered: bool
    error_message: str | None
    message: StoredMessage | None  # the successful_payment service message
    query: PreCheckoutRecord


class _ChatView:
    """What a person sees in one chat with the bot."""

    def __init__(self, emulator: BotApiEmulator, chat: ChatRecord) -> None:
        self.emulator = emulator
        self.chat = chat

    @property
    def messages(self) -> list[StoredMessage]:
        """The bot's messages in this chat, in order, as they look now (deleted ones omitted)."""
        return self.chat.bot_messages

    @property
    def last_message(self) -> StoredMessage:
        """The bot's latest message in this chat."""
        messages = self.chat.bot_messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing to chat {self.chat.id}")
        return messages[-1]

    @property
    def documents(self) -> list[StoredMessage]:
        """The bot's messages that carry a document."""
        return [m for m in self.chat.bot_messages if m.document is not None]

    @property
    def invoices(self) -> list[StoredMessage]:
        """The bot's messages that carry an invoice."""
        return [m for m in self.chat.bot_messages if m.invoice is not None]

    @property
    def chat_actions(self) -> list[str]:
        """Chat actions ("typing", ...) the bot showed, in order."""
        return self.chat.chat_actions

    async def wait_for_messages(self, count: int, within: float = 5.0) -> list[StoredMessage]:
        """Wait until the bot has `count` live messages here (for bots polling over HTTP)."""
        await self.emulator.wait_until(lambda: len(self.chat.bot_messages) >= count, within)
        return self.chat.bot_messages


class SimulatedGroup(_ChatView):
    """A group chat the bot is in."""

    @property
    def id(self) -> int:
        """The chat id (negative, as for every group)."""
        return self.chat.id

    def add_member(self, user: SimulatedUser) -> None:
        """Let a person write in the group."""
        self.chat.members.add(user.id)

    async def add_bot(self, by: SimulatedUser) -> None:
        """A member adds the bot; it receives my_chat_member left -> member."""
        await self._set_bot_status("member", by)

    async def remove_bot(self, by: SimulatedUser) -> None:
        """A member removes the bot; it receives my_chat_member member -> left."""
        await self._set_bot_status("left", by)

    async def _set_bot_status(self, status: str, by: SimulatedUser) -> None:
        old = self.chat.bot_status
        self.chat.bot_status = status
        await self.emulator.deliver("my_chat_member", _member_change(self, by.record, old, status))


class SimulatedUser(_ChatView):
    """A person talking to the bot in a private chat (and optionally in groups)."""

    def __init__(self, emulator: BotApiEmulator, record: UserRecord) -> None:
        super().__init__(emulator, emulator.chats[record.id])
        self.record = record
        self.phone_number = f"+1555{record.id % 10_000_000:07d}"

    @property
    def id(self) -> int:
        """The user id, which is also the private chat's id."""
        return self.record.id

    @property
    def first_name(self) -> str:
        """First name."""
        return self.record.first_name

    @property
    def blocked(self) -> bool:
        """Whether the person has blocked the bot."""
        return self.chat.bot_status == "kicked"

    @property
    def callback_queries(self) -> list[CallbackQueryRecord]:
        """This person's button presses, in order."""
        return [q for q in self.emulator.callback_queries.values() if q.user is self.record]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """The bot's answers to this person's button presses, in order."""
        return [q.answer for q in self.callback_queries if q.answer is not None]

    # ---- actions ---------------------------------------------------------------------------

    async def send(
        self,
        text: str,
        *,
        chat: SimulatedGroup | None = None,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """Type and send a text; "/command" gets a bot_command entity, as clients send it."""
        plain, _ = trim(text, [])
        if not plain:
            raise EmulatorUsageError("Telegram clients do not send empty messages")
        return await self._post(chat, text=plain, entities=find_entities(plain), reply_to=reply_to)

    async def forward(self, original: StoredMessage, *, hidden: bool = False) -> StoredMessage:
        """Forward someone's message to the bot; ``hidden``: the author's privacy settings
        hide their account in forwards (Telegram then gives only their name)."""
        author = original.sender
        origin: dict[str, Any] = (
            {"type": "hidden_user", "date": original.date,
             "sender_user_name": author.to_api()["first_name"]}
            if hidden else {"type": "user", "date": original.date, "sender_user": author.to_api()}
        )
        text = original.visible_text or "…"
        return await self._post(None, text=text, forward_origin=origin)

    async def press(
        self, label: str, *, message: StoredMessage | None = None
    ) -> CallbackQueryRecord:
        """Press an inline button, found by text (or callback_data) on the newest message with it.

        Returns the query; once the bot answered, `query.answer` holds the answer.
        """
        target = message or self._message_with_button(label)
        if target.deleted:
            raise EmulatorUsageError(f"message {target.message_id} was deleted")
        button = target.find_button(label)
        if button is None:
            raise EmulatorUsageError(
                f"no button {label!r} on message {target.message_id}; "
                f"it has {target.button_texts()}"
            )
        if "callback_data" not in button:
            raise EmulatorUsageError(
                f"button {label!r} sends no callback (it is {sorted(set(button) - {'text'})})"
            )
        self._check_not_blocked(target.chat)
        query = CallbackQueryRecord(
            id=self.emulator.new_query_id(),
            user=self.record,
            message=target,
            data=button["callback_data"],
        )
        self.emulator.callback_queries[query.id] = query
        await self.emulator.deliver(
            "callback_query",
            {
                "id": query.id,
                "from": self.record.to_api(),
                "message": target.to_api(),
                "chat_instance": str(abs(target.chat.id) * 1_000_003),
                "data": query.data,
            },
        )
        return query

    async def tap(self, label: str, *, chat: SimulatedGroup | None = None) -> StoredMessage:
        """Tap a button of the reply keyboard shown under the input field."""
        target = chat.chat if chat else self.chat
        keyboard = target.reply_keyboard
        buttons = [b for row in (keyboard or {}).get("keyboard", []) for b in row]
        button = next((b for b in buttons if b["text"] == label), None)
        if keyboard is None or button is None:
            raise EmulatorUsageError(
                f"no reply keyboard button {label!r}; shown: {[b['text'] for b in buttons]}"
            )
        if keyboard.get("one_time_keyboard"):
            target.reply_keyboard = None
        if button.get("request_contact"):
            return await self.share_contact(chat=chat)
        return await self.send(label, chat=chat)

    async def share_contact(
        self, phone_number: str | None = None, *, chat: SimulatedGroup | None = None
    ) -> StoredMessage:
        """Share one's own phone number, as the "share contact" keyboard button does."""
        contact: dict[str, Any] = {
            "phone_number": phone_number or self.phone_number,
            "first_name": self.record.first_name,
            "user_id": self.id,
        }
        if self.record.last_name:
            contact["last_name"] = self.record.last_name
        return await self._post(chat, contact=contact)

    async def send_document(
        self,
        data: bytes,
        file_name: str,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
        chat: SimulatedGroup | None = None,
    ) -> StoredMessage:
        """Send a file."""
        record = self.emulator.store_file(
            data,
            folder="documents",
            file_name=file_name,
            mime_type=mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream",
        )
        return await self._post(chat, document=record, caption=caption)

    async def send_photo(
        self, data: bytes, *, caption: str | None = None, chat: SimulatedGroup | None = None
    ) -> StoredMessage:
        """Send a photo (PNG, GIF or JPEG bytes)."""
        size = image_size(data)
        if size is None:
            raise EmulatorUsageError("send_photo needs PNG, GIF or JPEG bytes")
        record = self.emulator.store_file(
            data, folder="photos", file_name=None, mime_type=None, width=size[0], height=size[1]
        )
        return await self._post(chat, photo=record, caption=caption)

    async def block(self) -> None:
        """Block the bot: it receives my_chat_member member -> kicked and then gets 403s."""
        if self.blocked:
            raise EmulatorUsageError(f"{self.first_name} has already blocked the bot")
        self.chat.bot_status = "kicked"
        change = _member_change(self, self.record, "member", "kicked")
        await self.emulator.deliver("my_chat_member", change)

    async def unblock(self) -> None:
        """Unblock the bot: it receives my_chat_member kicked -> member."""
        if not self.blocked:
            raise EmulatorUsageError(f"{self.first_name} has not blocked the bot")
        self.chat.bot_status = "member"
        change = _member_change(self, self.record, "kicked", "member")
        await self.emulator.deliver("my_chat_member", change)

    async def pay(
        self,
        invoice: StoredMessage | None = None,
        *,
        order_info: dict[str, Any] | None = None,
        answer_within: float = PAYMENT_ANSWER_TIMEOUT,
    ) -> PaymentResult:
        """Pay an invoice (by default the newest unpaid one): pre-checkout, then payment.

        The successful_payment message is sent only if the bot answers the pre-checkout
        query with ok=True, exactly as Telegram does.
        """
        message = invoice or self._unpaid_invoice()
        bill = message.invoice
        if bill is None:
            raise EmulatorUsageError(f"message {message.message_id} is not an invoice")
        if bill.paid:
            raise EmulatorUsageError(f"invoice {bill.payload!r} is already paid")
        if bill.is_flexible:
            raise EmulatorUsageError("flexible invoices (shipping queries) are not emulated")
        self._check_not_blocked(message.chat)
        query = PreCheckoutRecord(
            id=self.emulator.new_query_id(),
            user=self.record,
            invoice_message=message,
            order_info=order_info or self._order_info(message),
        )
        self.emulator.pre_checkout_queries[query.id] = query
        payload: dict[str, Any] = {
            "id": query.id,
            "from": self.record.to_api(),
            "currency": bill.currency,
            "total_amount": bill.total_amount,
            "invoice_payload": bill.payload,
        }
        if query.order_info:
            payload["order_info"] = query.order_info
        await self.emulator.deliver("pre_checkout_query", payload)
        if query.ok is None and self.emulator.sink is None:
            # Nobody processed the update synchronously: give a polling bot time to answer.
            with contextlib.suppress(TimeoutError):
                await self.emulator.wait_until(lambda: query.ok is not None, answer_within)
        if not query.ok:
            return PaymentResult(False, query.ok is not None, query.error_message, None, query)
        bill.paid = True
        number = len(self.emulator.pre_checkout_queries)
        payment: dict[str, Any] = {
            "currency": bill.currency,
            "total_amount": bill.total_amount,
            "invoice_payload": bill.payload,
            "telegram_payment_charge_id": f"emu_tg_charge_{number}",
            "provider_payment_charge_id": f"emu_provider_charge_{number}",
        }
        if query.order_info:
            payment["order_info"] = query.order_info
        paid = await self._post(None, successful_payment=payment, target=message.chat)
        return PaymentResult(True, True, None, paid, query)

    # ---- internals -------------------------------------------------------------------------

    async def _post(
        self, group: SimulatedGroup | None, *, target: ChatRecord | None = None, **content: Any
    ) -> StoredMessage:
        chat = target or (group.chat if group else self.chat)
        if chat.user is None and self.id not in chat.members:
            raise EmulatorUsageError(f"{self.first_name} is not a member of {chat.title!r}")
        self._check_not_blocked(chat)
        message = self.emulator.post(chat, self.record, **content)
        if chat.user is not None:
            chat.started = True
        if chat.bot_status == "member" and self._reaches_bot(message):
            await self.emulator.deliver("message", message.to_api())
        return message

    def _check_not_blocked(self, chat: ChatRecord) -> None:
        if chat.user is not None and chat.bot_status == "kicked":
            raise EmulatorUsageError(f"{self.first_name} has blocked the bot; unblock() first")

    def _reaches_bot(self, message: StoredMessage) -> bool:
        # In groups, privacy mode lets through commands, replies to the bot and mentions only.
        if message.chat.user is not None or not self.emulator.group_privacy:
            return True
        text = message.text or ""
        name = (self.emulator.bot.username or "").lower()
        for entity in message.entities:
            piece = utf16_slice(text, entity["offset"], entity["length"]).lower()
            if entity["type"] == "bot_command" and ("@" not in piece or piece.endswith("@" + name)):
                return True
            if entity["type"] == "mention" and piece == "@" + name:
                return True
        return message.reply_to is not None and message.reply_to.from_bot

    def _message_with_button(self, label: str) -> StoredMessage:
        chats = [self.chat] + [
            c for c in self.emulator.chats.values() if c.user is None and self.id in c.members
        ]
        candidates = [m for c in chats for m in c.bot_messages if m.find_button(label)]
        if not candidates:
            shown = self.chat.bot_messages[-1].button_texts() if self.chat.bot_messages else []
            raise EmulatorUsageError(
                f"no message has a button {label!r}; the latest shows {shown}"
            )
        return max(candidates, key=lambda m: m.sequence)

    def _unpaid_invoice(self) -> StoredMessage:
        for message in reversed(self.chat.bot_messages):
            if message.invoice is not None and not message.invoice.paid:
                return message
        raise EmulatorUsageError(f"the bot has sent {self.first_name} no unpaid invoice")

    def _order_info(self, message: StoredMessage) -> dict[str, Any] | None:
        bill = message.invoice
        assert bill is not None
        info: dict[str, Any] = {}
        if bill.need_name:
            info["name"] = self.record.full_name
        if bill.need_phone_number:
            info["phone_number"] = self.phone_number.lstrip("+")
        if bill.need_email:
            info["email"] = f"user{self.id}@example.com"
        return info or None


def _member_change(
    view: _ChatView, actor: UserRecord, old: str, new: str
) -> dict[str, Any]:
    """A my_chat_member update body for the bot's own membership."""
    bot = view.emulator.bot.to_api()
    new_member: dict[str, Any] = {"status": new, "user": bot}
    if new == "kicked":
        new_member["until_date"] = 0
    old_member: dict[str, Any] = {"status": old, "user": bot}
    if old == "kicked":
        old_member["until_date"] = 0
    return {
        "chat": view.chat.to_api(),
        "from": actor.to_api(),
        "date": view.emulator.now(),
        "old_chat_member": old_member,
        "new_chat_member": new_member,
    }
