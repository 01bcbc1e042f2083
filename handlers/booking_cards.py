"""What the booking card shows at each step: text and buttons, built from the flow record.

Rendering reads from booking/ (search, seat map) but decides nothing: it only shows.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from telegram import InlineKeyboardButton

from booking.errors import BookingError
from booking.model import Station
from booking.views import TripOption
from handlers import callback_data as cb
from handlers.cards import Card, button
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.flow import (
    COUNT,
    DATE,
    DESTINATION,
    HELD,
    NAMES,
    ORIGIN,
    SEATS,
    SUMMARY,
    TRIPS,
    Flow,
    flow_day,
)
from locales import Texts

POPULAR_STATIONS = 8
TRIPS_PER_PAGE = 5
NEAREST_DAYS_SEARCHED = 7
NEAREST_DAYS_OFFERED = 3
NOOP = "-"


def rows_of(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def station_name(context: KassaContext, code: str | None) -> str:
    station = context.services.station(code or "")
    return station.name(context.language) if station else (code or "?")


def local_today(context: KassaContext, station_code: str) -> date:
    """Today where the trip starts: that is the calendar passengers think in."""
    station = context.services.station(station_code)
    now = context.services.booking.now()
    return now.astimezone(station.tz).date() if station else now.date()


def back_row(flow: Flow, _: Texts) -> list[InlineKeyboardButton]:
    return [button(_("« Back"), cb.booking(flow["id"], "bk"))]


async def render(context: KassaContext, flow: Flow, notice: str | None = None) -> Card:
    """The card for the flow's current state, with an optional notice on top."""
    renderers = {
        ORIGIN: origin_card, DESTINATION: destination_card, DATE: date_card, TRIPS: trips_card,
        COUNT: count_card, SEATS: seats_card, NAMES: names_card, SUMMARY: summary_card,
        HELD: held_card,
    }
    card = await renderers[flow["state"]](context, flow)
    if notice:
        return Card(f"⚠️ {notice}\n\n{card.text}", card.buttons)
    return card


def station_buttons(flow: Flow, stations: list[Station], action: str,
                    language: str) -> list[list[InlineKeyboardButton]]:
    return rows_of([button(s.name(language), cb.booking(flow["id"], action, s.code))
                    for s in stations], 2)


async def origin_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    services = context.services
    choices = [s for s in (services.station(c) for c in flow.get("choices", [])) if s]
    if choices:
        text = _("Which station did you mean? Tap one, or type the name again.")
        stations = choices
    else:
        text = _("Where are you leaving from? Tap a station or type its name.")
        stations = services.stations[:POPULAR_STATIONS]
    rows = station_buttons(flow, stations, "o", context.language)
    rows.append([button(_("✖ Cancel"), cb.booking(flow["id"], "bk"))])
    return Card(text, rows)


async def destination_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    codes = flow.get("choices") or []
    if codes:
        stations = [s for s in (context.services.station(c) for c in codes) if s]
        text = _("Which station did you mean? Tap one, or type the name again.")
    else:
        stations = await context.services.booking.destinations(flow["origin"])
        text = _("From {origin}. Where to? Tap a station or type its name.",
                 origin=station_name(context, flow["origin"]))
    rows = station_buttons(flow, stations, "d", context.language)
    rows.append(back_row(flow, _))
    return Card(text, rows)


def route_title(context: KassaContext, flow: Flow) -> str:
    return f"{station_name(context, flow['origin'])} → {station_name(context, flow['destination'])}"


async def date_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    today = local_today(context, flow["origin"])
    month = date.fromisoformat(flow["month"]) if flow.get("month") else today.replace(day=1)
    fid = flow["id"]
    text = _("{route}\nWhen do you travel? Tap a day or type a date (e.g. 25.12).",
             route=route_title(context, flow))
    rows = [[button(_("Today"), cb.booking(fid, "D", today.isoformat())),
             button(_("Tomorrow"), cb.booking(fid, "D", (today + timedelta(days=1)).isoformat()))]]
    rows.extend(calendar_rows(context, flow, month, today))
    rows.append(back_row(flow, _))
    return Card(text, rows)


def calendar_rows(context: KassaContext, flow: Flow, month: date,
                  today: date) -> list[list[InlineKeyboardButton]]:
    """A month as a keyboard: title with arrows, weekday names, days (past ones inert)."""
    _ = context.texts
    fid = flow["id"]
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month + timedelta(days=31)).replace(day=1)
    title = [button("‹" if previous >= today.replace(day=1) else " ",
                    cb.booking(fid, "M", previous.isoformat()) if previous >= today.replace(day=1)
                    else cb.booking(fid, NOOP)),
             button(_.month(month), cb.booking(fid, NOOP)),
             button("›", cb.booking(fid, "M", following.isoformat()))]
    names = _.locale.days["stand-alone"]["narrow"]
    rows = [title, [button(names[i], cb.booking(fid, NOOP)) for i in range(7)]]
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            if day.month != month.month or day < today:
                row.append(button(" ", cb.booking(fid, NOOP)))
            else:
                row.append(button(str(day.day), cb.booking(fid, "D", day.isoformat())))
        rows.append(row)
    return rows


