"""The trip picker staff commands share: day -> route -> trip, so no id is ever typed.

A command starts it with ``ask_trip(update, context, purpose)``; the tapped trip goes to the
action registered for the purpose (``register_trip_action``, from handlers/registry.py).
Every step asks the booking service afresh and checks the role again, so an old picker card
shows today's trips and a passenger who got hold of one is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any

from telegram import Update

from booking import limits
from booking.errors import BookingError
from booking.model import TripStatus
from booking.staff_console import TripSummary
from handlers import callback_data as cb
from handlers.cards import Button, Card, answer_query, button, page_line, page_of, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.parsing import no_such_day, parse_date_alone
from handlers.staff import PassOn, close_step, current_step, open_step, staff_only
from handlers.times import moved_time, scheduled
from locales import Texts

TripAction = Callable[[Update, KassaContext, int], Awaitable[None]]

DAYS_SHOWN = 7
PER_PAGE = 8  # buttons per card: a day of a national timetable has hundreds of routes


@dataclass(frozen=True)
class _Purpose:
    title: str  # a message id, translated when shown
    action: TripAction


_PURPOSES: dict[str, _Purpose] = {}


def register_trip_action(purpose: str, title: str, action: TripAction) -> None:
    """Send the trip picked for ``purpose`` to ``action``; ``title`` heads the picker's card
    (a message id marked with N_, translated when shown)."""
    # Fails now, not on a tap, if the purpose is too long for the longest button.
    cb.staff_trip(purpose, limits.MAX_INT32, "20000101", 999)
    _PURPOSES[purpose] = _Purpose(title, action)


def staff_today(context: KassaContext) -> date:
    """Today at the operator's busiest station, the day staff mean by "today"."""
    now = context.services.booking.now()
    stations = context.services.stations
    return now.astimezone(stations[0].tz).date() if stations else now.astimezone(UTC).date()


# The step open while a week's days are shown, for a day typed instead of tapped.
PICK_DAY = "pick_day"

# Half a year: a day and month typed without a year is the one nearest today.
_HALF_YEAR = timedelta(days=182)


def staff_date(typed: str, today: date) -> date | None:
    """The day staff mean by what they typed: as a passenger's, except that a day and month
    without a year is the nearest one, back as well as ahead ("4.12" typed on 5 December is
    yesterday's trips, not next year's): staff look back at trips as much as ahead."""
    day = parse_date_alone(typed, today)
    if day is not None and day - today > _HALF_YEAR:
        day = parse_date_alone(typed, today - _HALF_YEAR)
    return day


async def ask_trip(update: Update, context: KassaContext, purpose: str) -> None:
    """Start picking a trip for ``purpose`` with this week's days."""
    await _show_week(update, context, purpose, staff_today(context))


async def ask_trip_on_typed_day(update: Update, context: KassaContext, purpose: str) -> None:
    """Start picking a trip for ``purpose``: on the day typed after the command ("/trips
    24.12", "/manifest tomorrow", in any language the booking dialogue reads), else from
    this week's days."""
    typed = " ".join(context.args or []).strip()
    if not typed:
        await ask_trip(update, context, purpose)
        return
    today = staff_today(context)
    day = staff_date(typed, today)
    if day is None:
        _ = context.texts
        await show(update, context, Card(_(
            "There is no such day in the calendar. Try 2026-12-24, 24.12 or tomorrow after "
            "the command.") if no_such_day(typed, today) else _(
            "I could not read that date. Try 2026-12-24, 24.12 or tomorrow after the "
            "command."), []), edit=False)
        return
    await _show_routes(update, context, purpose, day, 0)


async def on_pick(update: Update, context: KassaContext) -> None:
    """A picker button: the next level of the choice, or the chosen trip's action."""
    query = update.callback_query
    pick = cb.parse_staff_pick(query.data if query else None)
    purpose = _PURPOSES.get(pick.purpose) if pick else None
    if pick is None or purpose is None:
        await answer_query(update, context.texts("This button is out of date."))
        return
    if not await staff_only(update, context):
        return
    if (current_step(context) or {}).get("purpose") == PICK_DAY:
        close_step(context)  # tapped rather than typed: the week's question is answered
    if pick.level == "t":
        await answer_query(update)
        await purpose.action(update, context, pick.number)
        return
    day = _parse_day(pick.day)
    if day is None:
        await answer_query(update, context.texts("This button is out of date."))
        return
    await answer_query(update)
    if pick.level == "w":
        await _show_week(update, context, pick.purpose, day)
    elif pick.level == "d":
        await _show_routes(update, context, pick.purpose, day, pick.page)
    else:
        await _show_trips(update, context, pick.purpose, day, pick.number, pick.page)


