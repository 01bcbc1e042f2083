"""Payment providers behind one port: start a payment for a held order, refund a payment.

A provider's callbacks (webhooks, Telegram's successful_payment) are turned into
ProviderEvent values by the code that receives them, after checking that the provider
really sent them; the use case (booking/payments.py) then records and applies the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from booking.views import OrderView


class PaymentEventType(StrEnum):
    SUCCEEDED = "payment.succeeded"
    FAILED = "payment.failed"  # declined: the hold stays until it expires


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A provider's word about a payment, already checked to come from the provider."""

    provider: str
    event_id: str  # the provider's own id: the same event twice is recognised
    type: PaymentEventType
    order_id: str
    amount: int  # minor units
    currency: str


@dataclass(frozen=True, slots=True)
class Invoice:
    """What a provider that takes payment inside Telegram needs for sendInvoice."""

    title: str
    description: str
    payload: str  # comes back with the payment: the order id
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class Checkout:
    """How the passenger pays: a page to open, or an invoice in the chat."""

    provider: str
    url: str | None = None
    invoice: Invoice | None = None


class PaymentProvider(Protocol):
    @property
    def name(self) -> str: ...

    def checkout(self, order: OrderView) -> Checkout:
        """How to pay for this held order."""
        ...

    async def refund(self, reference: str, amount: int, currency: str) -> str:
        """Give ``amount`` of the payment ``reference`` back; the provider's refund id."""
        ...
