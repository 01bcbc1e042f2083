"""The held card's countdown job takes a person's turn only when an edit can be due: their
card has reached a step by the clock, or their data was written since it last looked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from booking.providers import PaymentEventType
from bot.app import database_persistence
from bot.turns import turns_of
from tests.conversation_support import Bot, running_bot, seed
from tests.test_payments_web import held_booking


@pytest.fixture
async def bot(engine, clock) -> AsyncIterator[Bot]:
    """The bot with its data in the database, as every instance runs it."""
    await seed(engine, clock)
    async with running_bot(engine, clock, persistence=database_persistence(engine)) as bot:
        # Rows written before a run started count as unchanged at once (no clock margin).
        bot.jobs.written_margin = timedelta(0)
        yield bot


def count_turns(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The people whose turn a job takes from now on, in order."""
    turns = turns_of(bot.harness.application)
    taken: list[int] = []
    turn = turns.turn

    @asynccontextmanager
    async def counted(person: int, *, wait: bool = True) -> AsyncIterator[bool]:
        taken.append(person)
        async with turn(person, wait=wait) as mine:
            yield mine

    monkeypatch.setattr(turns, "turn", counted)
    return taken


async def count_down(bot: Bot) -> int:
    return await bot.jobs.count_down_held_cards(bot.harness.application)


async def test_a_card_with_nothing_due_is_left_alone_until_its_step(bot, clock, monkeypatch):
    anna, _view = await held_booking(bot)
    card = anna.last_message
    edits = card.edits
    turns = count_turns(bot, monkeypatch)
    assert await count_down(bot) == 0  # the first look reads her data, in her turn
    assert turns == [anna.id]
    clock.advance(minutes=5)
    assert await count_down(bot) == 0
    assert await count_down(bot) == 0
    assert turns == [anna.id]  # 10 minutes left: nothing due, so no lock, no reads
    clock.advance(minutes=5, seconds=30)  # 4:30 left
    assert await count_down(bot) == 1
    assert turns == [anna.id, anna.id]
    assert card.edits == edits + 1 and "4 minutes left" not in card.text
    assert "5 minutes left to pay" in card.text
    # Her own write (the step shown) is seen once; then nothing until a minute is left.
    assert await count_down(bot) == 0
    assert await count_down(bot) == 0
    assert turns == [anna.id] * 3
    clock.advance(minutes=3, seconds=40)
    assert await count_down(bot) == 1
    assert "1 minute left to pay" in card.text
    bot.harness.assert_no_errors()


async def test_a_person_whose_data_was_written_is_looked_at_again(bot, clock, monkeypatch):
    anna, _view = await held_booking(bot)
    turns = count_turns(bot, monkeypatch)
    assert await count_down(bot) == 0
    assert await count_down(bot) == 0
    assert turns == [anna.id]
    # Written by her turn (here, or on another instance: the row is what counts).
    persistence = bot.harness.application.persistence
    data = bot.harness.application.user_data[anna.id]
    data["note"] = "written"
    assert await persistence.save_user_data(anna.id, data)
    assert await count_down(bot) == 0
    assert turns == [anna.id, anna.id]
    assert await count_down(bot) == 0
    assert turns == [anna.id, anna.id]


async def test_a_hold_shorter_than_a_step_says_the_minutes_it_has(bot, clock):
    anna, _view = await held_booking(bot)
    card = anna.last_message
    clock.advance(minutes=13)  # as if the hold had been two minutes long: 2:00 left
    assert await count_down(bot) == 1
    assert "2 minutes left to pay" in card.text and "5 minutes" not in card.text
    assert card.text.startswith("⏳ 2 minutes left to pay.")  # its own sign, not a warning
    bot.harness.assert_no_errors()


async def test_the_held_card_says_paid_as_the_tickets_come_and_then_rests(bot, clock):
    anna, view = await held_booking(bot)
    card = anna.last_message
    assert "Pay before then" in card.text
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    # The tickets' delivery edits the card: the countdown's next step is minutes away.
    await bot.jobs.deliver_outbox(bot.harness.application)
    assert any(f"Booking reference: {view.id}" in (m.text or "") for m in anna.messages)
    assert card.text.startswith("This booking is paid.")
    assert not [b for row in card.inline_keyboard for b in row if b.get("url")]
    assert "Cancel this hold" not in card.button_texts()
    edits = card.edits
    for minutes in (6, 4, 5):  # past the hold's steps and its end: nothing more to say
        clock.advance(minutes=minutes)
        await bot.run_jobs()
    assert card.edits == edits
    bot.harness.assert_no_errors()
