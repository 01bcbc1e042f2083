"""/mytickets: the customer's bookings, one opened, cancelled after a confirmation.

What a booking may do (be cancelled, for how much) is decided by booking/; this module
only shows the answer.
"""

from __future__ import annotations

from telegram import Update

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus
from booking.outbox import RetryLater, Undeliverable
from booking.outcomes import CancelKind
from booking.views import OrderView
from handlers import callback_data as cb
from handlers.booking_cards import status_text, today_at
from handlers.cards import Card, answer_query, button, show
from handlers.context import KassaContext
from handlers.errors import error_text
from handlers.menu import continue_rows, pause_booking
from handlers.notifications import send_ticket_files
from handlers.payments import pay_rows
from handlers.times import arrival_time
from locales import Texts

ORDERS_LISTED = 10


def order_label(context: KassaContext, view: OrderView) -> str:
    _ = context.texts
    today = today_at(context, view.origin)
    return (f"{_.day_month(view.departure.date(), today)} {_.time(view.departure)} "
            f"{view.origin.name(context.language)} → {view.destination.name(context.language)}")


def user_id(update: Update) -> int:
    user = update.effective_user
    if user is None:  # the handlers are registered for updates from people only
        raise RuntimeError("no user on a my-tickets update")
    return user.id


async def list_tickets(update: Update, context: KassaContext) -> None:
    """List upcoming and past bookings as buttons."""
    _ = context.texts
    await answer_query(update)
    pause_booking(context)
    views = await context.services.booking.orders_of(user_id(update))
    now = context.services.booking.now()
    # A paid trip under way stays with the upcoming ones: its ticket is shown on board.
    ahead = [v for v in views if v.upcoming or (
        v.status is OrderStatus.PAID and v.arrival > now)]
    # The rest newest first, so that the ten listed are the latest, not the oldest.
    shown_ahead = {v.id for v in ahead}
    past = sorted((v for v in views if v.id not in shown_ahead),
                  key=lambda v: v.departure, reverse=True)
    lines = [_("Your bookings:") if views else _("You have no bookings yet.")]
    rows = []
    for title, group in ((_("Upcoming"), ahead), (_("Past and cancelled"), past)):
        if len(group) > ORDERS_LISTED:
            lines.append(_("{title}: {count}, the latest {shown} shown", title=title,
                           count=len(group), shown=ORDERS_LISTED))
        elif group:
            lines.append(_("{title}: {count}", title=title, count=len(group)))
        for view in group[:ORDERS_LISTED]:
            label = f"{order_label(context, view)} · {status_text(_, view.status)}"
            rows.append([button(label, cb.tickets("o", view.id))])
    rows.extend(continue_rows(context))
    rows.append([button(_("🚌 Book a trip"), cb.menu("book"))])
    await show(update, context, Card("\n".join(lines), rows))


def order_details(_: Texts, view: OrderView, context: KassaContext) -> list[str]:
    lines = [
        order_label(context, view),
        _("Arrives {time}", time=arrival_time(_, view.departure, view.arrival)),
        _("Status: {status}", status=status_text(_, view.status)),
        # What staff and the operator's office ask for, and the ticket PDF prints.
        _("{label}: {value}", label=_("Booking reference"), value=view.id),
    ]
    lines.extend(f"{s.seat} — {s.passenger}" for s in view.seats)
    lines.append(_("Total: {price}", price=_.price(view.amount, view.currency)))
    if view.status is OrderStatus.HELD and view.expires_at is not None:
        expires = view.expires_at.astimezone(view.origin.tz)
        lines.append(_("Held until {time} ({station} time).", time=_.time(expires),
                       station=view.origin.name(context.language)))
    if view.refund_amount:
        lines.append(_("Refunded: {price}", price=_.price(view.refund_amount, view.currency)))
    return lines


def ticket_id(update: Update) -> str:
    query = update.callback_query
    return cb.ticket_order_id(query.data if query else None)


async def show_error(update: Update, context: KassaContext, error: BookingError) -> None:
    _ = context.texts
    await answer_query(update, error_text(_, error), alert=True)
    rows = [[button(_("« My tickets"), cb.menu("tickets"))]]
    await show(update, context, Card(error_text(_, error), rows))


