"""The booking conversation's steps: one coroutine per answer a passenger gives.

Thin: every choice is checked by booking/ (search, seat map, hold); a step only records the
answer in the flow and moves to the next step. Changing an earlier answer forgets the later
ones that depended on it; going back keeps them as defaults.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from functools import cache

from telegram import Update

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus, Station
from handlers import callback_data as cb
from handlers.booking_cards import (
    any_seats_label,
    chosen_trip,
    held_card,
    local_today,
    most_seats,
    route_title,
    saved_names,
    today_at,
)
from handlers.cards import Card, button, drop_buttons, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.flow import PREVIOUS, Flow, Step, save_flow
from handlers.menu import menu_card
from handlers.parsing import (
    Place,
    TripRequest,
    no_such_day,
    parse_count,
    parse_date,
    parse_date_alone,
    parse_trip_request,
    plain,
    seat_labels,
)
from handlers.turn import Turn
from locales import LANGUAGES, Texts, texts

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
                            "любое место", "все равно", "всё равно", "任意", "随便",
                            "任意座位"})
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


def read_trip_request(context: KassaContext, text: str) -> TripRequest | None:
    """A trip request in ``text``, its words for days ("tomorrow") counted from today where
    the trip starts, which is not the server's day everywhere."""
    index = context.services.station_index
    today = context.services.booking.now().date()
    month_first = writes_month_first(context.language)
    request = parse_trip_request(text, index, today, month_first=month_first)
    origin = request.origin.station if request and request.origin else None
    if origin is not None and today_at(context, origin) != today:
        request = parse_trip_request(text, index, today_at(context, origin),
                                     month_first=month_first)
    return request


def writes_month_first(language: str) -> bool:
    """Whether people of this language write 1/2 for the 2nd of January (Chinese)."""
    return language.startswith("zh")


def active(flow: Flow | None) -> Flow | None:
    """The booking the person is making right now (not left for the menu, not held)."""
    return flow if flow is not None and flow.in_progress and not flow.paused else None


async def trip_request(update: Update, context: KassaContext, current: Flow | None,
                       request: TripRequest) -> None:
    """A trip asked for in one line ("Beijing to Tianjin tomorrow 2 seats"), or a part of
    one ("to Tianjin tomorrow") that completes the booking in progress.

    A request that cannot be a trip (a station nobody knows, the same station twice, no
    trips between the two) says why: on the booking in progress, which stays as it was, or
    on a new booking at the step to answer again.
    """
    _ = context.texts
    making = active(current)
    origin = request.origin or here(context, making.origin if making else None)
    destination = request.destination or here(context, making.destination if making else None)
    problem = await refusal(context, origin, destination)
    if problem is not None and making is not None:
        await Turn(update, context, making).go(making.step, problem)
        return
    chat = update.effective_chat
    if current is not None and chat is not None:
        await drop_buttons(context, chat.id, current.card)
    turn = Turn(update, context, Flow.new())
    flow = turn.flow
    # 0: a count was asked for that no booking can have, said once the trip is chosen.
    flow.want = 0 if request.unreadable_count else request.passengers
    flow.origin = origin.station.code if origin and origin.station else None
    flow.destination = destination.station.code if destination and destination.station else None
    notices = [replaced(context, current)]
    if problem is not None:
        notices.append(problem)
        if flow.origin and flow.destination:  # a pair that cannot be: ask where to again
            flow.destination = None
    if flow.origin is None and origin and len(origin.stations) > 1:
        flow.choices = [s.code for s in origin.stations]
    elif flow.destination is None and destination and len(destination.stations) > 1:
        flow.choices = [s.code for s in destination.stations]
    today = local_today(context, flow.origin)
    if request.unreadable_day:  # a day and month that do not exist: nothing else is read so
        notices.append(_("There is no such day in the calendar. Try 25.12 or “tomorrow”."))
    elif request.day is not None and request.day < today:
        notices.append(error_text(_, BookingError(ErrorCode.PAST_DATE)))
    else:
        flow.day = request.day
    await turn.go(flow.next_step(), "\n".join(n for n in notices if n) or None)


