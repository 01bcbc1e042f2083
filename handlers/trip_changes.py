"""/delay and /cancel_trip: pick the trip, type the minutes and the reason, see what will
happen (new times, how many people are told, what is refunded), then confirm. The booking
side (booking.trip_changes) checks everything again in the transaction that acts."""

from __future__ import annotations

import re

from telegram import Update

from booking.errors import BookingError, ErrorCode
from booking.staff_console import TripSummary
from booking.trip_changes import check_delay, check_reason
from handlers import callback_data as cb
from handlers.cards import Card, answer_query, button, show
from handlers.context import KassaContext
from handlers.errors import N_, error_text
from handlers.staff import close_step, current_step, open_step, staff_only
from handlers.staff_picker import ask_trip_on_typed_day, staff_today
from handlers.times import arrival_time, moved_time, scheduled
from locales import Texts

DELAY, CANCEL = "delay", "cancel_trip"
DELAY_TITLE = N_("Delay a trip")
CANCEL_TITLE = N_("Cancel a trip")
DELAY_MINUTES, DELAY_REASON, DELAY_CONFIRM = "delay_minutes", "delay_reason", "delay_confirm"
CANCEL_REASON, CANCEL_CONFIRM = "cancel_reason", "cancel_confirm"
# "20", "+20", "20 min", "20 минут", "20分钟": the number is what counts.
_MINUTES = re.compile(r"([+-]?\d{1,6})\s*(m|min|mins|minutes?|мин|минут[аы]?|分钟|分)?\.?",
                      re.IGNORECASE)


async def delay_command(update: Update, context: KassaContext) -> None:
    """/delay [date]: pick the trip."""
    if await staff_only(update, context):
        close_step(context)
        await ask_trip_on_typed_day(update, context, DELAY)


async def cancel_command(update: Update, context: KassaContext) -> None:
    """/cancel_trip [date]: pick the trip."""
    if await staff_only(update, context):
        close_step(context)
        await ask_trip_on_typed_day(update, context, CANCEL)


def trip_line(_: Texts, context: KassaContext, trip: TripSummary) -> str:
    """The trip as the timetable names it (its day and time before any delay), as the
    pickers list it."""
    route = f"{trip.origin.name(_.language)} → {trip.destination.name(_.language)}"
    planned = scheduled(trip.departure, trip.delay_minutes)
    return f"{route}, {_.day(planned.date(), staff_today(context))} {_.time(planned)}"


async def _refuse(update: Update, context: KassaContext, error: BookingError) -> None:
    await show(update, context, Card(error_text(context.texts, error), []),
               edit=update.callback_query is not None)


# ---- delay ---------------------------------------------------------------------------------

async def delay_trip_chosen(update: Update, context: KassaContext, trip_id: int) -> None:
    _ = context.texts
    user = update.effective_user
    if user is None:
        return
    try:  # a trip that left or was cancelled is refused before any typing
        preview = await context.services.trip_changes.delay_preview(user.id, trip_id, 1)
    except BookingError as error:
        await _refuse(update, context, error)
        return
    open_step(context, DELAY_MINUTES, trip=trip_id)
    await show(update, context, Card(_(
        "{trip}\nDelay it by how many minutes? Type a number from 1 to 1440. /cancel stops.",
        trip=trip_line(_, context, preview.trip)), []))


async def delay_minutes_typed(update: Update, context: KassaContext, typed: str) -> None:
    _ = context.texts
    user = update.effective_user
    step = current_step(context) or {}
    found = _MINUTES.fullmatch(typed.strip())
    if user is None:
        return
    if found is None:
        await show(update, context, Card(_(
            "Type the delay in minutes as a number, e.g. 20. /cancel stops."), []), edit=False)
        return
    try:
        minutes = check_delay(int(found.group(1)))
        preview = await context.services.trip_changes.delay_preview(
            user.id, int(step.get("trip", 0)), minutes)
    except BookingError as error:
        if error.code is not ErrorCode.BAD_DELAY:
            close_step(context)  # the trip itself can no longer be delayed
        await _refuse(update, context, error)
        return
    open_step(context, DELAY_REASON, trip=preview.trip.trip_id, minutes=minutes)
    await show(update, context, Card(_(
        "Why is it late? Passengers see the reason. /cancel stops."), []), edit=False)


