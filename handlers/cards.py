"""Showing a "card": one message edited in place as the conversation moves on."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from handlers.context import KassaContext
from locales import Texts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: its callback data, or a link (the checkout page's Pay).

    Not python-telegram-bot's InlineKeyboardButton: making one of those sets its fourteen
    fields one by one through TelegramObject's guarded __setattr__ and freezes it, and a
    card has up to fifty buttons, nearly all new (their data carries the conversation's
    id), made again with each step: a twentieth of a webhook instance's CPU (py-spy,
    bench/conversation.py). This one sets three. (Not a tuple: PTB refuses a keyboard
    whose buttons are sequences.)
    """

    text: str
    callback_data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.callback_data is None) == (self.url is None):
            raise ValueError("a button has callback data or a link, one of the two")

    def to_dict(self) -> dict[str, str | None]:
        """The Bot API's InlineKeyboardButton, with the fields PTB would write (its order)."""
        if self.url is not None:
            return {"text": self.text, "url": self.url}
        return {"callback_data": self.callback_data, "text": self.text}


Rows = list[list[Button]]


class Keyboard(InlineKeyboardMarkup):
    """An inline keyboard of Buttons, which PTB sends as it sends its own: by to_dict."""

    __slots__ = ()

    def __init__(self, rows: Rows) -> None:
        # PTB only checks that the keyboard is rows of something, and keeps them.
        super().__init__(cast(Sequence[Sequence[InlineKeyboardButton]], rows))

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        rows = cast(tuple[tuple[Button, ...], ...], self.inline_keyboard)
        return {"inline_keyboard": [[b.to_dict() for b in row] for row in rows]}


@dataclass(frozen=True)
class Card:
    text: str
    buttons: Rows

    @property
    def markup(self) -> InlineKeyboardMarkup | None:
        return Keyboard(self.buttons) if self.buttons else None


def button(text: str, data: str) -> Button:
    """A button that sends ``data`` back when pressed, as all of Kassa's but Pay do."""
    return Button(text, data)


async def answer_query(update: Update, text: str | None = None, *, alert: bool = False) -> bool:
    """Stop the button's spinner; whether it was answered (False: no button was pressed, or
    the query was answered already or is too old, which is no reason to fail)."""
    if update.callback_query is None:
        return False
    try:
        await update.callback_query.answer(text, show_alert=alert)
    except BadRequest:
        return False
    return True


async def show(update: Update, context: KassaContext, card: Card, *, edit: bool = True) -> Message:
    """Edit the message whose button was pressed, or send a new message for typed input.
    After an edit the message returned is the pressed one as it came (an edit's answer is
    not read: bot/telegram_request.py): only its id is to be relied on."""
    query = update.callback_query
    if edit and query is not None and isinstance(query.message, Message):
        try:
            edited = await query.message.edit_text(card.text, reply_markup=card.markup)
        except BadRequest as error:
            # A second press of the same button asks for the text the card already shows.
            if "not modified" not in error.message.lower():
                raise
            return query.message
        return edited if isinstance(edited, Message) else query.message
    chat = update.effective_chat
    assert chat is not None
    return await context.bot.send_message(chat.id, card.text, reply_markup=card.markup)


async def drop_buttons(context: KassaContext, chat_id: int, message_id: int | None) -> None:
    """Take the keyboard off an older card so it cannot be pressed by mistake."""
    if message_id is None:
        return
    with contextlib.suppress(BadRequest):
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)


def page_of(items: list[T], page: int, per_page: int) -> tuple[list[T], int, int]:
    """The items on ``page`` (kept within the pages there are), that page, and how many
    pages there are: the paging of every list a card shows a page of."""
    pages = max(1, -(-len(items) // per_page))
    page = min(max(page, 0), pages - 1)
    return items[page * per_page:(page + 1) * per_page], page, pages


def page_line(_: Texts, page: int, pages: int) -> str:
    """Where a paged list is: "Page 2 of 5"."""
    return _("Page {page} of {pages}", page=page + 1, pages=pages)
