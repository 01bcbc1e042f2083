"""Paying in the chat: the Pay button of a held booking, and Telegram Payments.

With a checkout page (the sandbox, or a hosted checkout) the button opens the page; the
provider's webhook then confirms the payment and the tickets arrive from the outbox. With
Telegram Payments the button asks for an invoice; Telegram checks with the bot before
taking the money (pre_checkout_query: only a live hold, for its amount) and then reports
the payment, which is applied exactly once by its charge id.
"""

from __future__ import annotations

from telegram import LabeledPrice, Update

from booking.errors import BookingError, ErrorCode
from booking.telegram_payments import successful_payment_event
from booking.views import OrderView
from handlers import callback_data as cb
from handlers.cards import Button, Rows, answer_query, button
from handlers.context import KassaContext, Services
from handlers.errors import error_text
from locales import Texts


async def pay_rows(
    services: Services, _: Texts, view: OrderView
) -> Rows:
    """The Pay button of a live hold, or no row when it cannot be paid now."""
    try:
        checkout = await services.booking.start_payment(view.id, view.customer_id)
    except (BookingError, LookupError):
        return []
    label = _("💳 Pay {price}", price=_.price(view.amount, view.currency))
    if checkout.url is not None:
        return [[Button(label, url=checkout.url)]]
    if checkout.invoice is not None:
        return [[button(label, cb.pay(view.id))]]
    return []


async def send_invoice(update: Update, context: KassaContext) -> None:
    """The Pay button with Telegram Payments: the invoice for the held order."""
    _ = context.texts
    query = update.callback_query
    user, chat = update.effective_user, update.effective_chat
    order_id = cb.paid_order_id(query.data if query else None)
    token = context.services.telegram_payment_token
    if user is None or chat is None or not token:
        await answer_query(update)
        return
    try:
        checkout = await context.services.booking.start_payment(order_id, user.id)
    except (BookingError, LookupError) as error:
        text = error_text(_, error) if isinstance(error, BookingError) else str(error)
        await answer_query(update, text, alert=True)
        return
    invoice = checkout.invoice
    if invoice is None:
        await answer_query(update)
        return
    await answer_query(update)
    await context.bot.send_invoice(
        chat.id, title=invoice.title, description=invoice.description,
        payload=invoice.payload, provider_token=token, currency=invoice.currency,
        prices=[LabeledPrice(_("Tickets"), invoice.amount)],
    )


async def pre_checkout(update: Update, context: KassaContext) -> None:
    """Telegram asks before taking the money: yes only for a live hold and its amount."""
    query = update.pre_checkout_query
    if query is None:
        return
    try:
        await context.services.booking.check_checkout(
            query.invoice_payload, query.total_amount, query.currency)
    except BookingError as error:
        await query.answer(ok=False, error_message=error_text(context.texts, error))
        return
    await query.answer(ok=True)


async def successful_payment(update: Update, context: KassaContext) -> None:
    """Telegram took the money: apply it once; the tickets follow from the outbox."""
    _ = context.texts
    message = update.effective_message
    payment = message.successful_payment if message else None
    if message is None or payment is None:
        return
    event = successful_payment_event(payment.telegram_payment_charge_id,
                                     payment.invoice_payload, payment.total_amount,
                                     payment.currency)
    try:
        result = await context.services.booking.handle_event(event)
    except BookingError as error:
        await message.reply_text(error_text(_, error))
        return
    if result is not None and result.outcome.value == "paid":
        await message.reply_text(_("Paid. Your tickets are on their way to the chat."))
    else:
        await message.reply_text(error_text(_, BookingError(ErrorCode.HOLD_EXPIRED)))