async def search_day(context: KassaContext, flow: Flow, day: date) -> list[TripOption]:
    return await context.services.booking.search(flow["origin"], flow["destination"], day)


async def nearest_days_with_seats(context: KassaContext, flow: Flow, day: date,
                                  seats: int) -> list[date]:
    """The closest days (before or after ``day``) that still have a trip with enough seats."""
    today = local_today(context, flow["origin"])
    found: list[date] = []
    for distance in range(1, NEAREST_DAYS_SEARCHED + 1):
        for candidate in (day - timedelta(days=distance), day + timedelta(days=distance)):
            if candidate < today:
                continue
            try:
                options = await search_day(context, flow, candidate)
            except BookingError:
                continue
            if any(o.seats_free >= seats for o in options):
                found.append(candidate)
        if len(found) >= NEAREST_DAYS_OFFERED:
            break
    return sorted(found[:NEAREST_DAYS_OFFERED])


def trip_line(_: Texts, option: TripOption) -> str:
    seats = (_.ngettext("{n} seat left", "{n} seats left", option.seats_free)
             if option.seats_free else _("sold out"))
    return _("{departs} → {arrives} ({duration}) · {price} · {seats}",
             departs=_.time(option.departure), arrives=_.time(option.arrival),
             duration=_.duration(option.duration), price=_.price(option.price, option.currency),
             seats=seats)


