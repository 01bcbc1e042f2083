"""What the booking card shows at each step: text and buttons, built from the flow record.

Rendering asks booking/ (search, one trip, seat map) but decides nothing: it only shows.
Each card reads what it shows fresh, so a card never repeats a stale seat count or time.
"""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from booking.errors import BookingError
from booking.model import OrderStatus, Station, TripStatus
from booking.views import OrderView, TripOption
from handlers import callback_data as cb
from handlers.cards import Button, Card, Rows, button, page_line, page_of
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.flow import Flow, Step
from handlers.payments import pay_rows
from handlers.times import arrival_time
from locales import Texts

POPULAR_STATIONS = 8
TRIPS_PER_PAGE = 5
SAVED_NAMES_OFFERED = 6
NOOP = "-"


def rows_of(buttons: list[Button], width: int) -> Rows:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def station_name(context: KassaContext, code: str | None) -> str:
    station = context.services.station(code or "")
    return station.name(context.language) if station else (code or "?")


def local_today(context: KassaContext, station_code: str | None) -> date:
    """Today where the trip starts: that is the calendar passengers think in."""
    station = context.services.station(station_code or "")
    return today_at(context, station)


def today_at(context: KassaContext, station: Station | None) -> date:
    now = context.services.booking.now()
    return now.astimezone(station.tz).date() if station else now.date()


def chosen(label: str, is_chosen: bool) -> str:
    """A button's label, marked when it is the answer given before (kept after « Back)."""
    return f"✅ {label}" if is_chosen else label


def back_row(flow: Flow, _: Texts) -> list[Button]:
    return [button(_("« Back"), cb.booking(flow.id, "bk"))]


Renderer = Callable[[KassaContext, Flow], Awaitable[Card]]


async def render(context: KassaContext, flow: Flow, notice: str | None = None, *,
                 warning: bool = True) -> Card:
    """The card for the flow's current step, with an optional notice on top: marked ⚠️
    as a warning (what went wrong, what to do), or as it is (the countdown's own ⏳)."""
    card = await RENDERERS[flow.step](context, flow)
    if notice:
        return Card(f"{'⚠️ ' if warning else ''}{notice}\n\n{card.text}", card.buttons)
    return card


def station_buttons(flow: Flow, stations: list[Station], action: str, language: str,
                    current: str | None) -> Rows:
    return rows_of([button(chosen(s.name(language), s.code == current),
                           cb.booking(flow.id, action, s.code))
                    for s in stations], 2)


def known_stations(context: KassaContext, codes: list[str]) -> list[Station]:
    return [s for s in (context.services.station(c) for c in codes) if s]


async def origin_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    choices = known_stations(context, flow.choices)
    if choices:
        text = _("Which station did you mean? Tap one, or type the name again.")
        stations = choices
    elif flow.destination:  # asked for as "to Tianjin tomorrow"
        text = _("To {destination}. Where are you leaving from? Tap a station or type its "
                 "name.", destination=station_name(context, flow.destination))
        stations = context.services.stations[:POPULAR_STATIONS]
    else:
        text = _("Where are you leaving from? Tap a station or type its name.")
        stations = context.services.stations[:POPULAR_STATIONS]
    rows = station_buttons(flow, stations, "o", context.language, flow.origin)
    rows.append([button(_("✖ Cancel"), cb.booking(flow.id, "bk"))])
    return Card(text, rows)


async def destination_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    stations = known_stations(context, flow.choices)
    if stations:
        text = _("Which station did you mean? Tap one, or type the name again.")
    else:
        stations = await context.services.booking.destinations(flow.origin or "")
        text = _("From {origin}. Where to? Tap a station or type its name.",
                 origin=station_name(context, flow.origin))
    rows = station_buttons(flow, stations, "d", context.language, flow.destination)
    rows.append(back_row(flow, _))
    return Card(text, rows)


def route_title(context: KassaContext, flow: Flow) -> str:
    return f"{station_name(context, flow.origin)} → {station_name(context, flow.destination)}"


