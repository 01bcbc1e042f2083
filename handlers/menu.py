"""/start, /help, the main menu, and what to say to text outside any conversation.

Leaving a booking for the menu pauses it rather than dropping it: the menu offers to
continue it, and its card's buttons still work. Only /cancel ends it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers import callback_data as cb
from handlers.cards import Card, Rows, answer_query, button, show
from handlers.checkin import checkin_photo
from handlers.command_menu import staff_commands_for
from handlers.context import KassaContext
from handlers.flow import Flow, load_flow, save_flow
from handlers.staff import role_of


def resumable(context: KassaContext, flow: Flow | None) -> str | None:
    """The route of a booking under way that the menu offers to continue, or None."""
    if flow is None or not flow.in_progress:
        return None
    origin = context.services.station(flow.origin or "")
    destination = context.services.station(flow.destination or "")
    if origin is None or destination is None:
        return None
    return f"{origin.name(context.language)} → {destination.name(context.language)}"


def continue_rows(context: KassaContext) -> Rows:
    """"▶ Continue booking A → B" for a booking under way, on every card that offers to
    book, so that "Book a trip" is never the only way on from it."""
    _ = context.texts
    flow = load_flow(context)
    route = resumable(context, flow)
    if flow is None or route is None:
        return []
    return [[button(_("▶ Continue booking {route}", route=route), cb.booking(flow.id, "r"))]]


def menu_card(context: KassaContext, greeting: str | None = None) -> Card:
    _ = context.texts
    text = greeting or _("What would you like to do?")
    rows = continue_rows(context)
    rows += [
        [button(_("🚌 Book a trip"), cb.menu("book"))],
        [button(_("🎫 My tickets"), cb.menu("tickets"))],
        [button(_("🌐 Language"), cb.menu("lang")), button(_("❓ Help"), cb.menu("help"))],
    ]
    return Card(text, rows)


def pause_booking(context: KassaContext) -> None:
    """The person turned to something else: typed text is no longer meant for the booking,
    which stays there to be continued."""
    flow = load_flow(context)
    if flow is not None and flow.in_progress and not flow.paused:
        flow.paused = True
        save_flow(context, flow)


def first_name(update: Update) -> str:
    user = update.effective_user
    return user.first_name if user is not None else ""


async def start(update: Update, context: KassaContext) -> None:
    """Greet the person by name and show the main menu; a booking in progress is kept."""
    _ = context.texts
    pause_booking(context)
    greeting = _("Hello, {name}! I sell coach and train tickets. "
                 "You can also just write, e.g. “Beijing to Tianjin tomorrow 2 seats”.",
                 name=first_name(update))
    await show(update, context, menu_card(context, greeting), edit=False)


def help_text(context: KassaContext) -> str:
    _ = context.texts
    return "\n".join([
        _("How to book: tap “Book a trip”, then choose where from, where to, the day, "
          "the trip, seats and passengers. Seats are held for you while you pay."),
        _("Or write your trip in one line, e.g. “Beijing to Tianjin tomorrow 2 seats”."),
        _("Commands: /start menu, /book new booking, /mytickets your bookings, "
          "/language change language, /cancel stop the current booking, /help this help."),
    ])


async def show_help(update: Update, context: KassaContext) -> None:
    """Explain how booking works and list the commands (and staff's, to staff)."""
    await answer_query(update)
    pause_booking(context)
    text = help_text(context)
    chat = update.effective_chat
    # In a private chat only: a group's other members need not learn who is staff.
    private = chat is not None and chat.type == chat.PRIVATE
    extra = (staff_commands_for(await role_of(update, context), context.texts.language)
             if private else [])
    if extra:
        _ = context.texts
        text += "\n\n" + "\n".join([_("For staff:"), *(f"/{c.command} — {c.description}"
                                                        for c in extra)])
    await show(update, context, menu_card(context, text), edit=False)


async def not_understood(update: Update, context: KassaContext) -> None:
    """Text that is not a trip request and comes outside a booking: point to the menu."""
    _ = context.texts
    text = _("I didn't understand that. Write a trip like “Beijing to Tianjin tomorrow”, "
             "or choose from the menu.")
    await show(update, context, menu_card(context, text), edit=False)


async def edited_message(update: Update, context: KassaContext) -> None:
    """A message edited after it was sent: taken as new input, a name corrected in an
    earlier message would become the next passenger's. Nothing is done; the person is told
    to send the correction as a new message, and the step they are at waits for it."""
    chat = update.effective_chat
    _ = context.texts
    if chat is not None:
        await context.bot.send_message(chat.id, _(
            "✏️ Edits to sent messages change nothing here: send the corrected text as a "
            "new message."))
    raise ApplicationHandlerStop


async def other_content(update: Update, context: KassaContext) -> None:
    """Stickers, contacts, photos and the like: say what the bot understands (a photo from
    staff is a ticket to check in)."""
    if await checkin_photo(update, context):
        return
    _ = context.texts
    await show(update, context,
               menu_card(context, _("I can only read text and button presses.")), edit=False)
