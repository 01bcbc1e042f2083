"""The outbox worker through the Bot API emulator: broadcasts delivered once each, blocked
people, Telegram's 429, the rate limits as the emulator saw them, and two workers on one
PostgreSQL database.

The worker runs as the bot runs it (bot.jobs.Jobs.deliver_outbox, Kassa's rate limiter on
the bot); the limits are lifted where a test is not about them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.clock import system_clock
from booking.outbox import MessageKind, OutboxService, WorkerOptions
from booking.pacing import SendLimits
from booking.ports import OutboxMessage
from bot.emulator import ApiCall, BotApiEmulator, SimulatedUser
from storage import tables as t
from storage.database import create_engine
from storage.uow import SqlUnitOfWorkFactory
from tests.conversation_support import Bot, running_bot

TEXT = "<b>Platform change</b>: the 08:15 coach leaves from stand 4."


async def broadcast(engine: AsyncEngine, broadcast_id: int, recipients: Iterable[int],
                    text: str = TEXT) -> None:
    """One row per recipient in one transaction, as the broadcast use case writes them."""
    now = datetime.now(UTC)
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        for n, recipient in enumerate(recipients):
            await uow.outbox.add(OutboxMessage(
                kind=MessageKind.BROADCAST.value, recipient=recipient,
                payload={"broadcast_id": broadcast_id, "text": text}, due_at=now,
                dedupe_key=f"broadcast:{broadcast_id}:{n}:{recipient}",
                broadcast_id=broadcast_id), now)
        await uow.commit()


def people(bot: Bot, count: int) -> list[SimulatedUser]:
    return [bot.user(f"P{n}") for n in range(count)]


async def known(bot: Bot, users: Iterable[SimulatedUser]) -> None:
    """Customers who used the bot before."""
    for user in users:
        await bot.services.customers.ensure(user.id, user.first_name, "en")


def sends(emulator: BotApiEmulator) -> list[ApiCall]:
    return [c for c in emulator.calls_to("sendMessage") if c.ok]


def received(emulator: BotApiEmulator) -> Counter[int]:
    return Counter(int(c.params["chat_id"]) for c in sends(emulator))


async def progress(engine: AsyncEngine, broadcast_id: int) -> dict[str, int]:
    return await OutboxService(SqlUnitOfWorkFactory(engine)).progress(broadcast_id)


async def test_a_broadcast_reaches_everyone_once_in_html_and_its_progress_counts_it(
    engine: AsyncEngine,
) -> None:
    async with running_bot(engine, system_clock, limits=SendLimits.lifted()) as bot:
        users = people(bot, 40)
        await known(bot, users)
        await broadcast(engine, 7, [u.id for u in users])
        assert await progress(engine, 7) == {"pending": 40, "sent": 0, "failed": 0,
                                             "blocked": 0}

        report = await bot.jobs.deliver_outbox(bot.harness.application)

        assert (report.sent, report.handled) == (40, 40)
        for user in users:
            [message] = user.messages
            assert message.text == "Platform change: the 08:15 coach leaves from stand 4."
            assert message.entity_texts("bold") == ["Platform change"]
        assert await progress(engine, 7) == {"pending": 0, "sent": 40, "failed": 0,
                                             "blocked": 0}
        assert (await bot.jobs.deliver_outbox(bot.harness.application)).handled == 0
        assert len(sends(bot.emulator)) == 40  # nothing sent twice


async def test_blocked_people_count_as_blocked_and_get_nothing_until_they_come_back(
    engine: AsyncEngine,
) -> None:
    async with running_bot(engine, system_clock, limits=SendLimits.lifted()) as bot:
        anna, ben, cara = people(bot, 3)
        await known(bot, (anna, ben, cara))
        await cara.block()  # Telegram tells the bot (my_chat_member): nothing is even tried
        # Ben blocked the bot without the bot hearing of it: Telegram answers 403.
        bot.emulator.fail_next("sendMessage", chat_id=ben.id, error_code=403,
                               description="Forbidden: bot was blocked by the user")
        application = bot.harness.application
        calls_to_cara = len(bot.emulator.calls)

        await broadcast(engine, 1, [anna.id, ben.id, cara.id])
        report = await bot.jobs.deliver_outbox(application)

        assert (report.sent, report.blocked, report.failed) == (1, 2, 0)
        assert await progress(engine, 1) == {"pending": 0, "sent": 1, "failed": 0,
                                             "blocked": 2}
        assert [len(u.messages) for u in (anna, ben, cara)] == [1, 0, 0]
        assert not [c for c in bot.emulator.calls[calls_to_cara:]
                    if c.params.get("chat_id") == cara.id]
        customer = await bot.services.customers.customer(ben.id)
        assert customer is not None and customer.blocked  # learnt from the 403

        # A second broadcast: Ben and Cara are skipped without a call to Telegram.
        calls = len(bot.emulator.calls_to("sendMessage"))
        await broadcast(engine, 2, [anna.id, ben.id, cara.id])
        report = await bot.jobs.deliver_outbox(application)
        assert (report.sent, report.blocked) == (1, 2)
        assert [int(c.params["chat_id"]) for c in bot.emulator.calls_to("sendMessage")[calls:]
                ] == [anna.id]

        # They come back: Ben writes to the bot, Cara unblocks it (my_chat_member).
        await ben.send("hello")
        await cara.unblock()
        await broadcast(engine, 3, [ben.id, cara.id])
        report = await bot.jobs.deliver_outbox(application)
        assert (report.sent, report.blocked) == (2, 0)
        assert [m.text for m in cara.messages] == [
            "Platform change: the 08:15 coach leaves from stand 4."]
        assert ben.messages[-1].text == "Platform change: the 08:15 coach leaves from stand 4."


async def test_a_429_pauses_every_send_for_retry_after_and_the_message_goes_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    # 20 messages/s: the calls are spaced, so the 429 comes before the others start.
    limits = SendLimits(per_second=20, chat_interval=0)
    async with running_bot(engine, system_clock, limits=limits) as bot:
        users = people(bot, 6)
        await known(bot, users)
        bot.emulator.fail_next("sendMessage", chat_id=users[0].id, retry_after=1)
        await broadcast(engine, 1, [u.id for u in users])

        report = await bot.jobs.deliver_outbox(bot.harness.application)

        assert (report.sent, report.retried, report.failed) == (6, 0, 0)
        [refused] = [c for c in bot.emulator.calls_to("sendMessage") if not c.ok]
        assert refused.params["chat_id"] == users[0].id
        # Nobody was sent anything until retry_after had passed, and the refused message
        # was sent once, in place (no back-off, no attempt used up by flood control).
        assert all(c.at - refused.at >= 1.0 for c in sends(bot.emulator))
        assert received(bot.emulator) == Counter(u.id for u in users)
        assert await progress(engine, 1) == {"pending": 0, "sent": 6, "failed": 0,
                                             "blocked": 0}


async def test_telegrams_limits_hold_as_the_emulator_saw_the_sends(engine: AsyncEngine) -> None:
    # The default limits: 30 messages/s overall, one second between messages to a chat.
    # Two messages each to 50 chats, a chat's two rows next to each other (the order that
    # tests the per-chat limit hardest), ask for more than 30/s.
    async with running_bot(engine, system_clock, limits=SendLimits()) as bot:
        users = people(bot, 50)
        await known(bot, users)
        await broadcast(engine, 1, [u.id for u in users for _ in range(2)])

        report = await bot.jobs.deliver_outbox(bot.harness.application)

        assert report.sent == 100
        calls = sends(bot.emulator)
        assert received(bot.emulator) == Counter({u.id: 2 for u in users})
        times = [c.at for c in calls]
        by_chat: dict[int, list[float]] = defaultdict(list)
        for call in calls:
            by_chat[int(call.params["chat_id"])].append(call.at)
        assert min(b - a for at in by_chat.values() for a, b in pairwise(at)) >= 1.0
        busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
        assert busiest <= 30
        assert (len(times) - 1) / (times[-1] - times[0]) <= 30.0


async def test_two_workers_on_one_postgresql_database_send_each_row_once(
    postgres_engine: AsyncEngine, postgres_url: str,
) -> None:
    """Two bots, each with its own engine (as two processes would be), on one database
    and one Telegram: every row goes out exactly once."""
    emulator = BotApiEmulator()
    other_engine = create_engine(postgres_url, pool_size=10)
    options = WorkerOptions(batch=20)  # small batches: the two take turns many times
    try:
        async with (
            running_bot(postgres_engine, system_clock, emulator=emulator,
                        limits=SendLimits.lifted()) as one,
            running_bot(other_engine, system_clock, emulator=emulator,
                        limits=SendLimits.lifted()) as two,
        ):
            users = people(one, 400)
            await known(one, users)
            for bot, engine in ((one, postgres_engine), (two, other_engine)):
                bot.jobs = dataclasses.replace(bot.jobs, outbox=OutboxService(
                    SqlUnitOfWorkFactory(engine), options=options))
            await broadcast(postgres_engine, 1, [u.id for u in users])

            first, second = await asyncio.gather(
                one.jobs.deliver_outbox(one.harness.application),
                two.jobs.deliver_outbox(two.harness.application))

            assert first.sent + second.sent == 400
            assert first.sent > 0 and second.sent > 0  # both took part
            assert received(emulator) == Counter(u.id for u in users)
            assert await progress(postgres_engine, 1) == {"pending": 0, "sent": 400,
                                                          "failed": 0, "blocked": 0}
    finally:
        await other_engine.dispose()


async def test_a_delivery_whose_claim_would_lapse_while_waiting_is_given_back_unsent(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Flood control asks for a longer wait than the claim has left: the row is given back
    (not sent, no attempt used), since another worker may take it over once the claim
    lapses; the worker claims it afresh and sends it once."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with running_bot(engine, system_clock, limits=SendLimits.lifted()) as bot:
        [anna] = people(bot, 1)
        await known(bot, [anna])
        short = WorkerOptions(lease=timedelta(seconds=2), lease_margin=timedelta(seconds=1))
        bot.jobs = dataclasses.replace(bot.jobs, outbox=OutboxService(
            SqlUnitOfWorkFactory(engine), options=short))
        bot.emulator.fail_next("sendMessage", chat_id=anna.id, retry_after=2)
        await broadcast(engine, 1, [anna.id])

        report = await bot.jobs.deliver_outbox(bot.harness.application)

        assert (report.released, report.sent, report.retried) == (1, 1, 0)
        assert [c.ok for c in bot.emulator.calls_to("sendMessage")] == [False, True]
        assert len(anna.messages) == 1
        [row] = await outbox_rows(engine)
        assert (row.status, row.attempts) == ("sent", 1)  # the given-back claim cost nothing


async def outbox_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(t.outbox))).all())


async def test_answers_to_a_person_are_never_delayed_but_the_outbox_keeps_its_distance(
    engine: AsyncEngine,
) -> None:
    async with running_bot(engine, system_clock, limits=SendLimits()) as bot:
        [anna] = people(bot, 1)
        await anna.send("/start")
        await anna.send("/help")
        answers = [c for c in bot.emulator.calls if c.ok and c.method == "sendMessage"]
        assert len(answers) >= 2
        assert answers[-1].at - answers[0].at < 1.0  # the person is answered at once

        await broadcast(engine, 1, [anna.id])
        await bot.jobs.deliver_outbox(bot.harness.application)

        [delivered] = sends(bot.emulator)[len(answers):]
        assert delivered.at - answers[-1].at >= 1.0  # one second after the last answer


async def test_a_persons_own_message_is_claimed_before_a_broadcasts_due_earlier(
    engine: AsyncEngine,
) -> None:
    # A ticket paid for while a broadcast to thousands goes out is not sent after it.
    await broadcast(engine, 1, range(1000, 1030))
    later = datetime.now(UTC) + timedelta(seconds=1)
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        await uow.outbox.add(OutboxMessage(kind=MessageKind.REMINDER.value, recipient=7,
                                           payload={}, due_at=later, dedupe_key="own"), later)
        await uow.commit()
    now = later + timedelta(seconds=1)
    async with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        first = await uow.outbox.claim_due(now, 10, now + timedelta(minutes=2))
        rest = await uow.outbox.claim_due(now, 100, now + timedelta(minutes=2))
        await uow.commit()
    assert [m.kind for m in first] == ["reminder"] + ["broadcast"] * 9
    assert len(rest) == 21 and {m.kind for m in rest} == {"broadcast"}
