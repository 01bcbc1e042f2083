"""`kassa demo`: chat with the real bot in the terminal, through the Bot API emulator.

Bot messages print with their inline buttons numbered; type text to send it, a number or a
button's exact label to press that button of the newest card, or /commands. A keyboard of
numbers (how many passengers) is not numbered: its buttons show their labels, and a number
typed there is the button of that number, or text. Works with piped stdin. End of input
(Ctrl-D) and Ctrl-C end it at once, between two updates, so the database is left as
after any update: a booking in progress is there to continue next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import os
import re
import secrets
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
# How often the demo runs the bot's scheduled work between inputs: the outbox every
# interval, the held card's countdown and the expiry sweep every so many.
JOBS_INTERVAL_SECONDS = 1.0
COUNTDOWN_EVERY = 5
EXPIRY_EVERY = 30
INERT = re.compile(r"^b:[0-9a-f]+:-:")
NUMERAL = re.compile(r"(✅ ?)?[0-9]+")  # a number's button, marked when it was the answer
# The settings the demo makes and keeps when the environment leaves them unset.
KEPT_SECRETS = ("secret_key", "payment_webhook_secret", "ticket_signing_key")


def kept_secrets(settings: Settings) -> Settings:
    """The settings with the secrets the environment leaves unset (checkout links, the
    sandbox's webhooks, ticket signatures) made on the demo's first run and kept beside its
    SQLite database, readable by its owner only: a Pay link or a ticket's code from an
    earlier run still works after a restart, as the booking it belongs to is still there.
    A database elsewhere (or in memory) gets secrets for this run only."""
    from pydantic import SecretStr

    missing = [name for name in KEPT_SECRETS if getattr(settings, name) is None]
    path = secrets_path(settings.database_url)
    if not missing or path is None:
        return settings
    stored = _read_secrets(path)
    made = {name: _new_secret(name) for name in missing if not _usable(name, stored.get(name))}
    if made:
        stored.update(made)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a file there before, made readable by others
        with os.fdopen(descriptor, "w") as file:
            json.dump(stored, file, indent=1)
    return settings.model_copy(update={name: SecretStr(stored[name]) for name in missing})


def secrets_path(database_url: str) -> Path | None:
    """Where the demo keeps its secrets: kassa.db's are in kassa.secrets.json."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).with_suffix(".secrets.json")


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or unreadable: new ones replace it
        return {}
    return stored if isinstance(stored, dict) else {}


def _usable(name: str, value: object) -> bool:
    from booking.tickets.codes import SigningKeyError, load_signing_key

    if not isinstance(value, str) or not value:
        return False
    if name == "ticket_signing_key":
        try:
            load_signing_key(value)
        except SigningKeyError:
            return False
    return True


def _new_secret(name: str) -> str:
    from booking.tickets.codes import generate_signing_key

    return generate_signing_key() if name == "ticket_signing_key" else secrets.token_urlsafe(32)


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
        # A terminal's bytes are decoded here, not by the stream: a line that is not UTF-8
        # (a paste cut inside a character) is then a line with a replacement character in
        # it, where a strict stream would raise, which would read as the end of input.
        raw = getattr(stream, "buffer", None)
        encoding = getattr(stream, "encoding", None) or "utf-8"
        while True:
            try:
                line = (raw.readline().decode(encoding, "replace") if raw is not None
                        else stream.readline())
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
        self.buttons: list[str] = []  # callback data of the newest card's buttons
        self.newest = 0  # the id of the newest message printed
        self.labels: list[str] = []  # their labels, in the same order
        # The newest card is a keyboard of numbers (how many passengers): its buttons are
        # pressed by their labels, and a number typed there is never a button's position.
        self.number_pad = False
        # While the person's own input is handled, its answer is printed by the loop that
        # reads the input, followed by the prompt; the background then leaves it alone.
        self.answering = False

    def show(self, messages: list[Any]) -> bool:
        """Print what is new; whether anything was."""
        printed = False
        for message in messages:
            if self.seen.get(message.message_id) == message.edits:
                continue
            self.seen[message.message_id] = message.edits
            if message.document is not None:
                self._save(message.document)
                printed = True
                continue
            if self.texts.get(message.message_id) == message.visible_text and not message.buttons:
                continue  # an older card that only lost its buttons: nothing new to read
            self.texts[message.message_id] = message.visible_text
            printed = True
            # An older card changed (the held card's countdown, under a newer card): it is
            # printed, but the numbers typed next stay the newest card's, or a "1" meant for
            # that card would press the older one's first button (Cancel hold).
            older = message.message_id < self.newest
            self.newest = max(self.newest, message.message_id)
            print(("\nbot (edited)> " if older else "\nbot> ")
                  + message.visible_text.replace("\n", "\n     "), file=self.out)
            rows = message.inline_keyboard
            if older:
                for url_button in (b for row in rows for b in row if b.get("url")):
                    print(f"     {url_button['text']}: {url_button['url']}", file=self.out)
            elif rows:
                self.buttons, self.labels = [], []
                self.number_pad = number_pad(rows)
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
                        self.labels.append(text)
                        # On a keyboard of numbers, a position beside each would read as
                        # one more number to type: its buttons show their labels alone.
                        cells.append(f"[{text}]" if self.number_pad
                                     else f"[{len(self.buttons)}] {text}")
                    if cells:
                        print("     " + "  ".join(cells), file=self.out)
        self.out.flush()
        return printed

    def button_for(self, typed: str) -> str | None:
        """The newest card's button that ``typed`` presses, if any: the one numbered so
        (not on a keyboard of numbers, whose numbers are its labels), else the one labelled
        exactly so."""
        if (not self.number_pad and typed.isdecimal()
                and 1 <= int(typed) <= len(self.buttons)):
            return self.buttons[int(typed) - 1]
        return next((data for label, data in zip(self.labels, self.buttons, strict=True)
                     if label == typed), None)

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
        # The checkout page is served on loopback: on KASSA_HTTP_PORT if free, else any.
        port = _demo_port(settings.http_host, settings.http_port)
        # The demo is the embedded default: the booking service runs in this process, on the
        # database seeded above, even where KASSA_BOOKING_API_URL names a separate one.
        settings = settings.model_copy(update={"public_url": f"http://{settings.http_host}:{port}",
                                               "booking_api_url": None})
        settings = kept_secrets(settings)
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
            user = harness.user(getpass.getuser().capitalize() or "Guest", user_id=DEMO_USER_ID,
                                language_code=None)
            transcript = Transcript(out)
            print("Kassa demo: type a message, a button's number or label to press it, "
                  "/help; Ctrl-D or Ctrl-C to quit.", file=out)
            print(f"Payment pages are served at {settings.public_url}", file=out)
            # /start keeps a booking in progress: its menu offers to continue it.
            await user.send("/start")
            transcript.show(user.messages)
            prompt = PROMPT if stdin.isatty() else None
            background = asyncio.create_task(
                _run_jobs(jobs, application, user, transcript, prompt))
            # What handlers schedule for themselves (a broadcast's progress card, edited
            # until every message is out) runs on the Application's job queue, as it does
            # in `kassa run`.
            queue = application.job_queue
            try:
                if queue is not None:
                    await queue.start()
                while True:
                    if stdin.isatty():
                        print(PROMPT, end="", file=out, flush=True)
                    line = await lines.next()
                    if not line:
                        break
                    text = as_telegram_text(line).strip()
                    if not text:
                        continue
                    if not stdin.isatty():
                        print(PROMPT + text, file=out)
                    transcript.answering = True
                    try:
                        await act(user, transcript, text, out)
                        transcript.show(user.messages)
                    finally:
                        transcript.answering = False
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
                if queue is not None and queue.scheduler.running:
                    await queue.stop(wait=False)
    finally:
        lines.close()
        if web_runner is not None:
            await web_runner.cleanup()
        await engine.dispose()
        remove_logging(log_handler)
    print("\nbye", file=out)
    return 0


# The one person of the demo (KASSA_STAFF_IDS=4242 makes them staff too).
DEMO_USER_ID = 4242

# What a terminal can send that Telegram cannot: bytes that are not UTF-8 (a paste cut in
# the middle of a character), which Python reads as lone surrogates.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def as_telegram_text(line: str) -> str:
    """The line as a Telegram client would send it: what is not UTF-8 is shown as the
    replacement character, not passed on to fail where the text is stored."""
    return _LONE_SURROGATE.sub("\ufffd", line)


def _demo_port(host: str, preferred: int) -> int:
    """KASSA_HTTP_PORT (8080 unless set) when it is free, so that the Pay links of an
    earlier run still lead to the page; else any free port."""
    import socket

    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            # As aiohttp binds: the last run's connections waiting out TIME_WAIT on the
            # port do not make it taken.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:  # taken: another program, or another demo
                continue
            return int(probe.getsockname()[1])
    raise OSError(f"no free port on {host}")


async def _run_jobs(jobs: Any, application: Any, user: Any, transcript: Transcript,
                    prompt: str | None) -> None:
    """The bot's scheduled work, between inputs: a payment made in the browser brings the
    tickets into the terminal without a key pressed, and the held card counts down. What
    arrives so is followed by the prompt again (``prompt``, at a terminal), as the person
    may be waiting at it."""
    sweeps = 0
    while True:
        await asyncio.sleep(JOBS_INTERVAL_SECONDS)
        sweeps += 1
        if sweeps % EXPIRY_EVERY == 0:
            await jobs.expire_holds()
        await jobs.deliver_outbox(application)
        if sweeps % COUNTDOWN_EVERY == 0:
            await jobs.count_down_held_cards(application)
        # Whatever came meanwhile: tickets, a countdown, a broadcast's progress.
        if not transcript.answering and transcript.show(user.messages) and prompt:
            print(prompt, end="", file=transcript.out, flush=True)


def number_pad(rows: list[list[dict[str, Any]]]) -> bool:
    """Whether a keyboard is one of numbers (1 to 9 passengers): its pressable buttons are
    all numerals ("✅ 2" is one), but for a last row of others beneath them (« Back). A
    calendar, whose days come with Today and Tomorrow, is not one."""
    pressable = [[button["text"] for button in row
                  if not button.get("url") and not INERT.match(button.get("callback_data") or "")]
                 for row in rows]
    pressable = [row for row in pressable if row]
    body = [label for row in pressable[:-1] or pressable for label in row]
    return bool(body) and all(NUMERAL.fullmatch(label) for label in body)


async def act(user: Any, transcript: Transcript, text: str, out: TextIO) -> None:
    """A number or a label presses that button of the newest card (Transcript.button_for);
    anything else is sent as text."""
    data = transcript.button_for(text)
    if data is not None:
        message = next((m for m in reversed(user.messages) if m.find_button(data)), None)
        if message is None:
            print("(that button is gone)", file=out)
            return
        query = await user.press(data, message=message)
        if query.answer is not None and query.answer.text:
            print(f"\n(bot notice) {query.answer.text}", file=out)
        return
    await user.send(text)
