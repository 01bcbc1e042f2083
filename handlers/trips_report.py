"""/trips [date]: the day's trips route by route, and one trip's seats sold, held and free
with its status. Staff only; every step asks the booking service afresh."""

from __future__ import annotations

from telegram import Update

from booking.errors import BookingError
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
from handlers.times import arrival_time

PURPOSE = "trips"
TITLE = N_("Trips and seats")


async def trips_command(update: Update, context: KassaContext) -> None:
    """/trips shows this week to pick a day; /trips <date> goes to that day's routes."""
    if await staff_only(update, context):
        await ask_trip_on_typed_day(update, context, PURPOSE)


async def show_trip(update: Update, context: KassaContext, trip_id: int) -> None:
    """The picked trip: times, status and load."""
    _ = context.texts
    user = update.effective_user
    if user is None:
        return
    try:
        trip = await context.services.console.trip(user.id, trip_id)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []))
        return
    if trip is None:
        await show(update, context, Card(_("There is no such trip."), []))
        return
    route = f"{trip.origin.name(_.language)} → {trip.destination.name(_.language)}"
    lines = [
        f"{route} · {trip.route_name}",
        _("Departs {date} {time}, arrives {arrival}", date=_.day(trip.departure.date(),
          staff_today(context)), time=_.time(trip.departure),
          arrival=arrival_time(_, trip.departure, trip.arrival)),
        _("Status: {status}", status=status_word(_, trip)),
        _("Seats: {sold} sold, {held} held, {free} free of {seats}", sold=trip.sold,
          held=trip.held, free=trip.free, seats=trip.seats),
    ]
    await show(update, context, Card("\n".join(lines),
                                     [[back_to_trips(update, _, PURPOSE, trip)]]))
