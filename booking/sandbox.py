"""The sandbox payment provider: a checkout page served by Kassa, webhooks signed as real
providers sign them.

Webhook signature (header ``Kassa-Signature``): ``t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" with the webhook secret>``, checked in constant time, at most
SIGNATURE_TOLERANCE seconds old. The body is JSON: ``{"id", "type", "order", "amount",
"currency"}``. The checkout token names one order and is signed with the secret key, so it
can be neither guessed nor moved to another order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from booking.errors import BookingError, ErrorCode
from booking.providers import Checkout, PaymentEventType, ProviderEvent
from booking.views import OrderView

NAME = "sandbox"
SIGNATURE_HEADER = "Kassa-Signature"
SIGNATURE_TOLERANCE = 300  # seconds, either side of now
_TOKEN_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def checkout_token(order_id: str, secret_key: bytes) -> str:
    """The checkout page's token for one order."""
    mac = hmac.new(secret_key, b"checkout:" + order_id.encode(), hashlib.sha256).digest()
    return f"{order_id}.{_b64(mac[:_TOKEN_MAC_BYTES])}"


def order_of_token(token: str, secret_key: bytes) -> str:
    """The order a checkout token names; refused if it was not made by us."""
    order_id, _, mac = token.partition(".")
    if not order_id or not mac or len(token) > 200:
        raise BookingError(ErrorCode.BAD_CHECKOUT_TOKEN)
    if not hmac.compare_digest(checkout_token(order_id, secret_key), token):
        raise BookingError(ErrorCode.BAD_CHECKOUT_TOKEN)
    return order_id


def signature(body: bytes, secret: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_body(event: ProviderEvent) -> bytes:
    return json.dumps({
        "id": event.event_id, "type": event.type.value, "order": event.order_id,
        "amount": event.amount, "currency": event.currency,
    }).encode()


def parse_webhook(header: str | None, body: bytes, secret: bytes, now: datetime) -> ProviderEvent:
    """The event a webhook carries, if it is signed with our secret and fresh."""
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise BookingError(ErrorCode.BAD_SIGNATURE) from None
    expected = signature(body, secret, timestamp).partition(",v1=")[2]
    if not hmac.compare_digest(expected, given):
        raise BookingError(ErrorCode.BAD_SIGNATURE)
    if abs(now.timestamp() - timestamp) > SIGNATURE_TOLERANCE:
        raise BookingError(ErrorCode.STALE_SIGNATURE)
    try:
        data = json.loads(body)
        event_type = PaymentEventType(data["type"])
        event = ProviderEvent(
            provider=NAME, event_id=str(data["id"]), type=event_type,
            order_id=str(data["order"]), amount=int(data["amount"]),
            currency=str(data["currency"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise BookingError(ErrorCode.BAD_PAYMENT_EVENT, detail=str(error)[:100]) from None
    if not event.event_id or len(event.event_id) > 255:
        raise BookingError(ErrorCode.BAD_PAYMENT_EVENT, detail="id")
    return event


class SandboxProvider:
    """Payments that only pretend: the checkout page's Pay button makes the webhook."""

    def __init__(self, public_url: str, secret_key: bytes, webhook_secret: bytes) -> None:
        self._public_url = public_url.rstrip("/")
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret

    @property
    def name(self) -> str:
        return NAME

    def checkout(self, order: OrderView) -> Checkout:
        token = checkout_token(order.id, self.secret_key)
        return Checkout(NAME, url=f"{self._public_url}/pay/{token}")

    async def refund(self, reference: str, amount: int, currency: str) -> str:
        return f"sandbox-refund-{uuid.uuid4().hex[:12]}"

    def event(self, order: OrderView, event_type: PaymentEventType) -> ProviderEvent:
        """The event the sandbox sends when the passenger presses Pay or Decline.

        A booking is charged at most once, as a provider's payment intent is: the successful
        payment's id is the order's, so Pay pressed in two tabs at once, or a form posted
        twice before the first answer, is one payment delivered twice, not a second charge
        to refund. Each decline is an attempt of its own.
        """
        if event_type is PaymentEventType.SUCCEEDED:
            event_id = f"evt_paid_{order.id}"
        else:
            event_id = f"evt_{uuid.uuid4().hex}"
        return ProviderEvent(NAME, event_id, event_type, order.id, order.amount, order.currency)

