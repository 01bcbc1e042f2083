"""Kassa's own rate limiter for python-telegram-bot: Telegram's limits held before Telegram
has to enforce them (booking/pacing.py says how).

PTB's bundled AIORateLimiter holds the overall rate and the per-group one, but not one
message a second in a private chat, which is what a passenger receiving a ticket card,
two PDFs and an .ics in a row would hit. This one paces the calls that the outbox makes
(its deliveries carry a ticket, booking.pacing.current_ticket); calls answering a
person's own message are never delayed, only counted.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from booking.pacing import Pacer, current_ticket

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Calls that put a message in a chat (sendMessage, sendDocument, copyMessage, ...) or change
# one (editMessageText, ...): what Telegram's per-chat and overall message limits count.
_MESSAGE_CALLS = ("send", "edit", "copy", "forward")
# A 429 on a paced call is waited out and the same call made again, this often; after
# that the delivery is retried later (see handlers/notifications.telegram_call).
FLOOD_RETRIES = 3


def counts_as_message(endpoint: str) -> bool:
    return endpoint.lower().startswith(_MESSAGE_CALLS)


def retry_seconds(error: RetryAfter) -> float:
    value: Any = error.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)


class KassaRateLimiter(BaseRateLimiter[None]):
    """Calls to Telegram within the pacer's limits; a 429 pauses every paced call."""

    def __init__(self, pacer: Pacer, *, flood_retries: int = FLOOD_RETRIES) -> None:
        self.pacer = pacer
        self._flood_retries = flood_retries

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> JSONResult:
        chat_id = data.get("chat_id")
        if chat_id is None or not counts_as_message(endpoint):
            return await callback(*args, **kwargs)
        ticket = current_ticket.get()
        if ticket is None:  # an answer to the person: at once, but counted
            with self.pacer.unpaced(chat_id):
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as error:
                    self.pacer.pause(retry_seconds(error))
                    raise
        for attempt in range(self._flood_retries + 1):
            async with self.pacer.turn(chat_id, ticket):
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as error:
                    # Telegram's own limit is lower than ours just now: everyone waits.
                    self.pacer.pause(retry_seconds(error))
                    # The refused call delivered nothing: if the delivery cannot go on
                    # (its worker stops, its claim runs out) it is given back unsent.
                    ticket.calls -= 1
                    if attempt == self._flood_retries:
                        raise
        raise AssertionError("unreachable: the last attempt returns or raises")
