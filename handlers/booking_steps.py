"""The booking conversation's steps: one coroutine per step, each returning the next state.

Thin: every choice is checked by booking/ (search, seat map, hold); the steps only record
the person's answers in the flow record and show the card for the next step.
"""

from __future__ import annotations

from datetime import date

from telegram import Message, Update
from telegram.ext import ConversationHandler

from booking.errors import BookingError, ErrorCode
from booking.model import Station
from booking.service import passenger_name
from handlers import callback_data as cb
from handlers.booking_cards import local_today, render, saved_names, search_day
from handlers.cards import answer_query, drop_buttons, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.flow import (
    COUNT,
    DATE,
    DESTINATION,
    HELD,
    NAMES,
    ORIGIN,
    PREVIOUS,
    SEATS,
    SUMMARY,
    TRIPS,
    Flow,
    current_flow,
    flow_day,
    forget_from,
    start_flow,
)
from handlers.menu import menu_card
from handlers.parsing import parse_date, parse_trip_request

END = ConversationHandler.END
# Where a refusal at confirmation sends the person back to.
RETRY_STEP = {
    ErrorCode.SEAT_TAKEN: SEATS,
    ErrorCode.UNKNOWN_SEAT: SEATS,
    ErrorCode.DUPLICATE_SEAT: SEATS,
    ErrorCode.NOT_ENOUGH_SEATS: TRIPS,
    ErrorCode.TRIP_DEPARTED: TRIPS,
    ErrorCode.TRIP_CANCELLED: TRIPS,
    ErrorCode.UNKNOWN_TRIP: TRIPS,
    ErrorCode.BAD_PASSENGER_NAME: NAMES,
}


# ---- showing steps -------------------------------------------------------------------------

async def go(update: Update, context: KassaContext, flow: Flow, state: int,
             notice: str | None = None) -> int:
    """Move to ``state`` and show its card: edited in place for a press, new for typed text.

    If booking/ refuses what the step needs (a past date, say), the person stays on the
    step before it and reads why.
    """
    flow["state"] = state
    try:
        card = await render(context, flow, notice)
    except BookingError as error:
        state = PREVIOUS.get(state, ORIGIN)
        forget_from(flow, state)
        flow["state"] = state
        card = await render(context, flow, error_text(context.texts, error))
    query = update.callback_query
    on_card = (query is not None and isinstance(query.message, Message)
               and query.message.message_id == flow.get("card"))
    message = await show(update, context, card, edit=on_card)
    if message.message_id != flow.get("card"):
        chat = update.effective_chat
        if chat is not None:
            await drop_buttons(context, chat.id, flow.get("card"))
        flow["card"] = message.message_id
    return state


def pressed(update: Update, context: KassaContext) -> tuple[Flow, cb.FlowButton] | None:
    """The flow and button pressed, or None when the button belongs to an older card."""
    query = update.callback_query
    flow = current_flow(context)
    button = cb.parse_booking(query.data if query else None)
    if query is None or flow is None or button is None or button.flow != flow["id"]:
        return None
    message = query.message
    if not isinstance(message, Message) or message.message_id != flow.get("card"):
        return None
    return flow, button


def pressed_number(update: Update, context: KassaContext) -> tuple[Flow, int] | None:
    """The flow and the number a current button carries (a page, a trip, a count);
    None when the button is stale or its argument is no number."""
    found = pressed(update, context)
    if found is None or not found[1].argument.isdigit():
        return None
    return found[0], int(found[1].argument)


async def stale(update: Update, context: KassaContext) -> int:
    """A button from an old card or an earlier booking: say so and show the current step."""
    _ = context.texts
    await answer_query(update, _("This button is out of date."))
    flow = current_flow(context)
    if flow is None or flow.get("card") is None:
        await show(update, context, menu_card(context), edit=False)
        return END
    chat = update.effective_chat
    card = await render(context, flow)
    message = await show(update, context, card, edit=False)
    if chat is not None:
        await drop_buttons(context, chat.id, flow.get("card"))
    flow["card"] = message.message_id
    return int(flow["state"])


