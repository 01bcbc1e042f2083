"""Showing a "card": one message edited in place as the conversation moves on."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from handlers.context import KassaContext


@dataclass(frozen=True)
class Card:
    text: str
    buttons: list[list[InlineKeyboardButton]]

    @property
    def markup(self) -> InlineKeyboardMarkup | None:
        return InlineKeyboardMarkup(self.buttons) if self.buttons else None


class CallbackButton(InlineKeyboardButton):
    """A button that only sends its callback data back, as all of Kassa's but Pay are.

    It writes its Bot API form itself: the same dict PTB's general ``to_dict`` builds by
    walking all fourteen of a button's fields, for a fraction of the work (a card has up
    to fifty buttons, each written out with every edit).
    """

    __slots__ = ()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        return {"callback_data": self.callback_data, "text": self.text}


# Cards come back with the same buttons (a seat map after each tap, the blank days of a
# calendar, the menu's), and a button, once made, never changes: so each is made once.
# Room for about a hundred people's cards at once.
@functools.lru_cache(maxsize=4096)
def button(text: str, data: str) -> InlineKeyboardButton:
    return CallbackButton(text, callback_data=data)


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
    """Edit the message whose button was pressed, or send a new message for typed input."""
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
