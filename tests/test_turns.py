"""Each person's updates are their turns: one at a time and in order, even on different
instances (PostgreSQL), while one instance handles different people's updates at once.

The bot is the real one (bot.app.build_application with the database persistence); a probe
handler put in front of Kassa's own records when each update starts and ends and waits for
a signal, so overlap (or its absence) shows in the order of events rather than in timings.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, filters

from bot.app import database_persistence
from bot.emulator import BotApiEmulator
from bot.turns import handle, turns_of
from handlers.context import KassaContext
from storage import tables as t
from storage.shared_locks import SharedLocks, lock_key
from tests.conversation_support import Bot, running_bot, seed
from tests.test_payments_web import held_booking

# How long a probe gives another update the chance to start beside it. Not a timing that
# is asserted: an update that must not start (the same person's) is seen not to have
# started when the wait ends; one that must (another person's) ends the wait at once.
CHANCE_SECONDS = 0.5
# Bounds a wait for something that must happen, so that a bug fails the test, not hangs it.
MUST_HAPPEN_SECONDS = 20.0


@dataclass
class Probe:
    """Records "<text> start" / "<text> end" for each probe update, across instances."""

    events: list[str] = field(default_factory=list)
    started: dict[str, asyncio.Event] = field(default_factory=dict)

    def event(self, text: str) -> asyncio.Event:
        return self.started.setdefault(text, asyncio.Event())

    async def handle(self, update: Update, context: KassaContext) -> None:
        """``probe NAME [waits-for OTHER]``: note the start, append NAME to the person's
        data, wait for OTHER to start (or the chance to pass), note the end."""
        assert update.effective_message is not None and context.user_data is not None
        words = (update.effective_message.text or "").split()
        name = words[1]
        self.events.append(f"{name} start")
        self.event(name).set()
        context.user_data["seen"] = [*context.user_data.get("seen", []), name]
        if len(words) == 4:
            other = self.event(words[3])
            must = words[2] == "needs"
            try:
                await asyncio.wait_for(other.wait(),
                                       MUST_HAPPEN_SECONDS if must else CHANCE_SECONDS)
            except TimeoutError:
                if must:
                    self.events.append(f"{name} gave up waiting for {words[3]}")
        self.events.append(f"{name} end")
        raise ApplicationHandlerStop  # the probe's update is not for the booking dialogue


@asynccontextmanager
async def probed_bot(engine, clock, probe: Probe) -> AsyncIterator[Bot]:
    """One bot instance: the whole bot with its database persistence, and the probe."""
    async with running_bot(engine, clock, emulator=BotApiEmulator(),
                           persistence=database_persistence(engine)) as bot:
        bot.harness.application.add_handler(
            MessageHandler(filters.Regex(r"^probe "), probe.handle), group=-10)
        yield bot


async def seen(engine, person: int) -> list[str]:
    async with engine.connect() as conn:
        data = (await conn.execute(select(t.bot_state.c.data).where(
            t.bot_state.c.kind == "user_data", t.bot_state.c.key == str(person)))).scalar_one()
    return list(data["seen"])


async def test_one_instance_handles_different_people_at_once(engine, clock):
    probe = Probe()
    async with probed_bot(engine, clock, probe) as bot:
        anna, ben = bot.user("Anna"), bot.user("Ben")
        # Anna's update waits until Ben's has started: it can end only if they overlap.
        await asyncio.gather(anna.send("probe anna needs ben"), ben.send("probe ben"))
        bot.harness.assert_no_errors()
    assert "anna gave up waiting for ben" not in probe.events
    assert probe.events.index("ben start") < probe.events.index("anna end")


async def test_one_persons_updates_are_handled_one_at_a_time_in_order(engine, clock):
    probe = Probe()
    async with probed_bot(engine, clock, probe) as bot:
        anna = bot.user("Anna")
        # Sent at once: the second waits for the first to end, then sees what it wrote.
        await asyncio.gather(anna.send("probe one waits two"), anna.send("probe two"))
        await anna.send("probe three")
        bot.harness.assert_no_errors()
    assert probe.events == ["one start", "one end", "two start", "two end",
                            "three start", "three end"]
    assert await seen(engine, anna.id) == ["one", "two", "three"]


@pytest.mark.postgres_only
async def test_one_persons_updates_on_two_instances_are_handled_one_at_a_time(
        postgres_engine, clock):
    engine = postgres_engine
    probe = Probe()
    async with probed_bot(engine, clock, probe) as a, probed_bot(engine, clock, probe) as b:
        anna_at_a = a.user("Anna", user_id=5001)
        anna_at_b = b.user("Anna", user_id=5001)
        first = asyncio.create_task(anna_at_a.send("probe one waits two"))
        # The second update reaches the other instance while the first is being handled.
        await asyncio.wait_for(probe.event("one").wait(), MUST_HAPPEN_SECONDS)
        await anna_at_b.send("probe two")
        await first
        # And the other way round, with the other person of the pair meanwhile on A.
        ben_at_a = a.user("Ben", user_id=5002)
        second = asyncio.create_task(anna_at_b.send("probe three waits four"))
        await asyncio.wait_for(probe.event("three").wait(), MUST_HAPPEN_SECONDS)
        await asyncio.gather(anna_at_a.send("probe four"), ben_at_a.send("probe ben"))
        await second
        a.harness.assert_no_errors()
        b.harness.assert_no_errors()
    anna_events = [e for e in probe.events if not e.startswith("ben")]
    assert anna_events == ["one start", "one end", "two start", "two end",
                           "three start", "three end", "four start", "four end"]
    assert await seen(engine, 5001) == ["one", "two", "three", "four"]
    # Ben's update went ahead on A while Anna's waited there for her turn on B.
    assert probe.events.index("ben end") < probe.events.index("three end")


@pytest.mark.postgres_only
async def test_a_turn_waits_for_the_lock_and_a_job_skips_a_busy_person(postgres_url):
    async with AsyncExitStack() as stack:
        one = SharedLocks(postgres_url, connections=2)
        other = SharedLocks(postgres_url, connections=2)
        stack.push_async_callback(one.close)
        stack.push_async_callback(other.close)
        key = lock_key("test", 7)
        async with one.hold(key) as held:
            assert held
            async with other.hold(key, wait=False) as taken:
                assert not taken  # a job would leave this person for its next run
            async with other.hold(lock_key("test", 8), wait=False) as taken:
                assert taken  # another person's lock is free
            waiting = asyncio.create_task(_hold_briefly(other, key))
            await asyncio.sleep(CHANCE_SECONDS)
            assert not waiting.done()  # a turn waits for the holder
        assert await asyncio.wait_for(waiting, MUST_HAPPEN_SECONDS)


async def _hold_briefly(locks: SharedLocks, key: int) -> bool:
    async with locks.hold(key) as held:
        return held


@pytest.mark.postgres_only
async def test_a_wait_for_a_stuck_holder_ends(postgres_url):
    holder = SharedLocks(postgres_url, connections=1)
    waiter = SharedLocks(postgres_url, connections=1, wait_ms=200)
    try:
        async with holder.hold(lock_key("test", 9)) as held:
            assert held
            async with waiter.hold(lock_key("test", 9)) as taken:
                assert not taken  # the turn goes on without it, and says so
        async with waiter.hold(lock_key("test", 9)) as taken:
            assert taken  # given back: the next one takes it at once
    finally:
        await holder.close()
        await waiter.close()


@pytest.mark.postgres_only
async def test_only_a_turns_bookkeeping_commits_without_waiting_for_the_disk(
        postgres_url, postgres_engine):
    # The locks' connections commit the update records and conversation state only; the
    # engine's commit orders, payments and the outbox, which must survive a crash.
    locks = SharedLocks(postgres_url, connections=1)
    try:
        async with locks.connection() as conn:
            assert conn is not None
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
    finally:
        await locks.close()
    async with postgres_engine.connect() as conn:
        assert (await conn.exec_driver_sql("SHOW synchronous_commit")).scalar_one() == "on"


def test_on_sqlite_there_is_no_lock_to_take(tmp_path):
    assert not SharedLocks(f"sqlite+aiosqlite:///{tmp_path}/k.db", connections=1).shared
    assert not SharedLocks(None, connections=1).shared


@pytest.mark.postgres_only
async def test_two_instances_edit_a_held_card_once_per_step(postgres_engine, clock):
    engine = postgres_engine
    await seed(engine, clock)
    async with running_bot(engine, clock, persistence=database_persistence(engine)) as a, \
            running_bot(engine, clock, persistence=database_persistence(engine)) as b:
        anna, _view = await held_booking(a)
        card = anna.last_message
        edits_before = card.edits
        clock.advance(minutes=10, seconds=30)  # 5 minutes left to pay
        # Both instances' countdowns at once; B never saw Anna: it finds her in the database.
        edited = await asyncio.gather(a.jobs.count_down_held_cards(a.harness.application),
                                      b.jobs.count_down_held_cards(b.harness.application))
        assert sum(edited) == 1
        assert await b.jobs.count_down_held_cards(b.harness.application) == 0
        assert await a.jobs.count_down_held_cards(a.harness.application) == 0
        clock.advance(minutes=4)  # 1 minute left
        edited = await asyncio.gather(b.jobs.count_down_held_cards(b.harness.application),
                                      a.jobs.count_down_held_cards(a.harness.application))
        assert sum(edited) == 1
        a.harness.assert_no_errors()
        b.harness.assert_no_errors()
    # Whichever instance edited, it was the passenger's card (B's edits reach B's emulator).
    edits_by_b = sum(1 for call in b.emulator.calls if call.method == "editMessageText")
    assert card.edits - edits_before + edits_by_b == 2


async def test_a_job_leaves_a_person_whose_turn_is_running(engine, clock):
    probe = Probe()
    async with probed_bot(engine, clock, probe) as bot:
        anna = bot.user("Anna")
        turns = turns_of(bot.harness.application)
        update = asyncio.create_task(anna.send("probe one needs job"))
        await asyncio.wait_for(probe.event("one").wait(), MUST_HAPPEN_SECONDS)
        async with turns.turn(anna.id, wait=False) as mine:
            assert not mine
        probe.event("job").set()
        await update
        async with turns.turn(anna.id, wait=False) as mine:
            assert mine


async def test_taps_alternating_between_two_instances_never_lose_a_step(engine, clock):
    # Two instances on one database and one Telegram: each update goes to the next one in
    # turn, as a round-robin load balancer sends them. Ben's updates come between Anna's;
    # an instance that wrote back its older copy of Anna's data with Ben's (as PTB's
    # hand-over of every user it has seen did) would send her back a step.
    await seed(engine, clock)
    emulator = BotApiEmulator()
    async with running_bot(engine, clock, emulator=emulator,
                           persistence=database_persistence(engine)) as a, \
            running_bot(engine, clock, emulator=emulator,
                        persistence=database_persistence(engine)) as b:
        instances = [a.harness.application, b.harness.application]
        sent = itertools.count()

        async def round_robin(data: dict) -> None:
            application = instances[next(sent) % 2]
            await handle(application, Update.de_json(data, application.bot))

        emulator.sink = round_robin
        anna, ben = a.user("Anna"), a.user("Ben")
        await anna.send("/book")
        await anna.press("Beijing")
        await ben.send("/start")
        await anna.press("Tianjin")
        assert "Beijing → Tianjin" in anna.last_message.text
        await ben.send("/book")
        await anna.press("Tomorrow")
        await ben.press("Moscow")
        first_trip = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
        await anna.press(first_trip)
        assert "How many passengers" in anna.last_message.text
        await ben.send("/start")
        await anna.press("1")
        await anna.press("Any seat")
        await anna.send("Anna Lee")
        await anna.press("✅ Confirm")
        assert "held until" in anna.last_message.text
        a.harness.assert_no_errors()
        b.harness.assert_no_errors()
        emulator.sink = None
    assert next(sent) == 13  # every update went to the next instance in turn
