"""The emulator's records of users, chats, messages and files, with helpers for test assertions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.emulator.entities import Entity, utf16_slice

Button = tuple[str, str | None]


@dataclass(eq=False, slots=True)
class UserRecord:
    """A Telegram account: a simulated person or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        """The User object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def full_name(self) -> str:
        """First and last name, as clients show it."""
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(eq=False, slots=True)
class FileRecord:
    """A file the bot uploaded or a user sent, kept with its bytes."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    @property
    def file_size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def document_api(self) -> dict[str, Any]:
        """The Document object."""
        document: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type:
            document["mime_type"] = self.mime_type
        return document

    def photo_api(self) -> list[dict[str, Any]]:
        """The array of PhotoSize objects; one size, since the emulator does not rescale."""
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": self.file_size,
                "width": self.width,
                "height": self.height,
            }
        ]


@dataclass(eq=False, slots=True)
class Invoice:
    """What the bot asked to be paid, including the parts the Invoice object hides."""

    title: str
    description: str
    payload: str
    currency: str
    prices: list[dict[str, Any]]
    provider_token: str
    start_parameter: str = ""
    need_name: bool = False
    need_phone_number: bool = False
    need_email: bool = False
    need_shipping_address: bool = False
    is_flexible: bool = False
    paid: bool = False

    @property
    def total_amount(self) -> int:
        """Sum of the price portions in the smallest currency unit."""
        return sum(int(price["amount"]) for price in self.prices)

    def to_api(self) -> dict[str, Any]:
        """The Invoice object."""
        return {
            "title": self.title,
            "description": self.description,
            "start_parameter": self.start_parameter,
            "currency": self.currency,
            "total_amount": self.total_amount,
        }


@dataclass(eq=False, slots=True)
class ChatRecord:
    """A private chat or a group, with every message in it in order."""

    id: int
    type: str
    title: str | None = None
    user: UserRecord | None = None  # the other party of a private chat
    history: list[StoredMessage] = field(default_factory=list)
    by_id: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    members: set[int] = field(default_factory=set)
    # The bot's standing in the chat: "member", "kicked" (blocked by the user) or "left".
    bot_status: str = "member"
    started: bool = True  # a user must have talked to a bot before the bot may write first
    reply_keyboard: dict[str, Any] | None = None
    chat_actions: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """The Chat object."""
        if self.user is not None:
            chat = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                chat["last_name"] = self.user.last_name
            if self.user.username:
                chat["username"] = self.user.username
            return chat
        return {"id": self.id, "type": self.type, "title": self.title}

    def add(self, message: StoredMessage) -> None:
        """Append a message to the chat."""
        self.history.append(message)
        self.by_id[message.message_id] = message

    def live(self, message_id: int) -> StoredMessage | None:
        """A message that exists and was not deleted."""
        message = self.by_id.get(message_id)
        return None if message is None or message.deleted else message

    @property
    def bot_messages(self) -> list[StoredMessage]:
        """Messages from the bot that were not deleted, in order, as they look now."""
        return [m for m in self.history if m.from_bot and not m.deleted]


@dataclass(eq=False, slots=True)
class StoredMessage:
    """One message in a chat, as it currently looks (edits update it in place)."""

    message_id: int
    chat: ChatRecord
    sender: UserRecord
    date: int
    text: str | None = None
    entities: list[Entity] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Entity] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    document: FileRecord | None = None
    photo: FileRecord | None = None
    invoice: Invoice | None = None
    contact: dict[str, Any] | None = None
    successful_payment: dict[str, Any] | None = None
    reply_to: StoredMessage | None = None
    forward_origin: dict[str, Any] | None = None  # a forwarded message's MessageOrigin
    protect_content: bool = False
    edit_date: int | None = None
    deleted: bool = False
    edits: int = 0
    sequence: int = 0  # position among all messages in all chats, for "the newest" searches

    @property
    def from_bot(self) -> bool:
        """Whether the bot sent this message."""
        return self.sender.is_bot

    @property
    def visible_text(self) -> str:
        """The plain text a user reads: the text, or the caption of a file or photo."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of inline buttons as Telegram stores them (empty without a keyboard)."""
        if self.reply_markup is None:
            return []
        rows: list[list[dict[str, Any]]] = self.reply_markup.get("inline_keyboard", [])
        return rows

    @property
    def buttons(self) -> list[list[Button]]:
        """Rows of inline buttons as (text, callback_data or url)."""
        return [
            [(b["text"], b.get("callback_data", b.get("url"))) for b in row]
            for row in self.inline_keyboard
        ]

    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [b["text"] for row in self.inline_keyboard for b in row]

    def find_button(self, label: str) -> dict[str, Any] | None:
        """The inline button whose text, or else callback_data, equals `label`."""
        buttons = [b for row in self.inline_keyboard for b in row]
        for key in ("text", "callback_data"):
            for button in buttons:
                if button.get(key) == label:
                    return button
        return None

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Texts of a reply keyboard this message carried, if any."""
        if self.reply_markup is None or "keyboard" not in self.reply_markup:
            return None
        return [[b["text"] for b in row] for row in self.reply_markup["keyboard"]]

    def entity_texts(self, kind: str) -> list[str]:
        """The pieces of visible text covered by entities of one type (e.g. "bold")."""
        entities = self.entities if self.text is not None else self.caption_entities
        return [
            utf16_slice(self.visible_text, e["offset"], e["length"])
            for e in entities
            if e["type"] == kind
        ]

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        """The Message object."""
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.text is not None:
            message["text"] = self.text
            if self.entities:
                message["entities"] = self.entities
        if self.forward_origin is not None:
            message["forward_origin"] = self.forward_origin
        if self.caption is not None:
            message["caption"] = self.caption
            if self.caption_entities:
                message["caption_entities"] = self.caption_entities
        if self.document is not None:
            message["document"] = self.document.document_api()
        if self.photo is not None:
            message["photo"] = self.photo.photo_api()
        if self.invoice is not None:
            message["invoice"] = self.invoice.to_api()
        if self.contact is not None:
            message["contact"] = self.contact
        if self.successful_payment is not None:
            message["successful_payment"] = self.successful_payment
        # Only inline keyboards belong to a message; reply keyboards belong to the chat.
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = self.reply_markup
        if with_reply and self.reply_to is not None:
            message["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.protect_content:
            message["has_protected_content"] = True
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        return message

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else self.sender.first_name
        return f"<StoredMessage {self.chat.id}/{self.message_id} {who}: {self.visible_text!r}>"


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """How the bot answered a callback query."""

    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(eq=False, slots=True)
class CallbackQueryRecord:
    """A button press and, once the bot answers it, the answer."""

    id: str
    user: UserRecord
    message: StoredMessage
    data: str
    answer: CallbackAnswer | None = None

    @property
    def answered(self) -> bool:
        """Whether answerCallbackQuery was called for this press."""
        return self.answer is not None


@dataclass(eq=False, slots=True)
class PreCheckoutRecord:
    """A pre-checkout query and the bot's verdict on it."""

    id: str
    user: UserRecord
    invoice_message: StoredMessage
    order_info: dict[str, Any] | None = None
    ok: bool | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Bot API request the bot made and how the emulator answered."""

    method: str
    params: dict[str, Any]
    files: tuple[str, ...]
    error: str | None
    at: float = 0.0  # when the emulator answered, on its monotonic clock (rate checks)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None
