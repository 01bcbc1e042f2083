"""Two `kassa webhook` processes on one PostgreSQL database are one bot.

Real processes against the Bot API emulator served over loopback HTTP; the emulator POSTs
each update to the two instances in turn, as a round-robin load balancer would, so one
passenger's consecutive taps reach different instances. A whole booking is made and paid
that way: the conversation never falls back to the menu, two names typed at once (one
reaching each instance) are both kept, and the tickets arrive once. About PostgreSQL: on
SQLite Kassa is one process.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from booking.clock import system_clock
from booking.demo_network import demo_timetable
from booking.tickets.codes import generate_signing_key
from bot.emulator import BotApiEmulator, EmulatorServer, SimulatedUser
from bot.emulator.webhook import WebhookDelivery
from storage.timetable import store_timetable
from tests.test_kassa_run import KASSA, clean_env, free_port, until

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

MENU = "What would you like to do?"


@asynccontextmanager
async def instances(tmp_path: Path, database_url: str, emulator: BotApiEmulator,
                    server: EmulatorServer, count: int) -> AsyncIterator[list[int]]:
    """``count`` `kassa webhook` processes on one database; yields their ports. Each must
    stop on SIGTERM with exit code 0 and no traceback."""
    ports = [free_port() for _ in range(count)]
    secrets = dict(secret_key="test-secret-key-0123", payment_webhook_secret="test-webhook-secret",
                   ticket_signing_key=generate_signing_key())
    processes: list[asyncio.subprocess.Process] = []
    try:
        for port in ports:
            env = clean_env(tmp_path, telegram_token=emulator.token,
                            telegram_api_url=server.base_url.removesuffix("/bot"),
                            http_port=str(port), public_url=f"http://127.0.0.1:{port}",
                            **secrets)
            env["KASSA_DATABASE_URL"] = database_url
            processes.append(await asyncio.create_subprocess_exec(
                *KASSA, "webhook", env=env, cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE))
        await until(emulator, lambda: sum(c.method == "setWebhook" for c in emulator.calls)
                    >= count, "every instance's setWebhook", within=60)
        yield ports
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            out, err = await asyncio.wait_for(process.communicate(), 30)
            assert process.returncode == 0, err.decode()[-2000:]
            assert out.decode().strip().splitlines()[-1] == "kassa: stopped"
            assert "Traceback" not in err.decode(), err.decode()[-2000:]


def webhook_targets(emulator: BotApiEmulator, ports: list[int]) -> list[str]:
    path = urlsplit(emulator.webhook_url).path
    return [f"http://127.0.0.1:{port}{path}" for port in ports]


def shows(user: SimulatedUser, text: str) -> Callable[[], bool]:
    return lambda: text in (user.last_message.text or "")


async def test_two_instances_take_turns_through_a_whole_booking_and_payment(
        tmp_path, postgres_engine, postgres_url):
    await store_timetable(postgres_engine, demo_timetable(system_clock().date(), days=3))
    emulator = BotApiEmulator()
    async with EmulatorServer(emulator) as server, \
            instances(tmp_path, postgres_url, emulator, server, 2) as ports, \
            WebhookDelivery(emulator, webhook_targets(emulator, ports)) as delivery:
        anna = SimulatedUser(emulator, emulator.add_user("Anna", language_code="en"))

        async def step(action: Callable[[], object], expected: str) -> None:
            """One tap or message, answered by the next instance in turn: never the menu,
            always the next step of the booking."""
            await action()  # type: ignore[misc]
            text = anna.last_message.text or ""
            assert MENU not in text, f"the booking was lost: {text!r}"
            assert expected in text, text

        await step(lambda: anna.send("/book"), "Where are you leaving from")
        await step(lambda: anna.press("Beijing"), "Where to")
        await step(lambda: anna.press("Tianjin"), "Beijing → Tianjin")
        await step(lambda: anna.press("Tomorrow"), "Tap a trip")
        first_trip = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
        await step(lambda: anna.press(first_trip), "How many passengers")
        await step(lambda: anna.press("2"), "Pick 2 seats")
        await step(lambda: anna.press("Any seats"), "Passenger 1 of 2")
        # Both names typed at once: one reaches each instance. The second waits for the
        # first's turn (the passenger's lock) and reads what it wrote: both are kept.
        await asyncio.gather(anna.send("Anna Lee"), anna.send("Bo Chen"))
        summary = anna.last_message.text or ""
        assert "Please check your booking" in summary, summary
        assert "Anna Lee" in summary and "Bo Chen" in summary
        await step(lambda: anna.press("✅ Confirm"), "held until")
        pay = next(b["url"] for row in anna.last_message.inline_keyboard for b in row
                   if b.get("url"))
        # The checkout page and its webhook on the instance that did not place the hold.
        other = ports[1] if f":{ports[0]}/" in pay else ports[0]
        pay = f"http://127.0.0.1:{other}{urlsplit(pay).path}"
        async with aiohttp.ClientSession() as http, http.post(pay, data={"action": "pay"}) \
                as answer:
            assert answer.status == 200 and "Paid" in await answer.text()
        await until(emulator, lambda: len([m for m in anna.documents
                                           if m.document.file_name.endswith(".pdf")]) >= 2,
                    "the tickets", within=30)
        await asyncio.sleep(2)  # both instances' outbox workers had their chance to repeat
        references = [m for m in anna.messages if "Booking reference" in (m.text or "")]
        pdfs = [m for m in anna.documents if m.document.file_name.endswith(".pdf")]
        assert len(references) == 1 and len(pdfs) == 2
        assert delivery.delivered >= 10
