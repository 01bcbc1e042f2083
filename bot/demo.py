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
import logging
import re
import signal
import sys
import threading
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from booking.clock import Clock, system_clock
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

PROMPT = "you> "
SIGNALS = (signal.SIGINT, signal.SIGTERM)
FILES_DIR = Path("kassa-demo-files")
# How often the demo runs the bot's scheduled work (outbox, expired holds) between inputs.
JOBS_INTERVAL_SECONDS = 1.0
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
    """Prints what the bot sent or changed since the last look, buttons numbered; links are
    printed as plain URL lines and files are saved under FILES_DIR."""

    def __init__(self, out: TextIO, files_dir: Path = FILES_DIR) -> None:
        self.out = out
        self.files_dir = files_dir
        self.seen: dict[int, int] = {}  # message id -> edits already printed
        self.texts: dict[int, str] = {}  # message id -> the text printed
        self.buttons: list[str] = []  # callback data of the numbered buttons

    def show(self, messages: list[Any]) -> None:
        for message in messages:
            if self.seen.get(message.message_id) == message.edits:
                continue
            self.seen[message.message_id] = message.edits
            if message.document is not None:
                self._save(message.document)
                continue
            if self.texts.get(message.message_id) == message.visible_text and not message.buttons:
                continue  # an older card that only lost its buttons: nothing new to read
            self.texts[message.message_id] = message.visible_text
            print("\nbot> " + message.visible_text.replace("\n", "\n     "), file=self.out)
            rows = message.inline_keyboard
            if rows:
                self.buttons = []
                for row in rows:
                    cells = []
                    for button in row:
                        text, data = button["text"], button.get("callback_data")
                        if button.get("url"):
                            print(f"     {text}: {button['url']}", file=self.out)
                            continue
                        if INERT.match(data or ""):  # aisle, weekday names: not pressable
                            cells.append(text.strip() or "·")
                            continue
                        self.buttons.append(data)
                        cells.append(f"[{len(self.buttons)}] {text}")
                    if cells:
                        print("     " + "  ".join(cells), file=self.out)
        self.out.flush()

    def _save(self, document: Any) -> None:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        name = Path(document.file_name or f"{document.file_unique_id}.bin").name
        path = self.files_dir / name
        path.write_bytes(document.data)
        print(f"\nbot> 📎 {name} (saved to {path})", file=self.out)


async def chat(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    from aiohttp import web

    from booking.tickets.codes import public_key_pem
    from bot.app import build_application, database_persistence, prepare
    from bot.emulator import BotApiEmulator, BotHarness, EmulatorRequest
    from bot.logs import configure
    from bot.logs import remove as remove_logging
    from bot.metrics import Metrics, watch_outbox
    from bot.services import create_jobs, create_services, sandbox_provider, ticket_codes
    from bot.web import make_web_app
    from storage.database import create_engine

    # Warnings and errors only, on stderr: the chat on stdout stays readable.
    log_handler = configure(settings.log_format or "console",
                            level=max(logging.WARNING,
                                      logging.getLevelName(settings.log_level.upper())))
    lines = Lines(stdin)
    lines.stop_on_signals()
    engine = create_engine(settings.database_url)
    web_runner: web.AppRunner | None = None
    try:
        if await seed_demo_network(engine, settings):
            print("Seeded the demo network: 21 cities, trips every day of the coming year.",
                  file=out)
        # The checkout page is served on loopback, on a free port.
        port = _free_port(settings.http_host)
        # The demo is the embedded default: the booking service runs in this process, on the
        # database seeded above, even where KASSA_BOOKING_API_URL names a separate one.
        settings = settings.model_copy(update={"public_url": f"http://{settings.http_host}:{port}",
                                               "booking_api_url": None})
        sandbox = sandbox_provider(settings)
        emulator = BotApiEmulator()
        codes = ticket_codes(settings)
        metrics = Metrics()
        watch_outbox(metrics, engine)
        services = create_services(settings, engine, sandbox=sandbox, codes=codes,
                                   metrics=metrics)
        jobs = create_jobs(settings, engine, sandbox=sandbox, metrics=metrics)
        application = build_application(
            services, token=emulator.token, request=EmulatorRequest(emulator),
            persistence=database_persistence(engine), metrics=metrics, engine=engine,
        )
        web_app = make_web_app(services, sandbox, settings.operator_name,
                               public_key_pem=public_key_pem(codes.signer.public_key),
                               metrics=metrics)
        web_runner = web.AppRunner(web_app, access_log=None)
        await web_runner.setup()
        await web.TCPSite(web_runner, settings.http_host, port).start()
        # A stable user id, so the conversation and bookings are there next time.
        async with BotHarness(application, emulator, raise_errors=False) as harness:
            await prepare(application)
            user = harness.user(getpass.getuser().capitalize() or "Guest", user_id=4242,
                                language_code=None)
            transcript = Transcript(out)
            print("Kassa demo: type a message, a number to press a button, /help; "
                  "Ctrl-D or Ctrl-C to quit.", file=out)
            print(f"Payment pages are served at {settings.public_url}", file=out)
            # /start keeps a booking in progress: its menu offers to continue it.
            await user.send("/start")
            transcript.show(user.messages)
            background = asyncio.create_task(_run_jobs(jobs, application, user, transcript))
            try:
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
                # Piped input ends here: deliver what the last steps queued (tickets, say).
                await jobs.deliver_outbox(application)
                transcript.show(user.messages)
            finally:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
    finally:
        lines.close()
        if web_runner is not None:
            await web_runner.cleanup()
        await engine.dispose()
        remove_logging(log_handler)
    print("\nbye", file=out)
    return 0


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def _run_jobs(jobs: Any, application: Any, user: Any, transcript: Transcript) -> None:
    """The bot's scheduled work, between inputs: a payment made in the browser brings the
    tickets into the terminal without a key pressed."""
    sweeps = 0
    while True:
        await asyncio.sleep(JOBS_INTERVAL_SECONDS)
        sweeps += 1
        if sweeps % 30 == 0:
            await jobs.expire_holds()
        report = await jobs.deliver_outbox(application)
        if report.handled:
            transcript.show(user.messages)


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
