"""A whole booking through the emulator against the real services, on both databases."""

from __future__ import annotations

import pytest

from booking.model import OrderStatus
from tests.conversation_support import running_bot, seed


@pytest.fixture
async def bot(engine, clock):
    """The full bot on a database seeded with the demo network."""
    await seed(engine, clock)
    async with running_bot(engine, clock) as running:
        yield running


async def test_whole_booking_by_buttons_ends_in_a_hold(bot):
    anna = bot.user("Anna")
    await anna.send("/start")
    assert "Hello, Anna" in anna.last_message.text
    await anna.press("🚌 Book a trip")
    card = anna.last_message
    assert "Where are you leaving from" in card.text
    await anna.press("Beijing")
    assert "Where to" in anna.last_message.text
    await anna.press("Tianjin")
    await anna.press("Tomorrow")
    trips = anna.last_message
    assert "Beijing → Tianjin" in trips.text and "seats left" in trips.text
    first_trip = next(t for t in trips.button_texts() if t.startswith("1."))
    await anna.press(first_trip)
    assert "How many passengers" in anna.last_message.text
    await anna.press("2")
    assert "Pick 2 seats" in anna.last_message.text
    await anna.press("3A")
    await anna.press("3B")
    assert "Passenger 1 of 2" in anna.last_message.text
    await anna.send("Anna Lee")
    await anna.send("Bo Chen")
    summary = anna.last_message
    assert "Please check your booking" in summary.text and "3A — Anna Lee" in summary.text
    await anna.press("✅ Confirm")
    held = anna.last_message
    assert "held until" in held.text
    orders = await bot.services.booking.orders_of(anna.id)
    assert len(orders) == 1 and orders[0].order.status is OrderStatus.HELD
    assert sorted(s.seat for s in orders[0].order.seats) == ["3A", "3B"]
    bot.harness.assert_no_errors()
