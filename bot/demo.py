"""`kassa demo`: chat with the real bot in the terminal, through the Bot API emulator.

Bot messages print with their inline buttons numbered; type text to send it, a number to
press that button of the newest card, or /commands. Works with piped stdin. End of input
(Ctrl-D) and Ctrl-C end it at once, between two updates, so the database is left as
after any update: a booking in progress is there to continue next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import re
import signal
import sys
import threading
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from booking.clock import Clock, system_clock
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

PROMPT = "you> "
SIGNALS = (signal.SIGINT, signal.SIGTERM)
INERT = re.compile(r"^b:[0-9a-f]+:-:")


async def seed_demo_network(engine: AsyncEngine, settings: Settings, *,
                            clock: Clock = system_clock) -> bool:
    """Migrate, and make sure the demo network runs on every day the calendar offers
    (today to the end of the booking horizon): stored whole on the first run, topped up
    when a later run finds its last day empty. True if this was the first run."""
    from booking.demo_network import DEMO_PROBE, demo_timetable
    from booking.service import BookingService
    from storage.migrate import upgrade
    from storage.timetable import store_timetable
    from storage.uow import SqlUnitOfWorkFactory

    await upgrade(settings.database_url)
    rules = settings.booking_rules()
    booking = BookingService(SqlUnitOfWorkFactory(engine), rules=rules, clock=clock)
    stations = {s.code: s for s in await booking.stations()}
    probe = stations.get(DEMO_PROBE[0])
    if probe is not None:
        last = clock().astimezone(probe.tz).date() + timedelta(days=rules.booking_horizon_days)
        if await booking.search(*DEMO_PROBE, last):
            return False
    # From today in UTC to the horizon's end in the zone furthest ahead of it.
    first = clock().astimezone(UTC).date()
    await store_timetable(engine, demo_timetable(first, rules.booking_horizon_days + 2))
    return not stations


class Lines:
    """What the person types, read on a thread of its own: a daemon thread, so that a read
    waiting in the terminal never keeps the process from ending (asyncio.to_thread's
    worker would be waited for at exit, until Enter). Ctrl-C (SIGINT) and SIGTERM arrive
    in the same queue, after the update being handled, as None."""

    def __init__(self, stream: TextIO) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True,
                         name="kassa-demo-input").start()

    def _read(self, stream: TextIO) -> None:
        while True:
            try:
                line = stream.readline()
            except (OSError, ValueError):  # stdin closed under us
                line = ""
            with contextlib.suppress(RuntimeError):  # the loop has ended meanwhile
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            if not line:
                return

    def stop(self) -> None:
        self._queue.put_nowait(None)

    async def next(self) -> str | None:
        """The next line; "" at the end of input, None when stopped."""
        return await self._queue.get()

    def stop_on_signals(self) -> None:
        for number in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(number, self.stop)  # not on Windows

    def close(self) -> None:
        for number in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.remove_signal_handler(number)


class Transcript:
    """Prints what the bot sent or changed since the last look, buttons numbered."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seen: dict[int, int] = {}  # message id -> edits already printed
        self.texts: dict[int, str] = {}  # message id -> the text printed
        self.buttons: list[str] = []  # callback data of the numbered buttons

    def show(self, messages: list[Any]) -> None:
        for message in messages:
            if self.seen.get(message.message_id) == message.edits:
                continue
            self.seen[message.message_id] = message.edits
            if self.texts.get(message.message_id) == message.visible_text and not message.buttons:
                continue  # an older card that only lost its buttons: nothing new to read
            self.texts[message.message_id] = message.visible_text
            print("\nbot> " + message.visible_text.replace("\n", "\n     "), file=self.out)
            rows = message.buttons
            if rows:
                self.buttons = []
                for row in rows:
                    cells = []
                    for text, data in row:
                        if INERT.match(data or ""):  # aisle, weekday names: not pressable
                            cells.append(text.strip() or "·")
                            continue
                        self.buttons.append(data)
                        cells.append(f"[{len(self.buttons)}] {text}")
                    print("     " + "  ".join(cells), file=self.out)
        self.out.flush()


async def chat(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    from bot.app import build_application, database_persistence, prepare
    from bot.emulator import BotApiEmulator, BotHarness, EmulatorRequest
    from bot.services import create_services
    from storage.database import create_engine

    lines = Lines(stdin)
    lines.stop_on_signals()
    engine = create_engine(settings.database_url)
    try:
        if await seed_demo_network(engine, settings):
            print("Seeded the demo network: 21 cities, trips every day of the coming year.",
                  file=out)
        emulator = BotApiEmulator()
        services = create_services(settings, engine)
        application = build_application(
            services, token=emulator.token, request=EmulatorRequest(emulator),
            persistence=database_persistence(engine),
        )
        # A stable user id, so the conversation and bookings are there next time.
        async with BotHarness(application, emulator, raise_errors=False) as harness:
            await prepare(application)
            user = harness.user(getpass.getuser().capitalize() or "Guest", user_id=4242,
                                language_code=None)
            transcript = Transcript(out)
            print("Kassa demo: type a message, a number to press a button, /help; "
                  "Ctrl-D or Ctrl-C to quit.", file=out)
            # /start keeps a booking in progress: its menu offers to continue it.
            await user.send("/start")
            transcript.show(user.messages)
            while True:
                if stdin.isatty():
                    print(PROMPT, end="", file=out, flush=True)
                line = await lines.next()
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                if not stdin.isatty():
                    print(PROMPT + text, file=out)
                await act(user, transcript, text, out)
                transcript.show(user.messages)
                for error in harness.errors:
                    print(f"(the bot failed: {error!r})", file=out)
                harness.errors.clear()
    finally:
        lines.close()
        await engine.dispose()
    print("\nbye", file=out)
    return 0


async def act(user: Any, transcript: Transcript, text: str, out: TextIO) -> None:
    """A number presses that button of the newest card; anything else is sent as text."""
    if text.isdigit() and 1 <= int(text) <= len(transcript.buttons):
        data = transcript.buttons[int(text) - 1]
        message = next((m for m in reversed(user.messages) if m.find_button(data)), None)
        if message is None:
            print("(that button is gone)", file=out)
            return
        query = await user.press(data, message=message)
        if query.answer is not None and query.answer.text:
            print(f"\n(bot notice) {query.answer.text}", file=out)
        return
    await user.send(text)
