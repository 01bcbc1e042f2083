"""An update whose handling fails unexpectedly (handlers/failures.py): the person hears,
in their language, to try again; the failure is logged; the booking goes on after it."""

from __future__ import annotations

import logging

import pytest

from locales import texts
from tests.conversation_support import running_bot, seed

BUSY = "Many people are booking right now. Please try again in a moment."


@pytest.fixture
async def bot(engine, clock):
    await seed(engine, clock)
    async with running_bot(engine, clock, raise_errors=False) as running:
        yield running


async def test_a_failed_press_is_answered_and_the_booking_goes_on(bot, monkeypatch, caplog):
    anna = bot.user("Anna")
    await anna.send("/book")
    booking = bot.services.booking
    found = booking.destinations

    async def away(origin: str):
        raise ConnectionError("the database is away")

    monkeypatch.setattr(booking, "destinations", away)
    with caplog.at_level(logging.ERROR, logger="handlers.failures"):
        query = await anna.press("Beijing")
    assert query.answer is not None and query.answer.text == BUSY and query.answer.show_alert
    assert any(r.exc_info and "the database is away" in str(r.exc_info[1])
               for r in caplog.records)
    assert len(bot.harness.errors) == 1
    monkeypatch.setattr(booking, "destinations", found)
    await anna.press("Beijing")  # the same card, pressed again once the database is back
    assert "Where to" in anna.last_message.text


async def test_a_failed_message_is_answered_in_the_persons_language(bot, monkeypatch):
    olga = bot.user("Olga", language="ru")

    async def away(*args, **kwargs):
        raise ConnectionError("the database is away")

    monkeypatch.setattr(bot.services.booking, "orders_of", away)
    await olga.send("/mytickets")
    assert olga.last_message.text == texts("ru")(BUSY)
    assert olga.last_message.text != BUSY