async def date_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    today = local_today(context, flow.origin)
    month = flow.month or (flow.day or today).replace(day=1)
    text = _("{route}\nWhen do you travel? Tap a day or type a date (e.g. 25.12).",
             route=route_title(context, flow))
    rows = [[button(_("Today"), cb.booking(flow.id, "D", today.isoformat())),
             button(_("Tomorrow"),
                    cb.booking(flow.id, "D", (today + timedelta(days=1)).isoformat()))]]
    last = today + timedelta(days=context.services.booking.limits().booking_horizon_days)
    rows.extend(calendar_rows(context, flow, month, today, last))
    rows.append(back_row(flow, _))
    return Card(text, rows)


def calendar_rows(context: KassaContext, flow: Flow, month: date, today: date,
                  last: date) -> Rows:
    """A month as a keyboard: title with arrows, weekday names, and the days on sale
    (today to ``last``) to press; the others are inert, and no arrow leads past them."""
    _ = context.texts
    fid = flow.id
    month = min(max(month, today.replace(day=1)), last.replace(day=1))
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month + timedelta(days=31)).replace(day=1)
    can_go_back = previous >= today.replace(day=1)
    can_go_on = following <= last
    title = [button("‹" if can_go_back else " ",
                    cb.booking(fid, "M", previous.isoformat()) if can_go_back
                    else cb.booking(fid, NOOP)),
             button(_.month(month), cb.booking(fid, NOOP)),
             button("›" if can_go_on else " ",
                    cb.booking(fid, "M", following.isoformat()) if can_go_on
                    else cb.booking(fid, NOOP))]
    names = _.locale.days["stand-alone"]["narrow"]
    rows = [title, [button(names[i], cb.booking(fid, NOOP)) for i in range(7)]]
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            if day.month != month.month or not today <= day <= last:
                row.append(button(" ", cb.booking(fid, NOOP)))
            else:
                row.append(button(chosen(str(day.day), day == flow.day),
                                  cb.booking(fid, "D", day.isoformat())))
        rows.append(row)
    return rows


def trip_line(_: Texts, option: TripOption) -> str:
    if option.status is TripStatus.CANCELLED:  # listed so that nobody waits for it
        seats = _("cancelled")
    elif option.seats_free:
        seats = _.ngettext("{n} seat left", "{n} seats left", option.seats_free)
    else:
        seats = _("sold out")
    return _("{departs} → {arrives} ({duration}) · {price} · {seats}",
             departs=_.time(option.departure),
             arrives=arrival_time(_, option.departure, option.arrival),
             duration=_.duration(option.duration), price=_.price(option.price, option.currency),
             seats=seats)


def flow_day(flow: Flow) -> date:
    if flow.day is None:
        raise ValueError("the flow has no day yet")
    return flow.day


async def trips_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    fid = flow.id
    booking = context.services.booking
    day = flow_day(flow)
    today = local_today(context, flow.origin)
    options = await booking.search(flow.origin or "", flow.destination or "", day)
    shown, page, pages = page_of(options, flow.page, TRIPS_PER_PAGE)
    lines = [_("{route}, {day}", route=route_title(context, flow), day=_.day(day, today))]
    rows: Rows = []
    for number, option in enumerate(shown, start=page * TRIPS_PER_PAGE + 1):
        lines.append(f"{number}. {trip_line(_, option)}")
        if option.seats_free:
            price = _.price(option.price, option.currency)
            label = chosen(f"{number}. {_.time(option.departure)} · {price}",
                           option.trip_id == flow.trip)
            rows.append([button(label, cb.booking(fid, "t", option.trip_id))])
    if not any(o.seats_free for o in options):
        lines.append("")
        lines.append(_("No seats on this day.") if options else _("No trips on this day."))
        nearest = await booking.nearest_days(flow.origin or "", flow.destination or "", day, 1)
        if nearest:
            lines.append(_("Nearest days with seats:"))
            rows.append([button(_.day(d, today), cb.booking(fid, "S", d.isoformat()))
                         for d in nearest])
    elif pages > 1:
        lines.append(page_line(_, page, pages))
        paging = []
        if page > 0:
            paging.append(button(_("‹ Earlier trips"), cb.booking(fid, "P", page - 1)))
        if page < pages - 1:
            paging.append(button(_("Later trips ›"), cb.booking(fid, "P", page + 1)))
        rows.append(paging)
    shift = []
    earlier, later = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
    if day > today:
        shift.append(button(_("« Earlier day"), cb.booking(fid, "S", earlier)))
    if day < today + timedelta(days=booking.limits().booking_horizon_days):
        shift.append(button(_("Later day »"), cb.booking(fid, "S", later)))
    rows.append(shift)
    rows.append(back_row(flow, _))
    lines.append("")
    # With no trip to tap, the buttons are days.
    lines.append(_("Tap a trip, or type another date.") if any(o.seats_free for o in options)
                 else _("Tap another day, or type a date."))
    return Card("\n".join(lines), rows)


