"""/start, /help, the main menu, and what to say to text outside any conversation."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from handlers import callback_data as cb
from handlers.cards import Card, answer_query, button, show
from handlers.context import KassaContext


def menu_card(context: KassaContext, greeting: str | None = None) -> Card:
    _ = context.texts
    text = greeting or _("What would you like to do?")
    rows = [
        [button(_("🚌 Book a trip"), cb.menu("book"))],
        [button(_("🎫 My tickets"), cb.menu("tickets"))],
        [button(_("🌐 Language"), cb.menu("lang")), button(_("❓ Help"), cb.menu("help"))],
    ]
    return Card(text, rows)


def first_name(update: Update) -> str:
    user = update.effective_user
    return user.first_name if user is not None else ""


async def start(update: Update, context: KassaContext) -> int:
    """Greet the person by name and show the main menu; leaves any booking in progress."""
    _ = context.texts
    greeting = _("Hello, {name}! I sell coach and train tickets. "
                 "You can also just write, e.g. “Beijing to Tianjin tomorrow 2 seats”.",
                 name=first_name(update))
    await show(update, context, menu_card(context, greeting), edit=False)
    return ConversationHandler.END


def help_text(context: KassaContext) -> str:
    _ = context.texts
    return "\n".join([
        _("How to book: tap “Book a trip”, then choose where from, where to, the day, "
          "the trip, seats and passengers. Seats are held for you while you pay."),
        _("Or write your trip in one line, e.g. “Beijing to Tianjin tomorrow 2 seats”."),
        _("Commands: /start menu, /book new booking, /mytickets your bookings, "
          "/language change language, /cancel stop the current booking, /help this help."),
    ])


async def show_help(update: Update, context: KassaContext) -> int:
    """Explain how booking works and list the commands."""
    await answer_query(update)
    await show(update, context, menu_card(context, help_text(context)), edit=False)
    return ConversationHandler.END


async def menu_button(update: Update, context: KassaContext) -> int:
    """Show the main menu again (the "menu" button)."""
    await answer_query(update)
    await show(update, context, menu_card(context))
    return ConversationHandler.END


async def not_understood(update: Update, context: KassaContext) -> int:
    """Text that is not a trip request and comes outside a booking: point to the menu."""
    _ = context.texts
    text = _("I didn't understand that. Write a trip like “Beijing to Tianjin tomorrow”, "
             "or choose from the menu.")
    await show(update, context, menu_card(context, text), edit=False)
    return ConversationHandler.END


async def other_content(update: Update, context: KassaContext) -> None:
    """Stickers, contacts, photos and the like: say what the bot understands."""
    _ = context.texts
    await show(update, context,
               menu_card(context, _("I can only read text and button presses.")), edit=False)