async def noop(update: Update, context: KassaContext) -> int:
    """A decorative button (calendar heading, aisle): nothing to do."""
    await answer_query(update)
    flow = current_flow(context)
    return int(flow["state"]) if flow else END


def text_of(update: Update) -> str:
    message = update.effective_message
    return (message.text or "").strip() if message else ""


def user_id(update: Update) -> int:
    user = update.effective_user
    assert user is not None
    return user.id


# ---- entry points --------------------------------------------------------------------------

async def begin(update: Update, context: KassaContext) -> int:
    """Start a new booking at the origin step."""
    await answer_query(update)
    flow = start_flow(context)
    return await go(update, context, flow, ORIGIN)


async def trip_request(update: Update, context: KassaContext) -> int:
    """A whole request in one line ("Beijing to Tianjin tomorrow 2 seats"): go to the trips."""
    services = context.services
    today = services.booking.now().date()
    request = parse_trip_request(text_of(update), services.station_index, today)
    if request is None or request.origin is None or request.destination is None:
        # The filter let it through, so this is a race with a catalogue change.
        return await begin(update, context)
    flow = start_flow(context)
    flow["origin"] = request.origin.code
    flow["destination"] = request.destination.code
    if request.passengers:
        flow["want"] = int(request.passengers)
    if request.day is None:
        return await go(update, context, flow, DATE)
    flow["day"] = request.day.isoformat()
    return await go(update, context, flow, TRIPS)


async def cancel(update: Update, context: KassaContext) -> int:
    """Leave the booking (/cancel): nothing is held, the menu is shown."""
    _ = context.texts
    flow = current_flow(context)
    chat = update.effective_chat
    if flow is not None and chat is not None:
        await drop_buttons(context, chat.id, flow.get("card"))
    if context.user_data is not None:
        context.user_data.pop("flow", None)
    await show(update, context, menu_card(context, _("Booking cancelled.")), edit=False)
    return END


async def go_back(update: Update, context: KassaContext) -> int:
    """Back: return to the previous step, forgetting what was chosen there."""
    found = pressed(update, context)
    if found is None:
        return await stale(update, context)
    flow, _button = found
    await answer_query(update)
    state = int(flow["state"])
    flow.pop("choices", None)
    if state == ORIGIN:
        if context.user_data is not None:
            context.user_data.pop("flow", None)
        await show(update, context, menu_card(context))
        return END
    previous = PREVIOUS[state]
    forget_from(flow, previous)
    return await go(update, context, flow, previous)


# ---- stations ------------------------------------------------------------------------------

async def pick_origin(update: Update, context: KassaContext) -> int:
    """Origin chosen by button."""
    found = pressed(update, context)
    if found is None or context.services.station(found[1].argument) is None:
        return await stale(update, context)
    flow, button = found
    await answer_query(update)
    return await choose_origin(update, context, flow, button.argument)


async def choose_origin(update: Update, context: KassaContext, flow: Flow, code: str) -> int:
    flow.pop("choices", None)
    flow["origin"] = code
    forget_from(flow, DESTINATION)
    return await go(update, context, flow, DESTINATION)


def matches(context: KassaContext, text: str, allowed: set[str] | None) -> list[Station]:
    """Stations the typed text may mean, the exact one alone if there is one."""
    index = context.services.station_index
    exact = index.exact(text)
    if exact is not None and (allowed is None or exact.code in allowed):
        return [exact]
    return [s for s in index.match(text, limit=8) if allowed is None or s.code in allowed][:5]


async def typed_origin(update: Update, context: KassaContext) -> int:
    """Origin typed by name, fuzzily, in any language."""
    _ = context.texts
    flow = current_flow(context) or start_flow(context)
    found = matches(context, text_of(update), None)
    if len(found) == 1:
        return await choose_origin(update, context, flow, found[0].code)
    flow["choices"] = [s.code for s in found]
    notice = None if found else _("No station matches “{text}”.", text=text_of(update)[:40])
    return await go(update, context, flow, ORIGIN, notice)