async def trips_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    fid = flow["id"]
    day = flow_day(flow)
    options = await search_day(context, flow, day)
    page = int(flow.get("page", 0))
    pages = max(1, -(-len(options) // TRIPS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = options[page * TRIPS_PER_PAGE:(page + 1) * TRIPS_PER_PAGE]
    lines = [f"{route_title(context, flow)}, {_.day(day)}"]
    rows: list[list[InlineKeyboardButton]] = []
    for number, option in enumerate(shown, start=page * TRIPS_PER_PAGE + 1):
        lines.append(f"{number}. {trip_line(_, option)}")
        if option.seats_free:
            price = _.price(option.price, option.currency)
            label = f"{number}. {_.time(option.departure)} · {price}"
            rows.append([button(label, cb.booking(fid, "t", option.trip_id))])
    if not any(o.seats_free for o in options):
        lines.append("")
        lines.append(_("No seats on this day.") if options else _("No trips on this day."))
        nearest = await nearest_days_with_seats(context, flow, day, 1)
        if nearest:
            lines.append(_("Nearest days with seats:"))
            rows.append([button(_.day(d), cb.booking(fid, "S", d.isoformat())) for d in nearest])
    elif pages > 1:
        lines.append(_("Page {page} of {pages}", page=page + 1, pages=pages))
        paging = []
        if page > 0:
            paging.append(button(_("‹ Earlier trips"), cb.booking(fid, "P", page - 1)))
        if page < pages - 1:
            paging.append(button(_("Later trips ›"), cb.booking(fid, "P", page + 1)))
        rows.append(paging)
    today = local_today(context, flow["origin"])
    shift = []
    earlier, later = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
    if day > today:
        shift.append(button(_("« Earlier day"), cb.booking(fid, "S", earlier)))
    shift.append(button(_("Later day »"), cb.booking(fid, "S", later)))
    rows.append(shift)
    rows.append(back_row(flow, _))
    lines.append("")
    lines.append(_("Tap a trip, or type another date."))
    return Card("\n".join(lines), rows)


def trip_summary(context: KassaContext, flow: Flow) -> str:
    _ = context.texts
    info = flow["trip_info"]
    departs = datetime.fromisoformat(info["dep"])
    arrives = datetime.fromisoformat(info["arr"])
    return _("{route}\n{day}, {departs} → {arrives} ({duration})",
             route=route_title(context, flow), day=_.day(departs.date()),
             departs=_.time(departs), arrives=_.time(arrives),
             duration=_.duration(arrives - departs))


async def count_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    most = min(context.services.booking.rules.max_seats_per_order, int(flow["trip_info"]["free"]))
    text = _("{trip}\nHow many passengers? Tap or type a number.",
             trip=trip_summary(context, flow))
    numbers = [button(str(n), cb.booking(flow["id"], "c", n)) for n in range(1, most + 1)]
    rows = rows_of(numbers, 5)
    rows.append(back_row(flow, _))
    return Card(text, rows)


async def seats_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    fid = flow["id"]
    seat_map = await context.services.booking.seat_map(
        int(flow["trip"]), flow["origin"], flow["destination"])
    chosen: list[str] = flow.get("seats", [])
    count = int(flow["count"])
    rows = []
    for seat_row in seat_map.rows:
        row = []
        for cell in seat_row:
            if cell is None:
                row.append(button("┊", cb.booking(fid, NOOP)))
            elif cell.label in chosen:
                row.append(button(f"✅{cell.label}", cb.booking(fid, "s", cell.label)))
            elif cell.free:
                row.append(button(cell.label, cb.booking(fid, "s", cell.label)))
            else:
                row.append(button("✖", cb.booking(fid, "s", cell.label)))
        rows.append(row)
    rows.append([button(_("Any seats"), cb.booking(fid, "A"))])
    rows.append(back_row(flow, _))
    text = "\n".join([
        trip_summary(context, flow),
        _.ngettext("Pick {n} seat (✖ is taken), or tap “Any seats”. You can also type seats "
                   "like 4A 4B.",
                   "Pick {n} seats (✖ is taken), or tap “Any seats”. You can also type seats "
                   "like 4A 4B.", count),
        _("Chosen: {seats}", seats=", ".join(chosen) if chosen else "—"),
    ])
    return Card(text, rows)


def saved_names(context: KassaContext, flow: Flow) -> list[str]:
    """Names offered as buttons: saved passengers not yet on this booking."""
    taken = {n.casefold() for n in flow.get("names", [])}
    return [n for n in flow.get("saved", []) if n.casefold() not in taken]


async def names_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    names: list[str] = flow.get("names", [])
    count = int(flow["count"])
    lines = [trip_summary(context, flow)]
    lines.extend(f"{i}. {name}" for i, name in enumerate(names, start=1))
    lines.append(_("Passenger {number} of {count}: type the full name, or tap a saved one.",
                   number=len(names) + 1, count=count))
    offered = saved_names(context, flow)
    rows = [[button(name, cb.booking(flow["id"], "n", i))]
            for i, name in enumerate(offered[:6])]
    rows.append(back_row(flow, _))
    return Card("\n".join(lines), rows)


def passenger_lines(flow: Flow) -> list[str]:
    return [f"{seat} — {name}" for seat, name in
            zip(flow.get("seats") or ["?"] * len(flow["names"]), flow["names"], strict=False)]


async def summary_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    info = flow["trip_info"]
    count = int(flow["count"])
    seats_text = (_("Seats: chosen for you when you confirm") if not flow.get("seats") else "")
    lines = [_("Please check your booking:"), trip_summary(context, flow)]
    lines.extend(passenger_lines(flow) if flow.get("seats") else flow["names"])
    if seats_text:
        lines.append(seats_text)
    lines.append(_("Total: {price} for {passengers}",
                   price=_.price(int(info["price"]) * count, info["cur"]),
                   passengers=_.ngettext("{n} passenger", "{n} passengers", count)))
    rows = [[button(_("✅ Confirm"), cb.booking(flow["id"], "y"))], back_row(flow, _)]
    return Card("\n".join(lines), rows)


async def held_card(context: KassaContext, flow: Flow) -> Card:
    _ = context.texts
    user = context.services
    try:
        view = await user.booking.order(flow["order"])
    except BookingError as error:
        return Card(error_text(_, error), [])
    order = view.order
    fid = flow["id"]
    lines = [trip_summary(context, flow)]
    lines.extend(f"{s.seat} — {s.passenger}" for s in order.seats)
    lines.append(_("Total: {price}", price=_.price(order.amount, order.currency)))
    now = user.booking.now()
    if order.hold_live(now) and order.expires_at is not None:
        expires = order.expires_at.astimezone(view.origin.tz)
        lines.insert(0, _("✅ Your seats are held until {time} ({station} time).",
                          time=_.time(expires), station=view.origin.name(context.language)))
        rows = [[button(_("Cancel this hold"), cb.booking(fid, "x"))]]
    else:
        lines.insert(0, _("This booking is {status}.", status=status_text(_, order.status.value)))
        rows = []
    rows.append([button(_("🎫 My tickets"), cb.menu("tickets")),
                 button(_("🚌 Book another trip"), cb.menu("book"))])
    return Card("\n".join(lines), rows)


def status_text(_: Texts, status: str) -> str:
    names = {
        "held": _("on hold"),
        "paid": _("paid"),
        "expired": _("expired"),
        "cancelled": _("cancelled"),
        "refunded": _("refunded"),
        "used": _("used"),
    }
    return names.get(status, status)
