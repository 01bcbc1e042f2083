"""One Bot API call carried in the answer to Telegram's webhook POST, not sent on its own.

Telegram lets the answer to a webhook delivery hold one Bot API call (a "method" field and
its parameters); Telegram makes the call once it has the answer, and nobody learns whether
it worked. That suits the answer to a pressed button (answerCallbackQuery): every press is
answered, its result is only True, and Kassa answers at the end of the press's handling
anyway, after the card's edit (handlers/turn.py). Carried in the webhook's answer it costs
the instance no request of its own to the Bot API, and Telegram one connection less.

The slot belongs to the update being handled: the webhook receiver opens it around the
handling (a context variable, so a job's calls or another update's never land in it), it
takes the first answerCallbackQuery only, and it closes when the answer is written, so a
call made later (a handler still running in a task of its own) goes out as a request
rather than be lost. In polling mode there is no slot, and every call is a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram.request import RequestData

from bot.telegram_request import TRUE_ANSWER, Send, WrappedRequest

CARRIED = frozenset({"answerCallbackQuery"})


@dataclass
class ReplySlot:
    """The call the webhook's answer will carry, if any."""

    call: dict[str, Any] | None = None
    closed: bool = False

    def take(self, method: str, parameters: dict[str, Any]) -> bool:
        """Carry this call if the slot is open and free and the call is one to carry."""
        if self.closed or self.call is not None or method not in CARRIED:
            return False
        self.call = {"method": method, **parameters}
        return True

    def answer(self) -> dict[str, Any]:
        """The webhook's answer: the carried call, or plain ok; the slot takes no more."""
        self.closed = True
        return self.call if self.call is not None else {"ok": True}


_slot: ContextVar[ReplySlot | None] = ContextVar("webhook_reply_slot", default=None)


@contextmanager
def reply_slot() -> Iterator[ReplySlot]:
    """The slot of the update handled in this block."""
    slot = ReplySlot()
    token = _slot.set(slot)
    try:
        yield slot
    finally:
        slot.closed = True
        _slot.reset(token)


class CarryingRequest(WrappedRequest):
    """Another request class, but a call the update's slot takes goes in the webhook's
    answer: PTB is told it succeeded, as the Bot API would have answered."""

    async def around(self, endpoint: str, request_data: RequestData | None,
                     send: Send) -> tuple[int, bytes]:
        slot = _slot.get()
        if (slot is not None and request_data is not None and not request_data.contains_files
                and slot.take(endpoint, request_data.parameters)):
            return 200, TRUE_ANSWER  # what answerCallbackQuery answers
        return await send()
