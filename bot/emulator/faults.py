"""Injected failures and flood control, so tests can exercise a bot's error paths."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.emulator.errors import BotApiError, too_many_requests

ChatKey = int | str


@dataclass(slots=True)
class _Fault:
    method: str
    chat_id: ChatKey | None
    error: BotApiError
    remaining: int


class FaultPlan:
    """Errors scheduled for the next calls of a method, optionally only for one chat."""

    def __init__(self) -> None:
        self._faults: list[_Fault] = []

    def add(self, method: str, error: BotApiError, chat_id: ChatKey | None, times: int) -> None:
        """Fail the next `times` matching calls with `error`."""
        self._faults.append(_Fault(method.lower(), chat_id, error, times))

    def take(self, method: str, chat_id: ChatKey | None) -> BotApiError | None:
        """The error for this call, if one is scheduled; consumes one occurrence."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.method == method and (fault.chat_id is None or fault.chat_id == chat_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault.error
        return None

    def clear(self) -> None:
        """Forget every scheduled failure."""
        self._faults.clear()


@dataclass(slots=True)
class _Limit:
    messages: int
    per_seconds: float
    sent: deque[float]


class FloodControl:
    """Sliding-window send limits per chat, answered with 429 like Telegram's flood control."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._limits: dict[ChatKey | None, _Limit] = {}

    def limit(self, chat_id: ChatKey | None, messages: int, per_seconds: float) -> None:
        """Allow `messages` sends per `per_seconds` in a chat (None: across all chats)."""
        self._limits[chat_id] = _Limit(messages, per_seconds, deque())

    def remove(self, chat_id: ChatKey | None) -> None:
        """Lift the limit of a chat."""
        self._limits.pop(chat_id, None)

    def check(self, chat_id: ChatKey) -> None:
        """Count one send to `chat_id`, or raise 429 when a limit is exhausted."""
        if not self._limits:
            return
        now = self._clock()
        applicable = [lim for key in (chat_id, None) if (lim := self._limits.get(key))]
        for lim in applicable:
            while lim.sent and now - lim.sent[0] >= lim.per_seconds:
                lim.sent.popleft()
            if len(lim.sent) >= lim.messages:
                wait = lim.sent[0] + lim.per_seconds - now
                raise too_many_requests(max(1, math.ceil(wait)))
        for lim in applicable:
            lim.sent.append(now)