async def pick_destination(update: Update, context: KassaContext) -> int:
    """Destination chosen by button."""
    found = pressed(update, context)
    if found is None or context.services.station(found[1].argument) is None:
        return await stale(update, context)
    flow, button = found
    await answer_query(update)
    return await choose_destination(update, context, flow, button.argument)


async def choose_destination(update: Update, context: KassaContext, flow: Flow,
                             code: str) -> int:
    flow.pop("choices", None)
    flow["destination"] = code
    forget_from(flow, DATE)
    return await go(update, context, flow, DATE)


async def typed_destination(update: Update, context: KassaContext) -> int:
    """Destination typed by name; only stations reachable from the origin count."""
    _ = context.texts
    flow = current_flow(context)
    if flow is None:
        return await begin(update, context)
    reachable = {s.code for s in await context.services.booking.destinations(flow["origin"])}
    found = matches(context, text_of(update), reachable)
    if len(found) == 1:
        return await choose_destination(update, context, flow, found[0].code)
    flow["choices"] = [s.code for s in found]
    notice = None if found else _("No trips from here go to “{text}”.", text=text_of(update)[:40])
    return await go(update, context, flow, DESTINATION, notice)


# ---- date and trips ------------------------------------------------------------------------

def iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


async def pick_date(update: Update, context: KassaContext) -> int:
    """A day pressed on the date card (Today, Tomorrow, the calendar) or a nearby day."""
    found = pressed(update, context)
    day = iso_date(found[1].argument) if found else None
    if found is None or day is None:
        return await stale(update, context)
    flow, _button = found
    await answer_query(update)
    return await choose_day(update, context, flow, day)


async def choose_day(update: Update, context: KassaContext, flow: Flow, day: date) -> int:
    forget_from(flow, TRIPS)
    flow["day"] = day.isoformat()
    return await go(update, context, flow, TRIPS)


async def turn_month(update: Update, context: KassaContext) -> int:
    """The calendar's ‹ › arrows."""
    found = pressed(update, context)
    month = iso_date(found[1].argument) if found else None
    if found is None or month is None:
        return await stale(update, context)
    flow, _button = found
    await answer_query(update)
    flow["month"] = month.replace(day=1).isoformat()
    return await go(update, context, flow, DATE)


async def typed_date(update: Update, context: KassaContext) -> int:
    """A date typed on the date or trips step: 25.12, 2026-12-25, tomorrow, завтра, 明天."""
    _ = context.texts
    flow = current_flow(context)
    if flow is None:
        return await begin(update, context)
    day = parse_date(text_of(update), local_today(context, flow["origin"]))
    if day is None:
        return await go(update, context, flow, int(flow["state"]),
                        _("I couldn't read that date. Try 25.12 or “tomorrow”."))
    return await choose_day(update, context, flow, day)


async def turn_page(update: Update, context: KassaContext) -> int:
    """Earlier / later trips of the same day."""
    found = pressed_number(update, context)
    if found is None:
        return await stale(update, context)
    flow, page = found
    await answer_query(update)
    flow["page"] = page
    return await go(update, context, flow, TRIPS)


async def pick_trip(update: Update, context: KassaContext) -> int:
    """A trip chosen from the list: remember what the later steps show about it."""
    _ = context.texts
    found = pressed_number(update, context)
    if found is None:
        return await stale(update, context)
    flow, trip_id = found
    await answer_query(update)
    options = await search_day(context, flow, flow_day(flow))
    option = next((o for o in options if o.trip_id == trip_id), None)
    if option is None or option.seats_free < 1:
        return await go(update, context, flow, TRIPS, _("That trip has no free seats any more."))
    flow["trip"] = option.trip_id
    flow["trip_info"] = {
        "dep": option.departure.isoformat(), "arr": option.arrival.isoformat(),
        "price": option.price, "cur": option.currency, "free": option.seats_free,
    }
    forget_from(flow, COUNT)
    wanted = int(flow.get("want") or 0)
    if 0 < wanted <= min(option.seats_free, context.services.booking.rules.max_seats_per_order):
        flow["count"] = wanted
        return await go(update, context, flow, SEATS)
    return await go(update, context, flow, COUNT)


