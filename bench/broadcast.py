"""A broadcast through the outbox and the Bot API emulator: the worker's own ceiling, and
Telegram's limits held at full speed.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/broadcast.py [--recipients 10000] [--chats 1200] [--each 3]

The database named in the URL is only used to create a fresh one beside it, which is
migrated, filled and dropped at the end. The bot is Kassa's own (bot.app.build_application,
the jobs of bot.services.create_jobs, the deliverers of handlers/notifications.py) talking
to the emulator in the same process (no sockets: what is measured is Kassa, not a network).

(a) The ceiling: one broadcast to ``--recipients`` customers, written in one transaction
    as the broadcast use case writes it, then delivered by the worker with Telegram's
    limits lifted (KASSA_SEND_RATE=0, KASSA_CHAT_SEND_INTERVAL=0): messages/s from the
    first claim until every row is recorded. Target: at least 1,000/s, so that the worker
    is never what slows a broadcast down.
(b) The limits: ``--each`` messages to each of ``--chats`` chats, the rows of one chat
    next to each other (the hardest order for the per-chat limit), delivered with the
    default limits (30 messages/s, 1 s per chat): the rate the emulator saw from its
    first message to its last as a fraction of 30/s (target >= 0.95), the most messages
    it saw in any one second, and the shortest gap between two messages to one chat
    (must be >= 1 s). 3 x 1,200 messages take two minutes at 30/s: long enough that the
    start and the end do not flatter the rate.

In both, every row's recipient is checked against what the emulator received: lost (a
row with no message) and repeated (a message more than once) must both be 0.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database
from booking.outbox import DeliveryReport, MessageKind
from booking.pacing import TELEGRAM_MESSAGES_PER_SECOND
from booking.ports import OutboxMessage
from bot.app import build_application
from bot.emulator import BotApiEmulator, EmulatorRequest
from bot.services import create_jobs, create_services
from bot.settings import Settings
from storage import tables as t
from storage.database import create_engine
from storage.uow import SqlUnitOfWorkFactory

FIRST_USER_ID = 500_000_000
TEXT = "<b>Service notice</b>: the 08:15 coach to <i>Tianjin</i> leaves from stand 4 today."


async def add_customers(engine: AsyncEngine, emulator: BotApiEmulator, count: int) -> list[int]:
    """People who used the bot: a customer row each and a private chat in the emulator."""
    ids = [FIRST_USER_ID + n for n in range(count)]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(t.customers), [
            {"id": i, "name": f"Passenger {i}", "language": "en", "role": "passenger",
             "blocked": False, "saved_passengers": [], "created_at": now} for i in ids])
    for i in ids:
        emulator.add_user(f"P{i}", user_id=i)
    return ids


async def write_rows(engine: AsyncEngine, recipients: list[int], broadcast_id: int) -> None:
    """The rows of a broadcast, in one transaction (as the broadcast use case writes them)."""
    now = datetime.now(UTC)
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        await uow.outbox.add_many([OutboxMessage(
            kind=MessageKind.BROADCAST.value, recipient=recipient,
            payload={"broadcast_id": broadcast_id, "text": TEXT}, due_at=now,
            dedupe_key=f"broadcast:{broadcast_id}:{n}:{recipient}",
            broadcast_id=broadcast_id) for n, recipient in enumerate(recipients)], now)
        await uow.commit()


def settings_for(url: str, *, lifted: bool) -> Settings:
    limits: dict[str, Any] = {"send_rate": 0, "chat_send_interval": 0} if lifted else {}
    return Settings(_env_file=None, database_url=url, **limits)  # type: ignore[call-arg]


async def deliver(engine: AsyncEngine, emulator: BotApiEmulator,
                  settings: Settings) -> tuple[DeliveryReport, float]:
    """Run the bot's outbox worker until nothing is due; the report and the seconds taken."""
    services = create_services(settings, engine)
    jobs = create_jobs(settings, engine)
    application = build_application(services, token=emulator.token,
                                    request=EmulatorRequest(emulator),
                                    limits=settings.send_limits())
    await application.initialize()
    try:
        started = time.perf_counter()
        report = await jobs.deliver_outbox(application)
        return report, time.perf_counter() - started
    finally:
        await application.shutdown()


