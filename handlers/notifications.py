"""Messages the bot sends on its own, delivered from the outbox: one deliverer per kind.

Each deliverer renders the message in the recipient's language at the moment of sending
(from the current state of the order, so a hold paid meanwhile is not called expired) and
turns Telegram's answers into the outbox's terms: blocked, retry later, or sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from booking.errors import BookingError
from booking.model import OrderStatus
from booking.outbox import Deliverer, MessageKind, RetryLater, Undeliverable
from booking.ports import OutboxMessage
from handlers import callback_data as cb
from handlers.cards import Card, button
from handlers.context import Services
from locales import Texts, texts


async def recipient_texts(services: Services, message: OutboxMessage) -> tuple[int, Texts]:
    if message.recipient is None:
        raise Undeliverable("a message for nobody")
    customer = await services.customers.customer(message.recipient)
    if customer is not None and customer.blocked:
        raise Undeliverable("the person has blocked the bot", blocked=True)
    return message.recipient, texts(customer.language if customer else "en")


async def send_card(bot: Bot, chat_id: int, card: Card) -> None:
    """Send, with Telegram's refusals in the outbox's terms."""
    try:
        await bot.send_message(chat_id, card.text, reply_markup=card.markup)
    except Forbidden as error:
        raise Undeliverable(error.message, blocked=True) from error
    except RetryAfter as error:
        raise RetryLater(error.message, after=_seconds(error.retry_after)) from error
    except BadRequest as error:  # chat not found, text refused: trying again changes nothing
        raise Undeliverable(error.message) from error
    except (TimedOut, NetworkError) as error:
        raise RetryLater(error.message) from error


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


def hold_expired(bot: Bot, services: Services) -> Deliverer:
    async def deliver(message: OutboxMessage) -> None:
        """Tell the passenger that their hold ran out (unless it was paid meanwhile)."""
        chat_id, _ = await recipient_texts(services, message)
        try:
            view = await services.booking.order(str(message.payload.get("order", "")))
        except BookingError as error:
            raise Undeliverable(f"no such order: {error}") from error
        if view.status is not OrderStatus.EXPIRED:
            return  # paid late, or cancelled: nothing to tell
        route = f"{view.origin.name(_.language)} → {view.destination.name(_.language)}"
        text = _("Your hold for {route} on {day} at {time} has expired and the seats were "
                 "released.", route=route,
                 day=_.day(view.departure.date(), services.booking.now().astimezone(
                     view.origin.tz).date()),
                 time=_.time(view.departure))
        card = Card(text, [[button(_("🚌 Book again"), cb.menu("book"))]])
        await send_card(bot, chat_id, card)

    return deliver


DelivererFactory = Callable[[Bot, Services], Callable[[OutboxMessage], Awaitable[None]]]

TELEGRAM_DELIVERERS: dict[MessageKind, DelivererFactory] = {
    MessageKind.HOLD_EXPIRED: hold_expired,
}


def telegram_deliverers(bot: Bot, services: Services) -> dict[str, Deliverer]:
    """The deliverers of every kind of message the bot sends to a person."""
    return {kind.value: make(bot, services) for kind, make in TELEGRAM_DELIVERERS.items()}