async def delay_reason_typed(update: Update, context: KassaContext, typed: str) -> None:
    _ = context.texts
    user = update.effective_user
    step = current_step(context) or {}
    if user is None:
        return
    try:
        reason = check_reason(typed)
        preview = await context.services.trip_changes.delay_preview(
            user.id, int(step.get("trip", 0)), int(step.get("minutes", 0)))
    except BookingError as error:
        if error.code is not ErrorCode.BAD_REASON:
            close_step(context)
        await _refuse(update, context, error)
        return
    open_step(context, DELAY_CONFIRM, trip=preview.trip.trip_id, minutes=preview.minutes,
              reason=reason, total=preview.trip.delay_minutes + preview.minutes)
    # The new times marked "+1" from the day the trip is known by, as trip_line names it.
    planned = scheduled(preview.trip.departure, preview.trip.delay_minutes)
    total = preview.trip.delay_minutes + preview.minutes
    if preview.trip.delay_minutes:  # delayed before: this one adds to it
        late = _("{trip}: {minutes} min more, {total} min late in all.",
                 trip=trip_line(_, context, preview.trip), minutes=preview.minutes,
                 total=total)
    else:
        late = _("{trip}: {minutes} min late.", trip=trip_line(_, context, preview.trip),
                 minutes=preview.minutes)
    text = late + "\n" + _("New departure {departs}, arrival {arrives} (local times).\n"
                           "Reason: {reason}\n",
                           departs=moved_time(_, planned, preview.departure),
                           arrives=arrival_time(_, planned, preview.arrival), reason=reason)
    text += _.ngettext("{n} passenger will be told.", "{n} passengers will be told.",
                       preview.passengers, n=preview.passengers)
    await show(update, context, Card(text, [[
        button(_("✅ Delay the trip"), cb.trip_change("sd", "y")),
        button(_("Cancel"), cb.trip_change("sd", "n"))]]), edit=False)


# ---- cancel --------------------------------------------------------------------------------

async def cancel_trip_chosen(update: Update, context: KassaContext, trip_id: int) -> None:
    _ = context.texts
    user = update.effective_user
    if user is None:
        return
    try:
        preview = await context.services.trip_changes.cancel_preview(user.id, trip_id)
    except BookingError as error:
        await _refuse(update, context, error)
        return
    open_step(context, CANCEL_REASON, trip=trip_id)
    money = ", ".join(_.price(amount, currency) for currency, amount in preview.refunds.items())
    lines = [_("Cancel {trip}?", trip=trip_line(_, context, preview.trip))]
    if preview.paid_orders:
        lines.append(_.ngettext("{n} paid booking is refunded in full ({money}).",
                                "{n} paid bookings are refunded in full ({money}).",
                                preview.paid_orders, n=preview.paid_orders, money=money))
    if preview.held_orders:
        lines.append(_.ngettext("{n} unpaid hold is released.", "{n} unpaid holds are released.",
                                preview.held_orders, n=preview.held_orders))
    if preview.passengers:
        lines.append(_.ngettext("{n} person is told and offered other trips.",
                                "{n} people are told and offered other trips.",
                                preview.passengers, n=preview.passengers))
    else:
        lines.append(_("Nobody has booked it, so nobody is told."))
    lines.append(_("Why is it cancelled? Passengers see the reason. /cancel stops."))
    await show(update, context, Card("\n".join(lines), []))


async def cancel_reason_typed(update: Update, context: KassaContext, typed: str) -> None:
    _ = context.texts
    step = current_step(context) or {}
    try:
        reason = check_reason(typed)
    except BookingError as error:
        await _refuse(update, context, error)
        return
    open_step(context, CANCEL_CONFIRM, trip=int(step.get("trip", 0)), reason=reason)
    await show(update, context, Card(_("Cancel the trip for this reason: {reason}",
                                       reason=reason), [[
        button(_("❌ Cancel the trip"), cb.trip_change("sc", "y")),
        button(_("Keep it"), cb.trip_change("sc", "n"))]]), edit=False)


# ---- shared --------------------------------------------------------------------------------

async def confirm_typed(update: Update, context: KassaContext, typed: str) -> None:
    _ = context.texts
    await show(update, context, Card(_("Press a button above (or /cancel)."), []), edit=False)


async def on_button(update: Update, context: KassaContext) -> None:
    """Confirm or keep: the step's own values are what is done, never the button's."""
    query = update.callback_query
    data = query.data if query else ""
    if not await staff_only(update, context):
        return
    await answer_query(update)
    _ = context.texts
    user = update.effective_user
    step = current_step(context) or {}
    expected = {"sd:y": DELAY_CONFIRM, "sc:y": CANCEL_CONFIRM}.get(data or "")
    if data in ("sd:n", "sc:n"):
        close_step(context)
        await show(update, context, Card(_("Cancelled. Nothing was changed."), []))
        return
    if user is None or expected is None or step.get("purpose") != expected:
        await show(update, context, Card(_("This button is out of date."), []))
        return
    close_step(context)  # a second press finds no step: the change is made once
    changes = context.services.trip_changes
    try:
        if expected == DELAY_CONFIRM:
            told = await changes.delay(user.id, int(step["trip"]), int(step["minutes"]),
                                       str(step["reason"]))
            text = _.ngettext("Done: the trip is {minutes} min late; {n} passenger is being "
                              "told.", "Done: the trip is {minutes} min late; {n} passengers "
                              "are being told.", told, n=told,
                              minutes=int(step.get("total", step["minutes"])))
        else:
            cancelled = await changes.cancel(user.id, int(step["trip"]), str(step["reason"]))
            text = _.ngettext("Done: the trip is cancelled; {n} booking is cancelled and "
                              "its passenger told.", "Done: the trip is cancelled; {n} "
                              "bookings are cancelled and their passengers told.",
                              cancelled, n=cancelled)
    except BookingError as error:
        await _refuse(update, context, error)
        return
    await show(update, context, Card(text, []))