# ---- passengers and seats ------------------------------------------------------------------

async def pick_count(update: Update, context: KassaContext) -> int:
    """Number of passengers pressed."""
    found = pressed_number(update, context)
    if found is None:
        return await stale(update, context)
    flow, count = found
    await answer_query(update)
    return await choose_count(update, context, flow, count)


async def typed_count(update: Update, context: KassaContext) -> int:
    """Number of passengers typed."""
    _ = context.texts
    flow = current_flow(context)
    if flow is None:
        return await begin(update, context)
    text = text_of(update)
    if not text.isdigit():
        return await go(update, context, flow, COUNT, _("Please type a number, like 2."))
    return await choose_count(update, context, flow, int(text))


async def choose_count(update: Update, context: KassaContext, flow: Flow, count: int) -> int:
    _ = context.texts
    most = min(context.services.booking.rules.max_seats_per_order, int(flow["trip_info"]["free"]))
    if not 1 <= count <= most:
        return await go(update, context, flow, COUNT,
                        _.ngettext("You can book from 1 to {n} seat here.",
                                   "You can book from 1 to {n} seats here.", most))
    forget_from(flow, SEATS)
    flow["count"] = count
    return await go(update, context, flow, SEATS)


async def toggle_seat(update: Update, context: KassaContext) -> int:
    """A seat tapped on the seat map: picked, or un-picked if it was picked."""
    _ = context.texts
    found = pressed(update, context)
    if found is None:
        return await stale(update, context)
    flow, button = found
    return await choose_seats(update, context, flow, [button.argument])


# What people type for "any seats, you choose" (input words, not texts the bot shows).
ANY_SEAT_WORDS = frozenset({"any", "any seat", "any seats", "любые", "любое", "любые места",
                            "все равно", "всё равно", "任意", "随便", "任意座位"})


async def typed_seats(update: Update, context: KassaContext) -> int:
    """Seats typed like "4A 4B", or "any seats" typed instead of tapped."""
    flow = current_flow(context)
    if flow is None:
        return await begin(update, context)
    text = " ".join(text_of(update).casefold().split())
    if text in ANY_SEAT_WORDS or text == context.texts("Any seats").casefold():
        return await take_any_seats(update, context, flow)
    labels = [part.upper() for part in text.replace(",", " ").split()][:20]
    return await choose_seats(update, context, flow, labels)


async def choose_seats(update: Update, context: KassaContext, flow: Flow,
                       labels: list[str]) -> int:
    _ = context.texts
    seat_map = await context.services.booking.seat_map(
        int(flow["trip"]), flow["origin"], flow["destination"])
    free = set(seat_map.free)
    on_board = {cell.label for row in seat_map.rows for cell in row if cell is not None}
    chosen: list[str] = list(flow.get("seats", []))
    for label in labels:
        if label not in on_board:
            await answer_query(update, _("There is no such seat on this coach."), alert=True)
            return await go(update, context, flow, SEATS,
                            _("There is no such seat on this coach."))
        if label in chosen:
            chosen.remove(label)
        elif label not in free:
            await answer_query(update, _("Seat {seat} is taken.", seat=label[:5]), alert=True)
            return await go(update, context, flow, SEATS,
                            _("Seat {seat} is taken.", seat=label[:5]))
        elif len(chosen) < int(flow["count"]):
            chosen.append(label)
    await answer_query(update)
    flow["seats"] = chosen
    if len(chosen) == int(flow["count"]):
        return await enter_names(update, context, flow)
    return await go(update, context, flow, SEATS)


async def any_seats(update: Update, context: KassaContext) -> int:
    """"Any seats": the service picks seats side by side when the hold is placed."""
    found = pressed(update, context)
    if found is None:
        return await stale(update, context)
    flow, _button = found
    return await take_any_seats(update, context, flow)