def here(context: KassaContext, code: str | None) -> Place | None:
    """A station of the booking in progress, as if it had been written in the request."""
    station = context.services.station(code or "")
    return Place(station.name(context.language), (station,)) if station else None


async def refusal(context: KassaContext, origin: Place | None,
                  destination: Place | None) -> str | None:
    """Why these two places cannot make a trip, or None if they may."""
    _ = context.texts
    for place in (origin, destination):
        if place is not None and not place.stations:
            return _("I don't know a station called “{name}”.", name=place.text[:40])
    start = origin.station if origin else None
    end = destination.station if destination else None
    if start is None or end is None:
        return None
    if start.code == end.code:
        return error_text(_, BookingError(ErrorCode.SAME_STATION))
    reachable = {s.code for s in await context.services.booking.destinations(start.code)}
    if end.code not in reachable:
        return _("No trips go from {origin} to {destination}.",
                 origin=start.name(context.language), destination=end.name(context.language))
    return None


def replaced(context: KassaContext, flow: Flow | None) -> str | None:
    """What to say when a new booking replaces one that had got as far as a trip."""
    _ = context.texts
    if flow is None or not flow.in_progress or flow.trip is None:
        return None
    return _("Your booking {route} was stopped; here is the new one.",
             route=route_title(context, flow))


# ---- stations ------------------------------------------------------------------------------

def pressed_station(turn: Turn) -> str:
    """The station a pressed button names; a code we do not know makes the button stale."""
    station = turn.services.station(turn.argument)
    if station is None:
        raise StaleButton
    return station.code


async def pick_origin(turn: Turn) -> None:
    """Origin chosen by button."""
    await choose_origin(turn, pressed_station(turn))


async def choose_origin(turn: Turn, code: str) -> None:
    flow = turn.flow
    flow.choices = []
    answered = flow.origin is not None
    if code != flow.origin:
        flow.origin = code
        if answered:
            flow.forget_from(Step.DESTINATION)
    if answered or flow.destination is None:
        await turn.go(Step.DESTINATION)
        return
    # The destination came with a one-line request ("to Tianjin tomorrow"): it stays if
    # trips go there from here, and the steps it answered are skipped.
    problem = await refusal(turn.context, here(turn.context, code),
                            here(turn.context, flow.destination))
    if problem is not None:
        flow.forget_from(Step.DESTINATION)
    await turn.go(flow.next_step(), problem)


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
    await choose_destination(turn, pressed_station(turn))


async def choose_destination(turn: Turn, code: str) -> None:
    flow = turn.flow
    flow.choices = []
    answered = flow.destination is not None
    if code != flow.destination:
        flow.destination = code
        if answered:
            flow.forget_from(Step.DATE)
    # A day that came with a one-line request is kept and its step skipped.
    await turn.go(Step.TRIPS if not answered and flow.day else Step.DATE)


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
    """A date typed on the date or trips step: 25.12, 2026-12-25, tomorrow, завтра, 明天;
    a day gone by (вчера, 昨天, 01.01.2020) is answered as one."""
    _ = turn.texts
    today = local_today(turn.context, turn.flow.origin)
    month_first = writes_month_first(_.language)
    day = parse_date(turn.text, today, month_first=month_first)
    if day is None:
        await turn.go(turn.flow.step,
                      _("There is no such day in the calendar. Try 25.12 or “tomorrow”.")
                      if no_such_day(turn.text, today, month_first=month_first)
                      else _("I couldn't read that date. Try 25.12 or “tomorrow”."))
        return
    if day < today:
        await turn.go(turn.flow.step, error_text(_, BookingError(ErrorCode.PAST_DATE)))
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
        flow.forget_from(Step.SEATS)  # seats are the trip's; the party stays as it was
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
    most = most_seats(turn.context, option)
    if flow.count is not None and flow.count > most:
        flow.count = None  # more passengers than this trip has seats: ask again
    wanted = flow.want
    notice = None
    if flow.count is None and wanted is not None:
        if 0 < wanted <= most:
            flow.count = wanted
        else:  # "10 seats" on a trip that sells 9 a booking, "0 seats": asked again, why
            notice = count_range(_, most)
    await turn.go(Step.SEATS if flow.count else Step.COUNT, notice)


