"""Paying in the chat: the Pay button of a held booking.

With a checkout page (the sandbox, or a hosted checkout) the button opens the page; the
provider's webhook then confirms the payment and the tickets arrive from the outbox.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton

from booking.errors import BookingError
from booking.views import OrderView
from handlers.context import Services
from locales import Texts


async def pay_rows(
    services: Services, _: Texts, view: OrderView
) -> list[list[InlineKeyboardButton]]:
    """The Pay button of a live hold, or no row when it cannot be paid now."""
    try:
        checkout = await services.booking.start_payment(view.id, view.customer_id)
    except (BookingError, LookupError):
        return []
    if checkout.url is None:
        return []
    label = _("💳 Pay {price}", price=_.price(view.amount, view.currency))
    return [[InlineKeyboardButton(label, url=checkout.url)]]
