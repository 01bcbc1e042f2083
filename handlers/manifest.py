"""/manifest: a trip's passengers per boarding stop, in the chat and as a CSV file."""

from __future__ import annotations

import csv
import io
from datetime import date

from telegram import Update

from booking.errors import BookingError
from booking.manifest import Boarding, BoardingStop, Manifest, ManifestLine
from booking.model import TripStatus
from handlers.cards import Card, show
from handlers.context import KassaContext
from handlers.errors import N_, error_text
from handlers.staff import staff_only
from handlers.staff_picker import (
    ask_trip_on_typed_day,
    back_to_trips,
    staff_today,
    status_word,
)
from locales import Texts

PURPOSE = "manifest"
TITLE = N_("Passenger manifest")
MESSAGE_LIMIT = 4096  # Telegram's, in characters


async def manifest_command(update: Update, context: KassaContext) -> None:
    """/manifest [date]: pick a trip."""
    if await staff_only(update, context):
        await ask_trip_on_typed_day(update, context, PURPOSE)


async def send_manifest(update: Update, context: KassaContext, trip_id: int) -> None:
    """The picked trip's manifest: text messages, then the CSV."""
    _ = context.texts
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    try:
        manifest = await context.services.manifests.manifest(user.id, trip_id)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []))
        return
    parts = chunks(manifest_lines(_, manifest, staff_today(context)))
    # « Back on the card that replaced the trip list: another trip's manifest is a tap away.
    await show(update, context, Card(parts[0], [[back_to_trips(update, _, PURPOSE,
                                                                manifest.trip)]]))
    for part in parts[1:]:
        await context.bot.send_message(chat.id, part)
    trip = manifest.trip
    name = f"manifest-{trip.departure:%Y%m%d-%H%M}-{trip.trip_id}.csv"
    await context.bot.send_document(chat.id, manifest_csv(_, manifest), filename=name,
                                    caption=_("Manifest as CSV ({count} passengers)",
                                              count=manifest.passengers))


def manifest_lines(_: Texts, manifest: Manifest, today: date) -> list[str]:
    trip = manifest.trip
    route = f"{trip.origin.name(_.language)} → {trip.destination.name(_.language)}"
    when = f"{_.day(trip.departure.date(), today)} {_.time(trip.departure)}"
    lines = [f"{route} · {when}"]
    if trip.status is not TripStatus.SCHEDULED or trip.delay_minutes:
        # A cancelled trip's bookings were refunded: it has nobody on it, and says why.
        lines.append(_("Status: {status}", status=status_word(_, trip)))
    lines.append(_("Passengers: {count}", count=manifest.passengers))
    if not manifest.stops:
        lines.append(_("Nobody has booked this trip."))
    for stop in manifest.stops:
        lines += ["", f"{stop.station.name(_.language)} · {_.time(stop.departure)}"]
        lines += [f"  {line.seat} · {line.passenger} → {line.destination.name(_.language)}"
                  f" · {boarding_word(_, line, stop)}" for line in stop.lines]
    return lines


def boarding_word(_: Texts, line: ManifestLine, stop: BoardingStop) -> str:
    if line.boarding is Boarding.CHECKED_IN and line.checked_in_at is not None:
        # On the clock of the stop they boarded at.
        return _("checked in {time}",
                 time=_.time(line.checked_in_at.astimezone(stop.departure.tzinfo)))
    return {Boarding.HELD: _("held, not paid"), Boarding.PAID: _("paid"),
            Boarding.CHECKED_IN: _("checked in"), Boarding.VOID: _("void")}[line.boarding]


def manifest_csv(_: Texts, manifest: Manifest) -> bytes:
    """One row per seat. UTF-8 with a byte-order mark, so spreadsheets show Chinese and
    Cyrillic names right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["boarding_stop", "departure", "seat", "passenger", "destination",
                     "order", "status", "checked_in_at"])
    for stop in manifest.stops:
        for line in stop.lines:
            writer.writerow([
                stop.station.name(_.language), stop.departure.isoformat(timespec="minutes"),
                line.seat, line.passenger, line.destination.name(_.language), line.order_id,
                line.boarding.value,
                line.checked_in_at.isoformat(timespec="seconds") if line.checked_in_at else "",
            ])
    return out.getvalue().encode("utf-8-sig")


def chunks(lines: list[str]) -> list[str]:
    """The lines in messages under Telegram's limit, never splitting a line."""
    parts: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MESSAGE_LIMIT and current:
            parts.append(current)
            candidate = line[:MESSAGE_LIMIT]
        current = candidate
    return [*parts, current]