async def take_any_seats(update: Update, context: KassaContext, flow: Flow) -> int:
    """Leave the seats to the service, which picks them side by side when holding."""
    await answer_query(update)
    flow["seats"] = []
    return await enter_names(update, context, flow)


async def enter_names(update: Update, context: KassaContext, flow: Flow) -> int:
    """Go to the names step, offering the customer's saved passengers and their own name."""
    customer = await context.services.customers.get(user_id(update))
    saved = list(customer.saved_passengers) if customer else []
    user = update.effective_user
    if user is not None and user.full_name and user.full_name not in saved:
        saved.append(user.full_name)
    flow["saved"] = saved[:10]
    flow["names"] = []
    return await go(update, context, flow, NAMES)


def acceptable_name(text: str) -> bool:
    """The booking core's own rule, asked at once so a typo is caught at this step."""
    try:
        passenger_name(text)
    except BookingError:
        return False
    return True


async def add_name(update: Update, context: KassaContext, flow: Flow, name: str) -> int:
    names: list[str] = flow.setdefault("names", [])
    names.append(" ".join(name.split()))
    if len(names) >= int(flow["count"]):
        return await go(update, context, flow, SUMMARY)
    return await go(update, context, flow, NAMES)


async def pick_saved_name(update: Update, context: KassaContext) -> int:
    """A saved passenger tapped."""
    found = pressed_number(update, context)
    offered = saved_names(context, found[0]) if found else []
    if found is None or found[1] >= len(offered):
        return await stale(update, context)
    flow, index = found
    await answer_query(update)
    return await add_name(update, context, flow, offered[index])


async def typed_name(update: Update, context: KassaContext) -> int:
    """A passenger's name typed."""
    _ = context.texts
    flow = current_flow(context)
    if flow is None:
        return await begin(update, context)
    name = text_of(update)
    if not acceptable_name(name):
        return await go(update, context, flow, NAMES,
                        error_text(_, BookingError(ErrorCode.BAD_PASSENGER_NAME)))
    return await add_name(update, context, flow, name)


# ---- confirmation --------------------------------------------------------------------------

async def typed_on_summary(update: Update, context: KassaContext) -> int:
    """Text on the summary: show the summary again with its buttons below the text."""
    flow = current_flow(context)
    if flow is None:
        return await begin(update, context)
    return await go(update, context, flow, int(flow["state"]))


async def confirm(update: Update, context: KassaContext) -> int:
    """Place the hold. The flow id is the request key, so a second press books nothing new."""
    found = pressed(update, context)
    if found is None:
        return await stale(update, context)
    flow, _button = found
    await answer_query(update)
    services = context.services
    try:
        order = await services.booking.hold(
            user_id(update), int(flow["trip"]), flow["origin"], flow["destination"],
            flow["names"], flow["seats"] or None, request_key=f"flow:{flow['id']}",
        )
    except BookingError as error:
        step = RETRY_STEP.get(error.code, int(flow["state"]))
        forget_from(flow, step + 1 if step == TRIPS else step)
        if step == NAMES:
            flow["names"] = []
        return await go(update, context, flow, step, error_text(context.texts, error))
    flow["order"] = order.id
    await services.customers.remember_passengers(user_id(update), flow["names"])
    notice = None
    if not order.hold_live(services.booking.now()):
        notice = error_text(context.texts, BookingError(ErrorCode.HOLD_EXPIRED))
    return await go(update, context, flow, HELD, notice)


async def cancel_hold(update: Update, context: KassaContext) -> int:
    """Give the held seats back."""
    _ = context.texts
    found = pressed(update, context)
    if found is None or not found[0].get("order"):
        return await stale(update, context)
    flow, _button = found
    await answer_query(update)
    try:
        await context.services.booking.cancel(flow["order"], user_id(update))
    except BookingError as error:
        return await go(update, context, flow, HELD, error_text(_, error))
    return await go(update, context, flow, HELD, _("Your hold is cancelled."))