def _parse_day(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def _title(_: Texts, purpose: str) -> str:
    return _(_PURPOSES[purpose].title)


async def _show_week(update: Update, context: KassaContext, purpose: str, first: date) -> None:
    _ = context.texts
    today = staff_today(context)
    rows = [[button(_("Today") if day == today else _.day(day, today),
                    cb.staff_day(purpose, _day_key(day)))]
            for day in (first + timedelta(days=n) for n in range(DAYS_SHOWN))]
    rows.append([
        button(_("◀ Earlier"), cb.staff_week(purpose, _day_key(first - timedelta(DAYS_SHOWN)))),
        button(_("Later ▶"), cb.staff_week(purpose, _day_key(first + timedelta(DAYS_SHOWN)))),
    ])
    question = _("Which day?")
    await show(update, context, Card(f"{_title(_, purpose)}\n{question}", rows))
    # A day may be typed instead of tapped, as after the command (day_typed).
    open_step(context, PICK_DAY, picking=purpose)


async def day_typed(update: Update, context: KassaContext, typed: str) -> None:
    """A day typed while the week's days are shown ("завтра", "24.12"): that day's routes.
    Anything else is not an answer to "Which day?" and goes on (PassOn)."""
    step = close_step(context) or {}
    purpose = str(step.get("picking", ""))
    day = staff_date(typed, staff_today(context))
    if day is None or purpose not in _PURPOSES:
        raise PassOn
    await _show_routes(update, context, purpose, day, 0)


async def _day_trips(update: Update, context: KassaContext, day: date) -> list[TripSummary]:
    user = update.effective_user
    if user is None:
        return []
    return await context.services.console.day_trips(user.id, day)


async def _show_routes(update: Update, context: KassaContext, purpose: str, day: date,
                       page: int) -> None:
    _ = context.texts
    today = staff_today(context)
    try:
        trips = await _day_trips(update, context, day)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []))
        return
    back = button(_("◀ Days"), cb.staff_week(purpose, _day_key(day)))
    if not trips:
        none = _("No trips run on {day}.", day=_.day(day, today))
        await show(update, context, Card(f"{_title(_, purpose)}\n{none}", [[back]]))
        return
    by_route = sorted(
        ((route_id, list(runs)) for route_id, runs in
         groupby(sorted(trips, key=lambda t: t.route_id), key=lambda t: t.route_id)),
        key=lambda item: (min(map(_timetabled, item[1])), item[0]))
    shown, page, pages = page_of(by_route, page, PER_PAGE)
    rows = [[button(f"{_route_label(_, runs[0])} · {len(runs)}",
                    cb.staff_route(purpose, _day_key(day), route_id))]
            for route_id, runs in shown]
    rows.append([*_pager(_, page, pages, lambda p: cb.staff_day(purpose, _day_key(day), p)),
                 back])
    text = _("{day}: which route?", day=_.day(day, today)) + _page_line(_, page, pages)
    await show(update, context, Card(f"{_title(_, purpose)}\n{text}", rows))


async def _show_trips(update: Update, context: KassaContext, purpose: str, day: date,
                      route_id: int, page: int) -> None:
    _ = context.texts
    today = staff_today(context)
    try:
        trips = sorted((t for t in await _day_trips(update, context, day)
                        if t.route_id == route_id), key=_timetabled)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []))
        return
    back = button(_("◀ Routes"), cb.staff_day(purpose, _day_key(day)))
    if not trips:
        none = _("No trips run on {day}.", day=_.day(day, today))
        await show(update, context, Card(f"{_title(_, purpose)}\n{none}", [[back]]))
        return
    shown, page, pages = page_of(trips, page, PER_PAGE)
    rows = [[button(trip_label(_, trip),
                    cb.staff_trip(purpose, trip.trip_id, _day_key(day), page))]
            for trip in shown]
    rows.append([*_pager(_, page, pages,
                         lambda p: cb.staff_route(purpose, _day_key(day), route_id, p)), back])
    text = _("{day}, {route}: which trip?", day=_.day(day, today),
             route=_route_label(_, trips[0])) + _page_line(_, page, pages)
    await show(update, context, Card(f"{_title(_, purpose)}\n{text}", rows))


def _timetabled(trip: TripSummary) -> datetime:
    """Where a trip stands in the lists: its timetable's departure, so that a delay does
    not move it (or its route) down them."""
    return scheduled(trip.departure, trip.delay_minutes)


def _route_label(_: Texts, trip: TripSummary) -> str:
    return f"{trip.origin.name(_.language)} → {trip.destination.name(_.language)}"


def trip_label(_: Texts, trip: TripSummary) -> str:
    """A trip in one line: departure, load and status, e.g. "08:15 · 12/49 · +20 min"."""
    departs = moved_time(_, _timetabled(trip), trip.departure)
    label = f"{departs} · {trip.sold}/{trip.seats}"
    return f"{label} · {status_word(_, trip)}" if trip.status is not TripStatus.SCHEDULED \
        or trip.delay_minutes else label


def status_word(_: Texts, trip: TripSummary) -> str:
    if trip.status is TripStatus.CANCELLED:
        return _("cancelled")
    if trip.delay_minutes:
        return _("+{minutes} min", minutes=trip.delay_minutes)
    return _("on time")


def back_to_trips(update: Update, _: Texts, purpose: str, trip: TripSummary) -> Button:
    """« Back from a picked trip's card to the page of its route's trips it was picked from
    (a button from before the page was kept goes to the first page of the trip's day)."""
    query = update.callback_query
    pick = cb.parse_staff_pick(query.data if query else None)
    if pick is not None and pick.level == "t" and pick.day:
        day, page = pick.day, pick.page
    else:
        day, page = _day_key(trip.departure.date()), 0
    return button(_("« Back"), cb.staff_route(purpose, day, trip.route_id, page))


def _pager(_: Texts, page: int, pages: int, data: Callable[[int], str]) -> list[Any]:
    row = []
    if page > 0:
        row.append(button(_("◀ Previous"), data(page - 1)))
    if page < pages - 1:
        row.append(button(_("Next ▶"), data(page + 1)))
    return row


def _page_line(_: Texts, page: int, pages: int) -> str:
    """Where the pager is, on a line of its own, when there is more than one page."""
    return "\n" + page_line(_, page, pages) if pages > 1 else ""