def accounted(emulator: BotApiEmulator, expected: Counter[int]) -> tuple[int, int, list[Any]]:
    """Lost and repeated messages against the rows' recipients, and the sends themselves."""
    sends = [c for c in emulator.calls_to("sendMessage") if c.ok]
    received = Counter(int(c.params["chat_id"]) for c in sends)
    lost = sum(max(0, n - received[chat]) for chat, n in expected.items())
    repeated = sum(max(0, n - expected[chat]) for chat, n in received.items())
    return lost, repeated, sends


def busiest_second(times: list[float]) -> int:
    """The most messages within any window of one second."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=1_200)
    parser.add_argument("--each", type=int, default=3)
    args = parser.parse_args()
    async with fresh_database(database_url_from_env(), "broadcast") as url:
        engine = create_engine(url, pool_size=20)
        try:
            figures = await run(engine, url, args)
        finally:
            await engine.dispose()
    print(json.dumps(figures))


async def run(engine: AsyncEngine, url: str, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"database": engine.dialect.name, "recipients": args.recipients}

    # (a) the worker's own ceiling
    emulator = BotApiEmulator()
    recipients = await add_customers(engine, emulator, args.recipients)
    started = time.perf_counter()
    await write_rows(engine, recipients, broadcast_id=1)
    figures["write_rows_s"] = round(time.perf_counter() - started, 2)
    report, seconds = await deliver(engine, emulator, settings_for(url, lifted=True))
    lost, repeated, _ = accounted(emulator, Counter(recipients))
    figures.update({
        "lifted_sent": report.sent, "lifted_seconds": round(seconds, 2),
        "worker_ceiling_msgs_per_s": round(report.sent / seconds),
        "lifted_lost": lost, "lifted_repeated": repeated,
    })
    print(f"(a) limits lifted: {report.sent} sent in {seconds:.1f} s = "
          f"{report.sent / seconds:.0f} messages/s; lost {lost}, repeated {repeated}",
          flush=True)

    # (b) Telegram's limits, held
    emulator = BotApiEmulator()
    for chat in recipients[:args.chats]:
        emulator.add_user(f"P{chat}", user_id=chat)
    rows = [chat for chat in recipients[:args.chats] for _ in range(args.each)]
    await write_rows(engine, rows, broadcast_id=2)
    print(f"(b) default limits: {len(rows)} messages, {args.each} to each of {args.chats} "
          f"chats, at {TELEGRAM_MESSAGES_PER_SECOND:.0f}/s takes about "
          f"{len(rows) / TELEGRAM_MESSAGES_PER_SECOND:.0f} s", flush=True)
    report, seconds = await deliver(engine, emulator, settings_for(url, lifted=False))
    lost, repeated, sends = accounted(emulator, Counter(rows))
    times = [c.at for c in sends]
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    per_chat: dict[int, list[float]] = defaultdict(list)
    for call in sends:
        per_chat[int(call.params["chat_id"])].append(call.at)
    gaps = [b - a for at in per_chat.values() for a, b in pairwise(at)]
    figures.update({
        "limited_sent": report.sent, "limited_seconds": round(seconds, 1),
        "limited_rate_msgs_per_s": round(rate, 2),
        "rate_fraction_of_30_per_s": round(rate / TELEGRAM_MESSAGES_PER_SECOND, 3),
        "busiest_second_msgs": busiest_second(times),
        "worst_per_chat_gap_s": round(min(gaps), 3) if gaps else None,
        "limited_lost": lost, "limited_repeated": repeated,
    })
    print(f"    {report.sent} sent in {span:.1f} s = {rate:.2f}/s "
          f"({rate / TELEGRAM_MESSAGES_PER_SECOND:.1%} of 30/s); busiest second "
          f"{figures['busiest_second_msgs']}; shortest gap in a chat "
          f"{figures['worst_per_chat_gap_s']} s; lost {lost}, repeated {repeated}", flush=True)
    figures["lost"] = figures["lifted_lost"] + lost
    figures["repeated"] = figures["lifted_repeated"] + repeated
    return figures


if __name__ == "__main__":
    asyncio.run(main())
