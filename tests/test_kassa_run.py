"""`kassa run` as a real process: against the Bot API emulator over loopback HTTP, a booking
paid end to end through Kassa's own web server, then SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from booking.tickets.codes import generate_signing_key
from bot.emulator import BotApiEmulator, EmulatorServer, SimulatedUser
from tests.test_metrics import at, parse

KASSA = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env["KASSA_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/kassa.db"
    env.update({f"KASSA_{k.upper()}": v for k, v in settings.items()})
    return env


def test_missing_token_is_named_in_one_line(tmp_path):
    result = subprocess.run([*KASSA, "run"], env=clean_env(tmp_path), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kassa run: KASSA_TELEGRAM_TOKEN is not set (the bot's token from @BotFather)"]
    assert "Traceback" not in result.stderr


async def seeded_env(tmp_path: Path, emulator: BotApiEmulator, server: EmulatorServer,
                     http_port: int) -> dict[str, str]:
    """The settings of a Kassa process against the emulator served over loopback, on a
    database with the demo network (and every migration) in it."""
    env = clean_env(
        tmp_path, telegram_token=emulator.token,
        telegram_api_url=server.base_url.removesuffix("/bot"),
        http_port=str(http_port), public_url=f"http://127.0.0.1:{http_port}",
        secret_key="test-secret-key-0123", payment_webhook_secret="test-webhook-secret",
        ticket_signing_key=generate_signing_key(),
    )
    seeded = await asyncio.create_subprocess_exec(
        *KASSA, "seed-demo", "--days", "3", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL)
    assert await seeded.wait() == 0
    return env


async def until(emulator: BotApiEmulator, check: Callable[[], bool], what: str,
                within: float = 15.0) -> None:
    try:
        await emulator.wait_until(check, within)
    except TimeoutError:
        raise AssertionError(f"waited {within} s for {what}") from None


def shows(user: SimulatedUser, text: str) -> Callable[[], bool]:
    return lambda: bool(user.chat.bot_messages) and text in (user.last_message.text or "")


@pytest.mark.slow
async def test_kassa_run_books_and_pays_then_stops_on_sigterm(tmp_path):
    emulator = BotApiEmulator()
    http_port = free_port()
    async with EmulatorServer(emulator) as server:
        env = await seeded_env(tmp_path, emulator, server, http_port)
        process = await asyncio.create_subprocess_exec(
            *KASSA, "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            anna = SimulatedUser(emulator, emulator.add_user("Anna", language_code="en"))
            await anna.send("Beijing to Tianjin tomorrow")
            await until(emulator, shows(anna, "Tap a trip"), "the trips")
            first = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
            await anna.press(first)
            await until(emulator, shows(anna, "How many passengers"), "the count step")
            await anna.press("1")
            await until(emulator, shows(anna, "Pick 1 seat"), "the seat map")
            await anna.press("Any seat")
            await until(emulator, shows(anna, "Passenger 1 of 1"), "the names step")
            await anna.send("Anna Lee")
            await until(emulator, shows(anna, "Please check"), "the summary")
            await anna.press("✅ Confirm")
            await until(emulator, shows(anna, "held until"), "the hold")
            url = next(b["url"] for row in anna.last_message.inline_keyboard for b in row
                       if b.get("url"))
            assert url.startswith(f"http://127.0.0.1:{http_port}/pay/")
            async with aiohttp.ClientSession() as http, http.post(
                url, data={"action": "pay"}) as response:
                assert "Paid" in await response.text()
            await until(emulator, lambda: any("Booking reference" in (m.text or "")
                                              for m in anna.chat.bot_messages), "the tickets")
            await until(emulator, lambda: sum(m.document is not None
                                              for m in anna.chat.bot_messages) == 2,
                        "the PDF and the .ics")
            async with aiohttp.ClientSession() as http, http.get(
                    f"http://127.0.0.1:{http_port}/metrics") as response:
                assert response.status == 200
                metrics = parse(await response.text())
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip().splitlines()[-1] == "kassa: stopped"
    assert "Traceback" not in err.decode()
    assert at(metrics, "kassa_holds_placed_total") == 1
    assert at(metrics, "kassa_payments_confirmed_total", outcome="paid") == 1
    assert at(metrics, "kassa_updates_total", kind="callback_query", outcome="ok") == 4
    assert at(metrics, "kassa_telegram_messages_sent_total", method="sendDocument") == 2
    assert at(metrics, "kassa_http_request_duration_seconds_count", route="/pay/{token}",
              method="POST", status="303") == 1
    # stderr is the log: one JSON object a line, the booking's ids in it, no name.
    lines = [json.loads(line) for line in err.decode().splitlines()]
    [placed] = [line for line in lines if line["event"] == "hold placed"]
    assert placed["user_id"] == anna.id and isinstance(placed["update_id"], int)
    [paid] = [line for line in lines if line["event"] == "payment confirmed"]
    assert paid["order_id"] == placed["order_id"] and paid["user_id"] == anna.id
    assert "Anna" not in err.decode()


@pytest.mark.slow
async def test_kassa_webhook_registers_takes_updates_and_stops_on_sigterm(tmp_path):
    from bot.webhook import SECRET_HEADER, UpdateReceiver
    from tests.test_webhook_mode import start_update

    emulator = BotApiEmulator()
    http_port = free_port()
    async with EmulatorServer(emulator) as server:
        env = await seeded_env(tmp_path, emulator, server, http_port)
        process = await asyncio.create_subprocess_exec(
            *KASSA, "webhook", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            receiver = UpdateReceiver(None, None, b"test-secret-key-0123")  # type: ignore[arg-type]
            await until(emulator, lambda: bool(emulator.webhook_url), "setWebhook")
            assert emulator.webhook_url == f"http://127.0.0.1:{http_port}{receiver.path}"
            anna = SimulatedUser(emulator, emulator.add_user("Anna", language_code="en"))
            token = {SECRET_HEADER: receiver.secret_token}
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{http_port}/readyz") as ready:
                    assert ready.status == 200
                for _ in range(2):  # the second is Telegram's replay: handled once
                    async with http.post(emulator.webhook_url, json=start_update(anna, 41),
                                         headers=token) as answer:
                        assert answer.status == 200
                async with http.post(emulator.webhook_url, json=start_update(anna, 42)) as no:
                    assert no.status == 401
            await until(emulator, shows(anna, "Hello, Anna"), "the menu")
            await asyncio.sleep(0.5)
            assert len(anna.chat.bot_messages) == 1
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip().splitlines()[-1] == "kassa: stopped"
    assert "Traceback" not in err.decode()
