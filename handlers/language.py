"""/language: choose English, 中文 or Русский; remembered for the customer."""

from __future__ import annotations

from telegram import Update

from handlers import callback_data as cb
from handlers.cards import Card, answer_query, button, show
from handlers.context import KassaContext
from handlers.menu import menu_card, pause_booking
from locales import LANGUAGES

# Each language's own name, which is how people look for theirs.
LANGUAGE_NAMES = {"en": "English", "zh": "中文", "ru": "Русский"}


async def choose_language(update: Update, context: KassaContext) -> None:
    """Offer the languages."""
    _ = context.texts
    await answer_query(update)
    pause_booking(context)
    rows = [[button(LANGUAGE_NAMES[code], cb.language(code)) for code in LANGUAGES]]
    await show(update, context, Card(_("Choose your language:"), rows))


async def set_language(update: Update, context: KassaContext) -> None:
    """Switch to the language pressed and remember it."""
    query = update.callback_query
    user = update.effective_user
    code = (query.data or "").partition(":")[2] if query else ""
    if code not in LANGUAGES or user is None or context.user_data is None:
        await answer_query(update)
        return
    await context.services.customers.set_language(user.id, code)
    context.user_data["lang"] = code
    _ = context.texts
    await answer_query(update, _("Language: English"))
    await show(update, context, menu_card(context, _("Language: English")))
