"""The booking conversation's steps: one coroutine per answer a passenger gives.

Thin: every choice is checked by booking/ (search, seat map, hold); a step only records the
answer in the flow and moves to the next step. Changing an earlier answer forgets the later
ones that depended on it; going back keeps them as defaults.
"""

from __future__ import annotations

from datetime import date

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus, Station
from handlers.booking_cards import chosen_trip, local_today, most_seats, saved_names
from handlers.cards import show
from handlers.errors import error_text
from handlers.flow import PREVIOUS, Step, save_flow
from handlers.menu import menu_card
from handlers.parsing import TripRequest, parse_date
from handlers.turn import Turn

# Where a refusal at confirmation sends the person back to.
RETRY_STEP = {
    ErrorCode.SEAT_TAKEN: Step.SEATS,
    ErrorCode.UNKNOWN_SEAT: Step.SEATS,
    ErrorCode.DUPLICATE_SEAT: Step.SEATS,
    ErrorCode.NOT_ENOUGH_SEATS: Step.TRIPS,
    ErrorCode.TRIP_DEPARTED: Step.TRIPS,
    ErrorCode.TRIP_CANCELLED: Step.TRIPS,
    ErrorCode.UNKNOWN_TRIP: Step.TRIPS,
    ErrorCode.BAD_PASSENGER_NAME: Step.NAMES,
}

# What people type for "any seats, you choose" (input words, not texts the bot shows).
ANY_SEAT_WORDS = frozenset({"any", "any seat", "any seats", "любые", "любое", "любые места",
                            "все равно", "всё равно", "任意", "随便", "任意座位"})
TYPED_SEATS_READ = 20  # more than any coach order allows; the rest is noise


# ---- moving about --------------------------------------------------------------------------

async def go_back(turn: Turn) -> None:
    """Back: the step before, with the answers given so far kept as defaults."""
    turn.flow.choices = []
    previous = PREVIOUS.get(turn.flow.step)
    if previous is None:  # Back from the first step leaves the booking
        save_flow(turn.context, None)
        await show(turn.update, turn.context, menu_card(turn.context))
        return
    await turn.go(previous)


async def noop(turn: Turn) -> None:
    """A decorative button (calendar heading, aisle): nothing to do."""


async def resume(turn: Turn) -> None:
    """"Continue booking" from the menu: the current step's card, as a new message."""
    await turn.go(turn.flow.step, new_message=True)


async def trip_request(turn: Turn, request: TripRequest) -> None:
    """A whole request in one line ("Beijing to Tianjin tomorrow 2 seats"): to the trips."""
    flow = turn.flow
    if request.origin is None or request.destination is None:
        await turn.go(Step.ORIGIN)
        return
    flow.origin = request.origin.code
    flow.destination = request.destination.code
    flow.want = request.passengers
    if request.day is None:
        await turn.go(Step.DATE)
        return
    flow.day = request.day
    await turn.go(Step.TRIPS)


# ---- stations ------------------------------------------------------------------------------

async def pick_origin(turn: Turn) -> None:
    """Origin chosen by button."""
    station = turn.services.station(turn.argument)
    if station is None:
        raise StaleButton
    await choose_origin(turn, station.code)


async def choose_origin(turn: Turn, code: str) -> None:
    flow = turn.flow
    flow.choices = []
    if code != flow.origin:
        flow.origin = code
        flow.forget_from(Step.DESTINATION)
    await turn.go(Step.DESTINATION)


def matches(turn: Turn, text: str, allowed: set[str] | None) -> list[Station]:
    """Stations the typed text may mean, the exact one alone if there is one."""
    index = turn.services.station_index
    exact = index.exact(text)
    if exact is not None and (allowed is None or exact.code in allowed):
        return [exact]
    return [s for s in index.match(text, limit=8) if allowed is None or s.code in allowed][:5]


async def typed_origin(turn: Turn) -> None:
    """Origin typed by name, fuzzily, in any language."""
    _ = turn.texts
    found = matches(turn, turn.text, None)
    if len(found) == 1:
        await choose_origin(turn, found[0].code)
        return
    turn.flow.choices = [s.code for s in found]
    notice = None if found else _("No station matches “{text}”.", text=turn.text[:40])
    await turn.go(Step.ORIGIN, notice)


async def pick_destination(turn: Turn) -> None:
    """Destination chosen by button."""
    station = turn.services.station(turn.argument)
    if station is None:
        raise StaleButton
    await choose_destination(turn, station.code)


async def choose_destination(turn: Turn, code: str) -> None:
    flow = turn.flow
    flow.choices = []
    if code != flow.destination:
        flow.destination = code
        flow.forget_from(Step.DATE)
    await turn.go(Step.DATE)