async def chosen_trip(context: KassaContext, flow: Flow) -> TripOption:
    """The flow's trip as it stands now (seats free, times after a delay)."""
    if flow.trip is None:
        raise ValueError("the flow has no trip yet")
    return await context.services.booking.trip_option(
        flow.trip, flow.origin or "", flow.destination or "")


def trip_summary(_: Texts, route: str, departs: datetime, arrives: datetime,
                 today: date) -> str:
    return _("{route}\n{day}, {departs} → {arrives} ({duration})",
             route=route, day=_.day(departs.date(), today), departs=_.time(departs),
             arrives=arrival_time(_, departs, arrives), duration=_.duration(arrives - departs))


def option_summary(context: KassaContext, flow: Flow, option: TripOption) -> str:
    return trip_summary(context.texts, route_title(context, flow), option.departure,
                        option.arrival, today_at(context, option.origin))


def most_seats(context: KassaContext, option: TripOption) -> int:
    """How many passengers one booking of this trip may have now."""
    return min(context.services.booking.limits().max_seats_per_order, option.seats_free)


async def count_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    option = await chosen_trip(context, flow)
    text = _("{trip}\nHow many passengers? Tap or type a number.",
             trip=option_summary(context, flow, option))
    numbers = [button(chosen(str(n), n == flow.count), cb.booking(flow.id, "c", n))
               for n in range(1, most_seats(context, option) + 1)]
    rows = rows_of(numbers, 5)
    rows.append(back_row(flow, _))
    return Card(text, rows)


async def seats_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    fid = flow.id
    option = await chosen_trip(context, flow)
    seat_map = await context.services.booking.seat_map(
        option.trip_id, flow.origin or "", flow.destination or "")
    picked = flow.seats
    count = flow.count or 1
    rows = []
    for seat_row in seat_map.rows:
        row = []
        for cell in seat_row:
            if cell is None:
                row.append(button("┊", cb.booking(fid, NOOP)))
            elif cell.label in picked:
                row.append(button(f"✅{cell.label}", cb.booking(fid, "s", cell.label)))
            elif cell.free:
                row.append(button(cell.label, cb.booking(fid, "s", cell.label)))
            else:
                row.append(button("✖", cb.booking(fid, "s", cell.label)))
        rows.append(row)
    any_label = any_seats_label(_, count)
    rows.append([button(chosen(any_label, flow.any_seats), cb.booking(fid, "A"))])
    if flow.seats_complete:
        rows.append([button(_("Continue ›"), cb.booking(fid, "C"))])
    rows.append(back_row(flow, _))
    so_far = any_label if flow.any_seats else _.items(picked) or "—"
    text = "\n".join([
        option_summary(context, flow, option),
        _.ngettext("Pick {n} seat (✖ is taken), or tap “{any}”. You can also type seats "
                   "like 4A 4B.",
                   "Pick {n} seats (✖ is taken), or tap “{any}”. You can also type seats "
                   "like 4A 4B.", count, any=any_label),
        _("Chosen: {seats}", seats=so_far),
    ])
    return Card(text, rows)


def any_seats_label(_: Texts, count: int) -> str:
    """The "any seats" button, in the plural form of the passengers' count."""
    return _.ngettext("Any seat", "Any seats", count)


def saved_names(flow: Flow) -> list[str]:
    """Names offered as buttons: saved passengers not yet on this booking."""
    taken = {n.casefold() for n in flow.names}
    return [n for n in flow.saved if n.casefold() not in taken][:SAVED_NAMES_OFFERED]


