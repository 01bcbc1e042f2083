"""/checkin: staff check a ticket in by its code, or by a photo of its QR code.

The role is read afresh for every check (CustomersApi.role), and checked again by the use
case; a passenger is told it is for staff and nothing changes.
"""

from __future__ import annotations

from telegram import Update

from booking.errors import BookingError, ErrorCode
from booking.ticketing import CheckIn, CheckInOutcome
from booking.tickets.codes import looks_like_code
from booking.tickets.scan import read_codes
from handlers.cards import Card, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.staff import PassOn, is_staff, open_step
from locales import Texts

# The step open after /checkin without a code: what is typed next is a code.
CODE_STEP = "checkin_code"



async def checkin_command(update: Update, context: KassaContext) -> None:
    """/checkin <code>: check the ticket in; without a code, say how."""
    _ = context.texts
    if not await is_staff(update, context):
        await refuse(update, context)
        return
    code = " ".join(context.args or [])
    if not code:
        # The codes that follow are checked one after another, as a queue boards.
        open_step(context, CODE_STEP)
        await show(update, context, Card(
            _("Send the ticket code (K1.…), or a photo of the ticket's QR code. Codes sent "
              "one after another are each checked in."), []), edit=False)
        return
    await check(update, context, code)


async def code_typed(update: Update, context: KassaContext, typed: str) -> None:
    """A code sent after /checkin on its own; anything else is not one and goes on."""
    code = typed.strip()
    if not looks_like_code(code):
        raise PassOn
    await check(update, context, code)


async def checkin_photo(update: Update, context: KassaContext) -> bool:
    """A photo from staff is a ticket to check in; True if it was handled as one."""
    message = update.effective_message
    if message is None or not message.photo or not await is_staff(update, context):
        return False
    _ = context.texts
    photo = await message.photo[-1].get_file()
    codes = read_codes(bytes(await photo.download_as_bytearray()))
    if not codes:
        await show(update, context, Card(
            _("❌ I could not find a QR code in this photo. Try again closer, or type the "
              "code after /checkin."), []), edit=False)
        return True
    await check(update, context, codes[0])
    return True


async def refuse(update: Update, context: KassaContext) -> None:
    await show(update, context, Card(error_text(context.texts, BookingError(ErrorCode.NOT_STAFF)),
                                     []), edit=False)


async def check(update: Update, context: KassaContext, code: str) -> None:
    user = update.effective_user
    if user is None:
        return
    try:
        result = await context.services.booking.check_in(code, user.id)
    except BookingError as error:
        await show(update, context, Card(error_text(context.texts, error), []), edit=False)
        return
    checker = None
    if result.outcome is CheckInOutcome.ALREADY_USED and result.ticket is not None \
            and result.ticket.used_by is not None:
        found = await context.services.customers.customer(result.ticket.used_by)
        checker = found.name if found is not None and found.name else None
    await show(update, context, Card(result_text(context.texts, result, checker), []),
               edit=False)


def result_text(_: Texts, result: CheckIn, checker: str | None = None) -> str:
    """What the scan found; ``checker`` is the name of the staff member who checked the
    ticket in before, if it is known."""
    if result.outcome is CheckInOutcome.FORGED or result.ticket is None:
        return _("❌ Not a valid ticket: the code is forged, damaged or unknown.")
    ticket, order = result.ticket, result.order
    about = f"{ticket.seat} — {ticket.passenger}"
    if order is not None:
        about += (f"\n{order.origin.name(_.language)} → {order.destination.name(_.language)}, "
                  f"{_.day(order.departure.date(), order.departure.date())} "
                  f"{_.time(order.departure)}")
    if result.outcome is CheckInOutcome.CHECKED_IN:
        return _("✅ Valid. Checked in now.\n{ticket}", ticket=about)
    if result.outcome is CheckInOutcome.VOID:
        return _("⛔ Void: this booking was cancelled.\n{ticket}", ticket=about)
    if result.outcome is CheckInOutcome.TOO_EARLY:
        return _("⏳ Valid, but too early: check-in opens the day before departure. "
                 "Nothing was marked.\n{ticket}", ticket=about)
    when = "?"
    if ticket.used_at is not None:
        # On the trip's clock (where the boarding was), not the server's.
        used = ticket.used_at.astimezone(order.departure.tzinfo) if order else ticket.used_at
        when = _.time(used)
        if order is not None and used.date() != order.departure.date():
            when = f"{_.day_month(used.date(), order.departure.date())} {when}"
    who = checker or (str(ticket.used_by) if ticket.used_by else _("a scanner"))
    return _("⚠️ Already used at {time} (checked in by {who}).\n{ticket}",
             time=when, who=who, ticket=about)
