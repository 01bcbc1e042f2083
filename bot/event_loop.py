"""The event loop Kassa's servers run on: uvloop (libuv, in C) unless asked otherwise.

A webhook instance or the booking API spends much of each request in the event loop and
its sockets: reading the HTTP request, the round trips to PostgreSQL, the Bot API calls.
uvloop does that work in C (compare: bench/conversation.py --event-loop asyncio|uvloop,
bench/api.py likewise). The standard loop stays one setting away (KASSA_EVENT_LOOP=asyncio)
should a library ever misbehave on uvloop, and is what the terminal demo and the tests run
on.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar, get_args

EventLoopName = Literal["uvloop", "asyncio"]
EVENT_LOOPS: tuple[EventLoopName, ...] = get_args(EventLoopName)
T = TypeVar("T")


def loop_factory(name: EventLoopName) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the loop ``name`` (None: asyncio's default)."""
    if name == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], name: EventLoopName) -> T:
    """``asyncio.run(main)`` on the loop ``name``.

    Until ``main`` sets up its own handling of SIGTERM (a server does once it has started),
    SIGTERM ends it as Ctrl-C does: asyncio cancels ``main`` and raises KeyboardInterrupt
    here, for the command to say it stopped. Otherwise a stop asked for while a server
    still checks its database would kill it without a word."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
            return runner.run(main)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _as_interrupt(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)