async def names_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    option = await chosen_trip(context, flow)
    count = flow.count or 1
    lines = [option_summary(context, flow, option)]
    lines.extend(f"{i}. {name}" for i, name in enumerate(flow.names, start=1))
    rows: Rows = []
    if flow.names_complete:
        lines.append(_("Tap “Continue” to keep these names, or “Change names” to type them "
                       "again."))
        rows.append([button(_("Continue ›"), cb.booking(flow.id, "C")),
                     button(_("Change names"), cb.booking(flow.id, "N"))])
    else:
        lines.append(_("Passenger {number} of {count}: type the full name, or tap a saved one.",
                       number=len(flow.names) + 1, count=count))
        rows.extend([button(name, cb.booking(flow.id, "n", i))]
                    for i, name in enumerate(saved_names(flow)))
    rows.append(back_row(flow, _))
    return Card("\n".join(lines), rows)


def passenger_lines(flow: Flow) -> list[str]:
    if flow.any_seats or not flow.seats:
        return list(flow.names)
    return [f"{seat} — {name}" for seat, name in zip(flow.seats, flow.names, strict=False)]


async def summary_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    option = await chosen_trip(context, flow)
    count = flow.count or len(flow.names)
    lines = [_("Please check your booking:"), option_summary(context, flow, option)]
    lines.extend(passenger_lines(flow))
    if flow.any_seats or not flow.seats:
        lines.append(_.ngettext("Seat: chosen for you when you confirm",
                                "Seats: chosen for you when you confirm", count))
    lines.append(_("Total: {price} for {passengers}",
                   price=_.price(option.price * count, option.currency),
                   passengers=_.ngettext("{n} passenger", "{n} passengers", count)))
    rows = [[button(_("✅ Confirm"), cb.booking(flow.id, "y"))], back_row(flow, _)]
    return Card("\n".join(lines), rows)


async def held_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    try:
        view = await context.services.booking.order(flow.order or "")
    except BookingError as error:
        return Card(error_text(_, error), [])
    route = (f"{view.origin.name(context.language)} → "
             f"{view.destination.name(context.language)}")
    lines = [trip_summary(_, route, view.departure, view.arrival,
                          today_at(context, view.origin))]
    lines.extend(f"{s.seat} — {s.passenger}" for s in view.seats)
    lines.append(_("Total: {price}", price=_.price(view.amount, view.currency)))
    if view.status is OrderStatus.HELD and view.expires_at is not None:
        expires = view.expires_at.astimezone(view.origin.tz)
        lines.insert(0, _.ngettext("✅ Your seat is held until {time} ({station} time).",
                                   "✅ Your seats are held until {time} ({station} time).",
                                   len(view.seats), time=_.time(expires),
                                   station=view.origin.name(context.language)))
        lines.append(_.ngettext("Pay before then to get your ticket.",
                                "Pay before then to get your tickets.", len(view.seats)))
        rows = await pay_rows(context.services, _, view)
        rows.append([button(_("Cancel this hold"), cb.booking(flow.id, "x"))])
    else:
        # A sentence of its own: "This booking is expired" is not English.
        lines.insert(0, _("This booking has expired.") if view.status is OrderStatus.EXPIRED
                     else _("This booking is {status}.", status=status_text(_, view.status)))
        rows = [again_row(_, view, context.services.booking.now())]
    rows.append([button(_("🎫 My tickets"), cb.menu("tickets")),
                 button(_("🚌 Book another trip"), cb.menu("book"))])
    return Card("\n".join(lines), [row for row in rows if row])


def again_row(_: Texts, view: OrderView, now: datetime) -> list[Button]:
    """For a hold that ran out before its trip leaves: the same trip again, with the same
    passengers' names, at the seat map (their seats may have gone meanwhile)."""
    if view.status is not OrderStatus.EXPIRED or view.departure <= now:
        return []
    return [button(_("🔁 Same trip again"), cb.alternative(view.id, view.trip_id))]


def status_text(_: Texts, status: OrderStatus) -> str:
    names = {
        OrderStatus.HELD: _("on hold"),
        OrderStatus.PAID: _("paid"),
        OrderStatus.EXPIRED: _("expired"),
        OrderStatus.CANCELLED: _("cancelled"),
        OrderStatus.REFUNDED: _("refunded"),
        OrderStatus.USED: _("used"),
    }
    return names[status]


RENDERERS: dict[Step, Renderer] = {
    Step.ORIGIN: origin_card, Step.DESTINATION: destination_card, Step.DATE: date_card,
    Step.TRIPS: trips_card, Step.COUNT: count_card, Step.SEATS: seats_card,
    Step.NAMES: names_card, Step.SUMMARY: summary_card, Step.HELD: held_card,
}