# ---- passengers and seats ------------------------------------------------------------------

async def pick_count(turn: Turn) -> None:
    """Number of passengers pressed."""
    if turn.number is None:
        raise StaleButton
    await choose_count(turn, turn.number)


async def typed_count(turn: Turn) -> None:
    """Number of passengers typed: "2", "２", "two", "два", "两"."""
    _ = turn.texts
    count = parse_count(turn.text)
    if count is None:
        await turn.go(Step.COUNT, _("Please type a number, like 2."))
        return
    await choose_count(turn, count)


def count_range(_: Texts, most: int) -> str:
    """How many passengers one booking on this trip may have (``most``: 1 when one seat is
    left, where "from 1 to 1" would read oddly)."""
    if most == 1:
        return _("Only one seat can be booked here.")
    return _.ngettext("You can book from 1 to {n} seat here.",
                      "You can book from 1 to {n} seats here.", most)


async def choose_count(turn: Turn, count: int) -> None:
    _ = turn.texts
    flow = turn.flow
    most = most_seats(turn.context, await chosen_trip(turn.context, flow))
    if not 1 <= count <= most:
        await turn.go(Step.COUNT, count_range(_, most))
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
    """Seats typed like "4A 4B" (in any script that looks the same: "4а"), or "any seats"
    typed instead of tapped. The typed seats are the choice, replacing taps before."""
    _ = turn.texts
    text = " ".join(plain(turn.text).casefold().split())
    count = turn.flow.count or 1
    if text in ANY_SEAT_WORDS or text == any_seats_label(_, count).casefold():
        await take_any_seats(turn)
        return
    labels = list(dict.fromkeys(seat_labels(turn.text)[:TYPED_SEATS_READ]))
    if not labels:  # "tomorrow", a name typed a step early: nothing that is a seat
        flow = turn.flow
        seat_map = await turn.services.booking.seat_map(
            flow.trip or 0, flow.origin or "", flow.destination or "")
        example = seat_map.free[0] if seat_map.free else "1A"  # row by row: the front
        await turn.go(Step.SEATS, _("Tap seats on the map, or type their labels, like "
                                    "{seat}.", seat=example))
        return
    if len(labels) > count:
        await turn.go(Step.SEATS, _.ngettext(
            "You are booking for {n} passenger: please type {n} seat.",
            "You are booking for {n} passengers: please type {n} seats.", count))
        return
    await choose_seats(turn, labels, typed=True)


