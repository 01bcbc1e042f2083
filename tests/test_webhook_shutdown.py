"""SIGTERM to `kassa webhook` in the middle of a broadcast loses and repeats nothing.

A real process against the Bot API emulator over loopback delivers a broadcast at a slow
send rate; it is stopped part way through, then a second process finishes the job. Every
recipient gets the message exactly once, and the outbox records what was delivered.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from booking.broadcasts import Audience, AudienceKind, BroadcastService
from booking.tickets.codes import generate_signing_key
from bot.emulator import BotApiEmulator, EmulatorServer
from storage import tables as t
from storage.uow import SqlUnitOfWorkFactory
from tests.test_kassa_run import KASSA, clean_env, free_port, until

STAFF_ID = 4242
RECIPIENTS = 80
SEND_RATE = "20"  # messages/s: the broadcast takes about 4 s, so a stop lands in the middle
TEXT = "Roadworks on Friday: allow 20 minutes more."


def webhook_env(tmp_path: Path, database_url: str, server: EmulatorServer,
                emulator: BotApiEmulator) -> dict[str, str]:
    http_port = free_port()
    env = clean_env(
        tmp_path, telegram_token=emulator.token,
        telegram_api_url=server.base_url.removesuffix("/bot"),
        http_port=str(http_port), public_url=f"http://127.0.0.1:{http_port}",
        secret_key="test-secret-key-0123", payment_webhook_secret="test-webhook-secret",
        ticket_signing_key=generate_signing_key(), admin_ids=str(STAFF_ID), send_rate=SEND_RATE,
    )
    env["KASSA_DATABASE_URL"] = database_url
    return env


async def start(env: dict[str, str], tmp_path: Path,
                emulator: BotApiEmulator) -> asyncio.subprocess.Process:
    emulator.webhook_url = ""
    process = await asyncio.create_subprocess_exec(
        *KASSA, "webhook", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    await until(emulator, lambda: bool(emulator.webhook_url), "setWebhook", within=30)
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log[-3000:]
    assert out.decode().strip().splitlines()[-1] == "kassa: stopped", log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def deliveries(emulator: BotApiEmulator) -> dict[int, int]:
    """How many times each chat got the broadcast."""
    return {chat_id: sum(1 for m in chat.bot_messages if m.text == TEXT)
            for chat_id, chat in emulator.chats.items()}


async def outbox_by_status(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(t.outbox.c.status, func.count())
                                  .where(t.outbox.c.broadcast_id.is_not(None))
                                  .group_by(t.outbox.c.status))
        return {status: int(count) for status, count in rows}


@pytest.mark.slow
async def test_sigterm_during_a_broadcast_loses_and_repeats_nothing(
    tmp_path, engine, database_url
):
    emulator = BotApiEmulator()
    now = datetime.now(UTC)
    people = list(range(10_001, 10_001 + RECIPIENTS))
    async with engine.begin() as conn:
        await conn.execute(insert(t.customers), [
            {"id": person, "name": "", "language": "en", "saved_passengers": [],
             "created_at": now} for person in people])
    for person in people:
        emulator.add_user(f"P{person}", user_id=person)
    emulator.add_user("Sam", user_id=STAFF_ID)
    async with EmulatorServer(emulator) as server:
        env = webhook_env(tmp_path, database_url, server, emulator)
        first = await start(env, tmp_path, emulator)  # settles Sam's admin role at start-up
        try:
            started = await BroadcastService(SqlUnitOfWorkFactory(engine)).send(
                STAFF_ID, Audience(AudienceKind.EVERYONE), TEXT)
            assert started.total == RECIPIENTS  # not Sam: listed, he never wrote to the bot
            await until(emulator, lambda: sum(deliveries(emulator).values()) >= 20,
                        "the first deliveries")
        finally:
            await stop(first)
        delivered = deliveries(emulator)
        assert max(delivered.values()) == 1
        sent_before = sum(delivered.values())
        assert sent_before < RECIPIENTS, "the stop came after the whole broadcast"
        # What the emulator received is what the outbox recorded as sent; the rest waits.
        assert await outbox_by_status(engine) == {
            "sent": sent_before, "pending": RECIPIENTS - sent_before}

        second = await start(env, tmp_path, emulator)
        try:
            await until(emulator, lambda: sum(deliveries(emulator).values()) == RECIPIENTS,
                        "the rest of the broadcast", within=30)
            await asyncio.sleep(0.5)  # room for a repeat to show
        finally:
            await stop(second)
    delivered = deliveries(emulator)
    assert delivered.pop(STAFF_ID) == 0
    assert set(delivered.values()) == {1}
    assert await outbox_by_status(engine) == {"sent": RECIPIENTS}