async def open_ticket(update: Update, context: KassaContext) -> None:
    """One booking in detail: Pay while it is held, its tickets once paid, Cancel while it
    can be cancelled."""
    _ = context.texts
    try:
        view = await context.services.booking.order(ticket_id(update), user_id(update))
    except BookingError as error:
        await show_error(update, context, error)
        return
    await answer_query(update)
    rows = []
    if view.status is OrderStatus.HELD:
        rows.extend(await pay_rows(context.services, _, view))
    if view.status is OrderStatus.PAID:
        rows.append([button(_.ngettext("📄 Send my ticket again", "📄 Send my tickets again",
                                       len(view.seats)), cb.tickets("s", view.id))])
    if view.cancellable:
        label = _("Cancel booking") if view.status is OrderStatus.PAID else _("Cancel this hold")
        rows.append([button(label, cb.tickets("c", view.id))])
    rows.append([button(_("« My tickets"), cb.menu("tickets"))])
    await show(update, context, Card("\n".join(order_details(_, view, context)), rows))


async def ask_cancel(update: Update, context: KassaContext, notice: str | None = None
                     ) -> None:
    """Show what cancelling would do (release the hold, or refund how much) and ask."""
    _ = context.texts
    order_id = ticket_id(update)
    try:
        view = await context.services.booking.order(order_id, user_id(update))
        quote = await context.services.booking.cancellation_quote(order_id, user_id(update))
    except BookingError as error:
        await show_error(update, context, error)
        return
    await answer_query(update)
    if quote.kind is CancelKind.RELEASE:
        question = _.ngettext("Cancel this hold? The seat will be released.",
                              "Cancel this hold? The seats will be released.", len(view.seats))
    else:
        question = _("Cancel this booking? You will get back {price}.",
                     price=_.price(quote.refund, quote.currency))
        # Less than was paid: say it is the policy, not a mistake.
        if quote.refund == 0:
            question += "\n" + _("This close to departure the refund policy returns nothing.")
        elif quote.refund < view.amount:
            question += "\n" + _("This close to departure the refund policy returns "
                                 "{percent}% of {price}.",
                                 percent=round(100 * quote.refund / view.amount),
                                 price=_.price(view.amount, view.currency))
    text = "\n".join([*([notice] if notice else []), order_label(context, view), question])
    refund = None if quote.kind is CancelKind.RELEASE else quote.refund
    rows = [[button(_("Yes, cancel it"), cb.cancel_confirmed(order_id, refund)),
             button(_("No, keep it"), cb.tickets("o", order_id))]]
    await show(update, context, Card(text, rows))


async def do_cancel(update: Update, context: KassaContext) -> None:
    """Cancel the booking as it was shown (a hold released, or a refund of the amount
    quoted); a repeated press finds it cancelled and says so."""
    _ = context.texts
    query = update.callback_query
    release, refund = cb.quoted(query.data if query else None)
    try:
        view = await context.services.booking.cancel(ticket_id(update), user_id(update),
                                                     hold_only=release, expect_refund=refund)
    except BookingError as error:
        if error.code in (ErrorCode.CANCELLATION_CHANGED, ErrorCode.ORDER_NOT_HELD):
            # Paid meanwhile, or a tier of the refund policy passed: ask again, as it is.
            await ask_cancel(update, context, error_text(_, error))
            return
        await show_error(update, context, error)
        return
    await answer_query(update)
    if view.refund_amount is None:  # a hold released: no money had moved
        text = _("Your hold is cancelled.")
    else:
        text = _("Booking cancelled. Refund: {price}.",
                 price=_.price(view.refund_amount, view.currency))
    rows = [[button(_("« My tickets"), cb.menu("tickets"))]]
    await show(update, context, Card(text, rows))


async def send_again(update: Update, context: KassaContext) -> None:
    """A paid order's tickets, sent to the chat once more."""
    chat = update.effective_chat
    try:
        view = await context.services.booking.order(ticket_id(update), user_id(update))
        if view.status is not OrderStatus.PAID or chat is None:
            raise BookingError(ErrorCode.NOT_CANCELLABLE, status=view.status.value)
        await answer_query(update)
        await send_ticket_files(context.bot, context.services, chat.id, context.texts, view)
    except BookingError as error:
        await show_error(update, context, error)
    except (Undeliverable, RetryLater):
        await answer_query(update, error_text(context.texts, BookingError(ErrorCode.BUSY)),
                           alert=True)