async def typed_destination(turn: Turn) -> None:
    """Destination typed by name; only stations reachable from the origin count."""
    _ = turn.texts
    reachable = {s.code for s in await turn.services.booking.destinations(turn.flow.origin or "")}
    found = matches(turn, turn.text, reachable)
    if len(found) == 1:
        await choose_destination(turn, found[0].code)
        return
    turn.flow.choices = [s.code for s in found]
    notice = None if found else _("No trips from here go to “{text}”.", text=turn.text[:40])
    await turn.go(Step.DESTINATION, notice)


# ---- date and trips ------------------------------------------------------------------------

def iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


async def pick_date(turn: Turn) -> None:
    """A day pressed on the date card (Today, Tomorrow, the calendar) or a nearby day."""
    day = iso_date(turn.argument)
    if day is None:
        raise StaleButton
    await choose_day(turn, day)


async def choose_day(turn: Turn, day: date) -> None:
    flow = turn.flow
    if day != flow.day:
        flow.day = day
        flow.forget_from(Step.TRIPS)
    flow.page = 0
    await turn.go(Step.TRIPS)


async def turn_month(turn: Turn) -> None:
    """The calendar's ‹ › arrows."""
    month = iso_date(turn.argument)
    if month is None:
        raise StaleButton
    turn.flow.month = month.replace(day=1)
    await turn.go(Step.DATE)


async def typed_date(turn: Turn) -> None:
    """A date typed on the date or trips step: 25.12, 2026-12-25, tomorrow, завтра, 明天."""
    _ = turn.texts
    day = parse_date(turn.text, local_today(turn.context, turn.flow.origin))
    if day is None:
        await turn.go(turn.flow.step, _("I couldn't read that date. Try 25.12 or “tomorrow”."))
        return
    await choose_day(turn, day)


async def turn_page(turn: Turn) -> None:
    """Earlier / later trips of the same day."""
    if turn.number is None:
        raise StaleButton
    turn.flow.page = turn.number
    await turn.go(Step.TRIPS)


async def pick_trip(turn: Turn) -> None:
    """A trip chosen from the list; a passenger count asked for in one line is taken."""
    _ = turn.texts
    flow = turn.flow
    if turn.number is None:
        raise StaleButton
    if turn.number != flow.trip:
        flow.trip = turn.number
        flow.forget_from(Step.COUNT)
    try:
        option = await chosen_trip(turn.context, flow)
    except BookingError as error:
        flow.trip = None
        await turn.go(Step.TRIPS, error_text(_, error))
        return
    if option.seats_free < 1:
        flow.trip = None
        await turn.go(Step.TRIPS, _("That trip has no free seats any more."))
        return
    wanted = flow.want or 0
    if flow.count is None and 0 < wanted <= most_seats(turn.context, option):
        flow.count = wanted
    await turn.go(Step.SEATS if flow.count else Step.COUNT)


# ---- passengers and seats ------------------------------------------------------------------

async def pick_count(turn: Turn) -> None:
    """Number of passengers pressed."""
    if turn.number is None:
        raise StaleButton
    await choose_count(turn, turn.number)


async def typed_count(turn: Turn) -> None:
    """Number of passengers typed."""
    _ = turn.texts
    if not turn.text.isdigit():
        await turn.go(Step.COUNT, _("Please type a number, like 2."))
        return
    await choose_count(turn, int(turn.text))


async def choose_count(turn: Turn, count: int) -> None:
    _ = turn.texts
    flow = turn.flow
    most = most_seats(turn.context, await chosen_trip(turn.context, flow))
    if not 1 <= count <= most:
        await turn.go(Step.COUNT, _.ngettext("You can book from 1 to {n} seat here.",
                                             "You can book from 1 to {n} seats here.", most))
        return
    if count != flow.count:
        flow.count = count
        flow.seats = flow.seats[:count]
        flow.names = flow.names[:count]
    await turn.go(Step.SEATS)


async def toggle_seat(turn: Turn) -> None:
    """A seat tapped on the seat map: picked, or un-picked if it was picked."""
    await choose_seats(turn, [turn.argument])


async def typed_seats(turn: Turn) -> None:
    """Seats typed like "4A 4B", or "any seats" typed instead of tapped."""
    text = " ".join(turn.text.casefold().split())
    if text in ANY_SEAT_WORDS or text == turn.texts("Any seats").casefold():
        await take_any_seats(turn)
        return
    labels = [part.upper() for part in text.replace(",", " ").split()][:TYPED_SEATS_READ]
    await choose_seats(turn, labels)


