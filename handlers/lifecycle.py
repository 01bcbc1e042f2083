"""Things done for every person on every update: knowing them, noticing blocks, and
answering a button that belongs to no chat."""

from __future__ import annotations

import time

from telegram import ChatMember, Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler

from handlers.cards import answer_query
from handlers.context import KassaContext
from locales import pick_language

# How long what we know of a person (name, language, staff rights by the configuration) is
# taken as current before the customer record is brought up to date again. Staff actions
# never rely on it: they read the role afresh (CustomersApi.role).
CUSTOMER_RESYNC_SECONDS = 300
SYNCED_AT = "synced_at"


async def know_customer(update: Update, context: KassaContext) -> None:
    """Record the customer on first contact and keep the record current.

    The language is first guessed from Telegram's language_code, then whatever they chose.
    Cached in user_data, so the database is asked once every few minutes per person, not
    once per update.
    """
    user = update.effective_user
    data = context.user_data
    if user is None or user.is_bot or data is None:
        return
    synced = data.get(SYNCED_AT)
    now = time.time()
    fresh = isinstance(synced, int | float) and now - synced < CUSTOMER_RESYNC_SECONDS
    if "lang" in data and fresh:
        return
    customer = await context.services.customers.ensure(
        user.id, user.full_name, pick_language(user.language_code))
    data["lang"] = pick_language(customer.language or user.language_code)
    data[SYNCED_AT] = now


async def membership_changed(update: Update, context: KassaContext) -> None:
    """The person blocked or unblocked the bot: remember it, so nobody messages them."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    blocked = change.new_chat_member.status == ChatMember.BANNED
    await context.services.customers.set_blocked(change.from_user.id, blocked)


async def refuse_button_without_chat(update: Update, context: KassaContext) -> None:
    """A button pressed under a message in no chat the bot can answer in (an inline
    message's, which Kassa never sends, or a forged update) is out of date: every other
    handler answers in the chat of the message."""
    await answer_query(update, context.texts("This button is out of date."))
    raise ApplicationHandlerStop


class ButtonWithoutChat(CallbackQueryHandler[KassaContext, None]):
    """Takes only presses of a button with no message (checked without a call, so the
    updates it lets by cost nothing)."""

    def __init__(self) -> None:
        super().__init__(refuse_button_without_chat)

    def check_update(self, update: object) -> bool:
        return (isinstance(update, Update) and update.callback_query is not None
                and update.callback_query.message is None)
