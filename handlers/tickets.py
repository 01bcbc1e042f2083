"""/mytickets: the customer's bookings, one opened, cancelled after a confirmation."""

from __future__ import annotations

from telegram import Update

from booking.errors import BookingError
from booking.model import OrderStatus
from booking.views import OrderView
from handlers import callback_data as cb
from handlers.booking_cards import status_text
from handlers.cards import Card, answer_query, button, show
from handlers.context import KassaContext
from handlers.errors import error_text
from locales import Texts

ORDERS_LISTED = 10


def order_label(_: Texts, view: OrderView, language: str) -> str:
    return (f"{_.day_month(view.departure.date())} {_.time(view.departure)} "
            f"{view.origin.name(language)} → {view.destination.name(language)}")


def is_upcoming(view: OrderView, context: KassaContext) -> bool:
    now = context.services.booking.now()
    live = view.order.status is OrderStatus.PAID or view.order.hold_live(now)
    return live and view.departure > now


async def list_tickets(update: Update, context: KassaContext) -> None:
    """List upcoming and past bookings as buttons."""
    _ = context.texts
    await answer_query(update)
    user = update.effective_user
    assert user is not None
    views = await context.services.booking.orders_of(user.id)
    upcoming = [v for v in views if is_upcoming(v, context)]
    past = [v for v in views if not is_upcoming(v, context)][-ORDERS_LISTED:]
    lines = [_("Your bookings:") if views else _("You have no bookings yet.")]
    rows = []
    for title, group in ((_("Upcoming"), upcoming), (_("Past and cancelled"), past)):
        if group:
            lines.append(f"{title}: {len(group)}")
        for view in group[:ORDERS_LISTED]:
            status = status_text(_, view.order.status.value)
            label = f"{order_label(_, view, context.language)} · {status}"
            rows.append([button(label, cb.tickets("o", view.id))])
    rows.append([button(_("🚌 Book a trip"), cb.menu("book"))])
    await show(update, context, Card("\n".join(lines), rows))


def order_details(_: Texts, view: OrderView, context: KassaContext) -> list[str]:
    order = view.order
    lines = [
        order_label(_, view, context.language),
        _("Arrives {time}", time=_.time(view.arrival)),
        _("Status: {status}", status=status_text(_, order.status.value)),
    ]
    lines.extend(f"{s.seat} — {s.passenger}" for s in order.seats)
    lines.append(_("Total: {price}", price=_.price(order.amount, order.currency)))
    if order.status is OrderStatus.HELD and order.expires_at is not None:
        expires = order.expires_at.astimezone(view.origin.tz)
        lines.append(_("Held until {time} ({station} time).", time=_.time(expires),
                       station=view.origin.name(context.language)))
    if order.refund_amount:
        lines.append(_("Refunded: {price}", price=_.price(order.refund_amount, order.currency)))
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
    """One booking in detail, with Cancel when it can be cancelled."""
    _ = context.texts
    user = update.effective_user
    assert user is not None
    try:
        view = await context.services.booking.order(ticket_id(update), user.id)
    except BookingError as error:
        await show_error(update, context, error)
        return
    await answer_query(update)
    rows = []
    if is_upcoming(view, context):
        rows.append([button(_("Cancel booking"), cb.tickets("c", view.id))])
    rows.append([button(_("« My tickets"), cb.menu("tickets"))])
    await show(update, context, Card("\n".join(order_details(_, view, context)), rows))


async def ask_cancel(update: Update, context: KassaContext) -> None:
    """Show what cancelling would refund and ask to confirm."""
    _ = context.texts
    user = update.effective_user
    assert user is not None
    order_id = ticket_id(update)
    try:
        view = await context.services.booking.order(order_id, user.id)
        refund = await context.services.booking.refund_quote(order_id, user.id)
    except BookingError as error:
        await show_error(update, context, error)
        return
    await answer_query(update)
    text = "\n".join([
        order_label(_, view, context.language),
        _("Cancel this booking? You will get back {price}.",
          price=_.price(refund, view.order.currency)),
    ])
    rows = [[button(_("Yes, cancel it"), cb.tickets("y", order_id)),
             button(_("No, keep it"), cb.tickets("o", order_id))]]
    await show(update, context, Card(text, rows))


async def do_cancel(update: Update, context: KassaContext) -> None:
    """Cancel the booking; a repeated press finds it cancelled and says so."""
    _ = context.texts
    user = update.effective_user
    assert user is not None
    try:
        order = await context.services.booking.cancel(ticket_id(update), user.id)
    except BookingError as error:
        await show_error(update, context, error)
        return
    await answer_query(update)
    text = _("Booking cancelled. Refund: {price}.",
             price=_.price(order.refund_amount or 0, order.currency))
    rows = [[button(_("« My tickets"), cb.menu("tickets"))]]
    await show(update, context, Card(text, rows))