async def choose_seats(turn: Turn, labels: list[str]) -> None:
    _ = turn.texts
    flow = turn.flow
    seat_map = await turn.services.booking.seat_map(
        flow.trip or 0, flow.origin or "", flow.destination or "")
    free = set(seat_map.free)
    chosen = list(flow.seats)
    for label in labels:
        if label not in seat_map.labels:
            notice = _("There is no such seat on this coach.")
            await turn.answer(notice, alert=True)
            await turn.go(Step.SEATS, notice)
            return
        if label in chosen:
            chosen.remove(label)
        elif label not in free:
            notice = _("Seat {seat} is taken.", seat=label[:5])
            await turn.answer(notice, alert=True)
            await turn.go(Step.SEATS, notice)
            return
        elif len(chosen) < (flow.count or 1):
            chosen.append(label)
    flow.seats = chosen
    flow.any_seats = False
    if len(chosen) == flow.count and labels:
        await enter_names(turn)
        return
    await turn.go(Step.SEATS)


async def any_seats(turn: Turn) -> None:
    """"Any seats": the service picks seats side by side when the hold is placed."""
    await take_any_seats(turn)


async def take_any_seats(turn: Turn) -> None:
    turn.flow.seats = []
    turn.flow.any_seats = True
    await enter_names(turn)


async def seats_done(turn: Turn) -> None:
    """"Continue" under a complete seat choice (shown when coming back to the seats)."""
    if not turn.flow.seats_complete:
        raise StaleButton
    await enter_names(turn)


async def enter_names(turn: Turn) -> None:
    """The names step, offering the customer's saved passengers and their own name."""
    customer = await turn.services.customers.customer(turn.user_id)
    saved = list(customer.saved_passengers) if customer else []
    user = turn.update.effective_user
    if user is not None and user.full_name and user.full_name not in saved:
        saved.append(user.full_name)
    turn.flow.saved = [name for name in saved if valid_name(turn, name)][:10]
    await turn.go(Step.SUMMARY if turn.flow.names_complete else Step.NAMES)


def valid_name(turn: Turn, name: str) -> bool:
    try:
        turn.services.booking.check_passenger_name(name)
    except BookingError:
        return False
    return True


async def add_name(turn: Turn, name: str) -> None:
    flow = turn.flow
    flow.names.append(name)
    await turn.go(Step.SUMMARY if flow.names_complete else Step.NAMES)


async def pick_saved_name(turn: Turn) -> None:
    """A saved passenger tapped."""
    offered = saved_names(turn.flow)
    if turn.number is None or turn.number >= len(offered) or turn.flow.names_complete:
        raise StaleButton
    await add_name(turn, offered[turn.number])


async def typed_name(turn: Turn) -> None:
    """A passenger's name typed; the booking core's own rule is asked at once."""
    if turn.flow.names_complete:
        turn.flow.names = []
    try:
        name = turn.services.booking.check_passenger_name(turn.text)
    except BookingError as error:
        await turn.go(Step.NAMES, error_text(turn.texts, error))
        return
    await add_name(turn, name)


async def names_done(turn: Turn) -> None:
    """"Continue" under a complete list of names."""
    if not turn.flow.names_complete:
        raise StaleButton
    await turn.go(Step.SUMMARY)


async def change_names(turn: Turn) -> None:
    """"Change names": type them again from the first."""
    turn.flow.names = []
    await turn.go(Step.NAMES)


# ---- confirmation --------------------------------------------------------------------------

async def typed_on_summary(turn: Turn) -> None:
    """Text on the summary: show the summary again with its buttons below the text."""
    await turn.go(Step.SUMMARY)


async def confirm(turn: Turn) -> None:
    """Place the hold. The flow id is the request key, so a second press books nothing new."""
    flow = turn.flow
    try:
        order = await turn.services.booking.hold(
            turn.user_id, flow.trip or 0, flow.origin or "", flow.destination or "",
            flow.names, None if flow.any_seats else flow.seats or None,
            request_key=f"flow:{flow.id}",
        )
    except BookingError as error:
        step = RETRY_STEP.get(error.code, flow.step)
        if step == Step.TRIPS:
            flow.forget_from(Step.COUNT)
        elif step == Step.SEATS:
            flow.seats = []
        elif step == Step.NAMES:
            flow.names = []
        await turn.go(step, error_text(turn.texts, error))
        return
    flow.order = order.id
    notice = None
    if order.status is not OrderStatus.HELD:
        notice = error_text(turn.texts, BookingError(ErrorCode.HOLD_EXPIRED))
    await turn.go(Step.HELD, notice)


async def cancel_hold(turn: Turn) -> None:
    """Give the held seats back."""
    _ = turn.texts
    if not turn.flow.order:
        raise StaleButton
    try:
        await turn.services.booking.cancel(turn.flow.order, turn.user_id)
    except BookingError as error:
        await turn.go(Step.HELD, error_text(_, error))
        return
    await turn.go(Step.HELD, _("Your hold is cancelled."))


class StaleButton(Exception):
    """The button's data does not fit the current card: it is answered as out of date."""
