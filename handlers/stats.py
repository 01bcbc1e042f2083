"""/stats [days]: tickets sold, revenue, refunds and load factor per route and travel day,
as a chart with the key numbers beside it. Staff only."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date

from telegram import Update

from booking.errors import BookingError
from booking.model import Station
from booking.stats import SalesReport, check_days
from booking.stats_chart import ChartWords, render_chart
from handlers.cards import Card, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.manifest import chunks
from handlers.staff import staff_only
from handlers.staff_picker import staff_today
from locales import Texts

DEFAULT_DAYS = 7
CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption


async def stats_command(update: Update, context: KassaContext) -> None:
    """/stats, /stats 30."""
    if not await staff_only(update, context):
        return
    _ = context.texts
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    typed = (context.args or [str(DEFAULT_DAYS)])[0]
    try:
        days = check_days(int(typed) if typed.isascii() and typed.isdigit() else 0)
        report = await context.services.stats.report(user.id, days, staff_today(context))
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []), edit=False)
        return
    today = staff_today(context)
    words = ChartWords(
        title=_("Tickets sold per travel day, {first} – {last}",
                first=_.day(report.first_day, today), last=_.day(report.last_day, today)),
        tickets=_("Tickets"), load_factor=_("Load factor"), other=_("Other routes"),
        day_labels=tuple(_.day_month(day, today) for day in report.days()))
    # Rendering takes a CPU-bound tenth of a second: off the event loop, so other
    # passengers' updates are not held up by it.
    chart = await asyncio.to_thread(render_chart, report, words)
    summary = summary_text(_, report, days)
    await context.bot.send_photo(chat.id, chart, caption=summary[:CAPTION_LIMIT])
    for part in chunks(route_lines(_, report, today, context.services.stations)):
        await context.bot.send_message(chat.id, part)


def summary_text(_: Texts, report: SalesReport, days: int) -> str:
    revenue, refunds = report.revenue(), report.refunds()
    # A zero is written in a currency too: in those money moved in, or with none, in those
    # the period's trips are sold in. A bare "0" is left only for a period without trips.
    moved = [c for c in revenue if revenue[c] or refunds.get(c)] or list(revenue)
    lines = [
        _.ngettext("The last {n} day", "The last {n} days", days, n=days),
        _("Tickets sold: {count}", count=report.tickets),
        _("Revenue: {money}", money=amounts(_, revenue, moved)),
        _("Refunds: {money}", money=amounts(_, refunds, moved)),
        _("Load factor: {percent}", percent=_.percent(report.load_factor)),
    ]
    return "\n".join(lines)


def amounts(_: Texts, totals: dict[str, int], currencies: list[str]) -> str:
    """The amounts of ``totals`` that are not zero, each with its currency ("CN¥96.00, €40.00");
    with none, a zero in each of ``currencies`` ("CN¥0.00")."""
    shown = [(c, totals[c]) for c in currencies if totals.get(c)] or [(c, 0) for c in currencies]
    return ", ".join(_.price(amount, currency) for currency, amount in shown) or "0"


def route_lines(_: Texts, report: SalesReport, today: date,
                stations: Sequence[Station] = ()) -> list[str]:
    """The figures per travel day and route, the route by its end stations' names in the
    chat's language (by their codes where a station is not in ``stations``)."""
    by_code = {station.code: station for station in stations}

    def named(code: str) -> str:
        station = by_code.get(code)
        return station.name(_.language) if station is not None else code

    lines = [_("By day and route (tickets · revenue · refunds · load factor):")]
    # Routes that sold nothing that day would bury the ones that did.
    busy = [row for row in report.rows if row.tickets or row.refunds]
    if not busy:
        lines.append(_("Nothing was sold in this period."))
    current = None
    for row in busy:
        if row.day != current:
            current = row.day
            lines += ["", _.day(row.day, today)]
        first, last = report.route_names.get(row.route_id, (row.route, ""))
        route = f"{named(first)} → {named(last)}" if last else row.route
        figures = (f"{row.tickets} · {_.price(row.revenue, row.currency)} · "
                   f"{_.price(row.refunds, row.currency)} · {_.percent(row.load_factor)}")
        lines.append("  " + _("{label}: {value}", label=route, value=figures))
    return lines
