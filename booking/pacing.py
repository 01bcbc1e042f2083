"""Telegram's send limits, held by Kassa itself: about 30 messages a second overall and one
a second in any one chat.

Telegram answers a bot that sends faster with 429 and a retry_after to wait out; a bot that
keeps hitting it is throttled for longer. So the outbox never relies on those answers: a
Pacer hands out turns. The overall limit is a schedule of slots 1/30 s apart, each call
taking the next free one; a chat's next turn starts ``chat_interval`` after its previous
call *came back*, so whatever the network's delay, Telegram sees the calls to one chat at
least that far apart (its clock stamps a call after we sent it and before we got the
answer). A 429 all the same (the limit is Telegram's to change) pauses every turn for
retry_after.

A delivery running in the outbox worker carries a DeliveryTicket (a context variable):
its calls wait for their turns, and a delivery that has not yet sent anything is given
back instead (NotAttempted) when its worker is stopping or its claim on the row is about
to lapse, so no row is ever sent by two workers. Calls made outside a delivery (answers to
a person's own message) are never delayed, only counted, so deliveries leave room for them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

# Telegram's documented limits for bots (core.telegram.org/bots/faq): "no more than 30
# messages per second" when notifying many users, and "avoid sending more than one
# message per second" in a single chat.
TELEGRAM_MESSAGES_PER_SECOND = 30.0
TELEGRAM_CHAT_INTERVAL_SECONDS = 1.0
# The overall limit is also held as "at most N calls started in any window of 1 s + this":
# the time between our starting a call and Telegram stamping it varies a little, and the
# guard keeps that variation from putting N + 1 calls in one of Telegram's seconds. It
# costs 2% of the rate (29.4 instead of 30 messages/s).
WINDOW_GUARD_SECONDS = 0.02
# Chats not written to for this long are forgotten (their next turn is free anyway).
_FORGET_AFTER_SECONDS = 60.0
_SWEEP_EVERY = 4096


@dataclass(frozen=True, slots=True)
class SendLimits:
    """How fast the bot may send: ``per_second`` overall (None: no limit) and at least
    ``chat_interval`` seconds between calls to one chat (0: no limit)."""

    per_second: float | None = TELEGRAM_MESSAGES_PER_SECOND
    chat_interval: float = TELEGRAM_CHAT_INTERVAL_SECONDS

    def __post_init__(self) -> None:
        if self.per_second is not None and self.per_second <= 0:
            raise ValueError(f"per_second must be positive or None, not {self.per_second}")
        if self.chat_interval < 0:
            raise ValueError(f"chat_interval must not be negative, not {self.chat_interval}")

    @classmethod
    def lifted(cls) -> SendLimits:
        """No limits at all: for measuring the worker itself, and for tests about other
        things."""
        return cls(per_second=None, chat_interval=0.0)


class NotAttempted(Exception):
    """The delivery was given back before anything was sent: the worker is stopping, or its
    claim on the message runs out too soon to finish a call. The message is due again at
    once, and this does not count as an attempt."""


@dataclass(eq=False, slots=True)
class DeliveryTicket:
    """What the pacer knows of the delivery a call belongs to."""

    deadline: float  # on the pacer's clock: no call of this delivery starts later
    stop: asyncio.Event | None = None  # set when the worker is stopping
    calls: int = 0  # calls started so far
    parts_sent: int = 0  # of a message sent in parts, those sent so far, earlier attempts' too

    def check(self, now: float) -> None:
        """Refuse to start a call the claim cannot cover, or a first call when stopping."""
        if now >= self.deadline:
            raise NotAttempted("the claim on this message is about to lapse")
        if self.calls == 0 and self.stop is not None and self.stop.is_set():
            raise NotAttempted("the outbox worker is stopping")


# Set by the outbox worker around each delivery; None for every other call.
current_ticket: ContextVar[DeliveryTicket | None] = ContextVar("current_ticket", default=None)


@dataclass(eq=False, slots=True)
class _Chat:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ready_at: float = 0.0  # the earliest start of the next call


class Pacer:
    """Turns for calls to Telegram, within SendLimits."""

    def __init__(self, limits: SendLimits | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or SendLimits()
        self._clock = clock
        per_second = self.limits.per_second
        self._interval = 1.0 / per_second if per_second else 0.0
        self._last_start = -math.inf  # of a call, overall
        self._slot_turn = asyncio.Lock()
        # When the last calls started, as many as may start in one window: a schedule of
        # slots alone would let calls that all woke late (the event loop was busy) go out
        # in one burst.
        self._starts: deque[float] = deque(maxlen=math.floor(per_second) if per_second else 0)
        self._window = 1.0 + WINDOW_GUARD_SECONDS
        self._paused_until = 0.0  # flood control told us to wait until then
        self._chats: dict[Hashable, _Chat] = {}
        self._since_sweep = 0

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Telegram said 429: no call starts for ``seconds``."""
        until = self._clock() + max(0.0, seconds)
        self._paused_until = max(self._paused_until, until)

    @contextmanager
    def unpaced(self, chat_id: Hashable) -> Iterator[None]:
        """A call made at once, inside the block (an answer to the person's own message):
        it uses a slot, and the chat's next paced call keeps its distance from its end."""
        if self._interval:
            now = self._clock()
            self._last_start = max(self._last_start, now)
            self._starts.append(now)
        try:
            yield
        finally:
            if self.limits.chat_interval:
                chat = self._chat(chat_id)
                chat.ready_at = max(chat.ready_at, self._clock() + self.limits.chat_interval)

    @asynccontextmanager
    async def turn(self, chat_id: Hashable,
                   ticket: DeliveryTicket | None = None) -> AsyncIterator[None]:
        """Wait for a turn to call ``chat_id``; the call is made inside the block, and the
        chat's next turn starts ``chat_interval`` after the block ends."""
        chat = self._chat(chat_id) if self.limits.chat_interval else None
        if chat is None:
            await self._slot(ticket)
            yield
            return
        async with chat.lock:
            await self._until(chat.ready_at, ticket)
            await self._slot(ticket)
            try:
                yield
            finally:
                chat.ready_at = self._clock() + self.limits.chat_interval

    async def _slot(self, ticket: DeliveryTicket | None) -> None:
        """Wait for a start within the overall limit; callers go in the order they came.

        The start is decided when the caller wakes, not booked ahead: calls that all woke
        late (the event loop was busy) still go out one interval apart."""
        if self._interval:
            async with self._slot_turn:
                while True:
                    now = self._clock()
                    start = max(self._last_start + self._interval, self._paused_until,
                                self._window_free())
                    if start <= now:
                        break
                    await self._until(start, ticket)
                # A sleep ends a little late (~1 ms, 3% of an interval): counting from
                # when the slot was due, not from waking, keeps that out of the rate. The
                # window's guard covers the difference.
                if now - start > self._interval / 2:  # idle before: the schedule restarts
                    start = now
                self._last_start = start
                self._starts.append(start)
        else:
            while (now := self._clock()) < self._paused_until:
                await self._until(self._paused_until, ticket)
        if ticket is not None:
            ticket.check(self._clock())
            ticket.calls += 1

    async def _until(self, moment: float, ticket: DeliveryTicket | None) -> None:
        """Sleep until ``moment``; a ticket's worker stopping cuts a first call's wait short."""
        delay = moment - self._clock()
        if ticket is not None:
            ticket.check(self._clock())
        if delay <= 0:
            return
        if ticket is None or ticket.stop is None or ticket.calls > 0:
            await asyncio.sleep(delay)
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await ticket.stop.wait()
        ticket.check(self._clock())

    def _window_free(self) -> float:
        """When one more call may start without making the last window's count too many."""
        starts = self._starts
        if starts.maxlen and len(starts) == starts.maxlen:
            return starts[0] + self._window
        return 0.0

    def _chat(self, chat_id: Hashable) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            self._since_sweep += 1
            if self._since_sweep >= _SWEEP_EVERY:
                self._sweep()
            chat = self._chats[chat_id] = _Chat()
        return chat

    def _sweep(self) -> None:
        """Forget chats whose next turn is long free and that nobody is waiting for."""
        self._since_sweep = 0
        horizon = self._clock() - _FORGET_AFTER_SECONDS
        for key in [k for k, c in self._chats.items()
                    if c.ready_at < horizon and not c.lock.locked()]:
            del self._chats[key]
