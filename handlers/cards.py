"""Showing a "card": one message edited in place as the conversation moves on."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

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


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


async def answer_query(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Stop the button's spinner; a query already answered or too old is no reason to fail."""
    if update.callback_query is not None:
        with contextlib.suppress(BadRequest):
            await update.callback_query.answer(text, show_alert=alert)


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
