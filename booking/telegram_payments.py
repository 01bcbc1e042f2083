"""The `telegram` payment provider: Telegram Payments, through which operators reach real
acquirers (Stripe, YooKassa and others). The bot sends the invoice; Telegram asks the bot
to confirm the checkout (pre_checkout_query) and then reports the successful payment.

Nothing here talks to Telegram: the bot's handlers send the invoice this provider describes
and turn Telegram's successful_payment into a ProviderEvent.
"""

from __future__ import annotations

from booking.providers import Checkout, Invoice, PaymentEventType, ProviderEvent
from booking.views import OrderView

NAME = "telegram"
# The providers whose refunds a person makes (this one: see refund below).
REFUNDS_MADE_BY_HAND = frozenset({NAME})
TITLE_LIMIT = 32  # Telegram's limits for an invoice's title and description
DESCRIPTION_LIMIT = 255


class TelegramPaymentsProvider:
    def __init__(self, operator: str) -> None:
        self._operator = operator

    @property
    def name(self) -> str:
        return NAME

    def checkout(self, order: OrderView) -> Checkout:
        route = f"{order.origin.name()} → {order.destination.name()}"
        seats = ", ".join(f"{s.seat} {s.passenger}" for s in order.seats)
        description = f"{order.departure:%Y-%m-%d %H:%M} · {seats}"
        return Checkout(NAME, invoice=Invoice(
            title=route[:TITLE_LIMIT], description=description[:DESCRIPTION_LIMIT] or route,
            payload=order.id, currency=order.currency, amount=order.amount))

    async def refund(self, reference: str, amount: int, currency: str) -> str:
        # The Bot API refunds only Telegram Stars; money taken by an acquirer goes back
        # through that acquirer's dashboard, so this refund is left to a person.
        raise RefundByHand(
            f"refund {amount} {currency} of Telegram payment {reference} in the provider's "
            "dashboard (the Bot API cannot refund it)")


class RefundByHand(Exception):
    """This provider's refunds are made by a person; the outbox records it as failed."""


def successful_payment_event(charge_id: str, order_id: str, amount: int,
                             currency: str) -> ProviderEvent:
    """Telegram's successful_payment as a provider event (its charge id is unique)."""
    return ProviderEvent(NAME, charge_id, PaymentEventType.SUCCEEDED, order_id, amount, currency)
