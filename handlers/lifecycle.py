"""Things done for every person on every update: knowing them, and noticing blocks."""

from __future__ import annotations

from telegram import ChatMember, Update

from handlers.context import KassaContext
from locales import pick_language


async def know_customer(update: Update, context: KassaContext) -> None:
    """On first contact, record the customer and settle their language.

    The language is first guessed from Telegram's language_code, then whatever they chose.
    Cached in user_data so the database is asked once per person, not once per update.
    """
    if context.services.index is None:  # the first update after a start
        await context.services.load_stations()
    user = update.effective_user
    if user is None or user.is_bot or context.user_data is None:
        return
    if "lang" in context.user_data:
        return
    customer = await context.services.customers.ensure(
        user.id, user.full_name, pick_language(user.language_code))
    context.user_data["lang"] = pick_language(customer.language or user.language_code)


async def membership_changed(update: Update, context: KassaContext) -> None:
    """The person blocked or unblocked the bot: remember it, so nobody messages them."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    blocked = change.new_chat_member.status == ChatMember.BANNED
    await context.services.customers.set_blocked(change.from_user.id, blocked)