async def choose_seats(turn: Turn, labels: list[str], *, typed: bool = False) -> None:
    """Seats tapped (each picks or un-picks one) or typed (the whole choice), checked
    against the seat map; a seat that is no seat, or taken, is named."""
    _ = turn.texts
    flow = turn.flow
    seat_map = await turn.services.booking.seat_map(
        flow.trip or 0, flow.origin or "", flow.destination or "")
    free = set(seat_map.free)
    chosen = [] if typed else list(flow.seats)
    for label in labels:
        if label not in seat_map.labels:
            notice = _("There is no seat {seat} on this coach.", seat=label[:5])
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
        elif (flow.count or 1) == 1:  # one passenger: the new seat instead of the old
            chosen = [label]
        else:  # every passenger has a seat: which one to give up is the passenger's to say
            notice = _("You have chosen {n} seats already: tap one of them to free it "
                       "first.", n=flow.count)
            await turn.answer(notice, alert=True)
            await turn.go(Step.SEATS, notice)
            return
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
    """The names step, offering the customer's saved passengers and their own name (only
    those a ticket may carry: a Telegram name with an emoji is not offered)."""
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
    _ = turn.texts
    if turn.flow.names_complete:
        turn.flow.names = []
    try:
        name = turn.services.booking.check_passenger_name(turn.text)
    except BookingError as error:
        await turn.go(Step.NAMES, error_text(_, error))
        return
    # A day ("tomorrow"), the seat step's words typed a step late, the summary's "yes"
    # typed a step early, or a lone letter are no one's name: printed on a ticket, they
    # would not get anyone on board.
    words = " ".join(plain(turn.text).casefold().split())
    if (words in ANY_SEAT_WORDS or typed_word(turn.text) in confirm_words()
            or sum(c.isalpha() for c in words) < 2
            or parse_date_alone(turn.text, local_today(turn.context, turn.flow.origin))
            is not None):
        await turn.go(Step.NAMES, _("That is not a name. Type the passenger's full name as "
                                    "on their ID."))
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
    """Text on the summary: the Confirm button's word or a "yes", in any of the bot's
    languages, confirms; anything else shows it again, below the text, with what to do."""
    _ = turn.texts
    if typed_word(turn.text) in confirm_words():
        await confirm(turn)
        return
    await turn.go(Step.SUMMARY, _("Tap ✅ Confirm to hold the seats, or « Back to change "
                                  "something."))


@cache
def confirm_words() -> frozenset[str]:
    """What may be typed for ✅ Confirm: the button's word ("confirm", "确认",
    "подтвердить") and the language's "yes", in every language, since a person may type in
    another language than the bot's (a Russian speaker's "да" in an English chat)."""
    words = set()
    for language in LANGUAGES:
        _ = texts(language)
        words |= {typed_word(_("✅ Confirm")), typed_word(_("yes"))}
    return frozenset(words - {""})


def typed_word(text: str) -> str:
    """Text as compared with a button's word: trimmed, in one case, without the emoji and
    other symbols a label carries ("✅ Confirm" is "confirm"); punctuation stays ("yes?" is
    a question, not a yes)."""
    kept = "".join(c for c in plain(text) if not unicodedata.category(c).startswith("S"))
    return " ".join(kept.casefold().split())


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
            flow.forget_from(Step.TRIPS)
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
    """"Cancel this hold", under the Pay link: asked first, as /mytickets asks, since the
    seats may be gone for good once given back; "yes" gives them back, "no" shows the
    held card again."""
    _ = turn.texts
    if not turn.flow.order:
        raise StaleButton
    if turn.argument == "n":
        await turn.go(Step.HELD)
        return
    if turn.argument != "y":
        try:
            view = await turn.services.booking.order(turn.flow.order, turn.user_id)
        except BookingError as error:
            await turn.go(Step.HELD, error_text(_, error))
            return
        # Paid, run out or cancelled meanwhile: nothing to ask; the refusal below says which.
        if view.status is OrderStatus.HELD and view.expires_at is not None:
            card = await held_card(turn.context, turn.flow)
            question = _.ngettext("Cancel this hold? The seat will be released.",
                                  "Cancel this hold? The seats will be released.",
                                  len(view.seats))
            await turn.show(Card(f"{card.text}\n\n{question}", [[
                button(_("Yes, cancel it"), cb.booking(turn.flow.id, "x", "y")),
                button(_("No, keep it"), cb.booking(turn.flow.id, "x", "n"))]]))
            return
    try:
        await turn.services.booking.cancel(turn.flow.order, turn.user_id, hold_only=True)
    except BookingError as error:
        await turn.go(Step.HELD, error_text(_, error))
        return
    await turn.go(Step.HELD, _("Your hold is cancelled."))


class StaleButton(Exception):
    """The button's data does not fit the current card: it is answered as out of date."""
