"""Reminders before departure, with a controllable clock, through the emulator: at 24 h and
2 h (KASSA_REMINDERS) with the trip, seats, boarding stop, local time and a ticket button;
never for a cancelled order; moved by a delay; only the later ones for an order paid late."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.providers import PaymentEventType
from booking.reminders import parse_reminders
from bot.settings import Settings
from locales import texts
from tests.conversation_support import staff_bot
from tests.test_payments_web import held_booking

STAFF_ID = 950001
EN = texts("en")


def reminders_of(user) -> list[str]:
    return [m.text for m in user.messages if m.text and m.text.startswith("🔔")]


async def paid_booking(bot):
    user, view = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    await bot.run_jobs()  # the tickets
    return user, view


async def at(bot, clock, moment) -> None:
    """Move the clock to ``moment`` and let the scheduler run."""
    clock.advance(seconds=(moment - clock()).total_seconds())
    await bot.run_jobs()


@pytest.fixture
async def bot(engine, clock):
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID], reminders="30h,2h") as running:
        yield running


async def test_reminders_fire_at_their_times(bot, clock):
    user, view = await paid_booking(bot)
    departure = view.departure
    assert departure - clock() < timedelta(hours=30)  # tomorrow's first trip: 30 h has passed
    await at(bot, clock, departure - timedelta(hours=2, minutes=5))
    assert reminders_of(user) == []
    await at(bot, clock, departure - timedelta(hours=2))
    [text] = reminders_of(user)
    assert text == (f"🔔 Reminder: Beijing → Tianjin, {EN.day(departure.date(), clock().date())}"
                    f" at {EN.time(departure)} (Beijing time), from Beijing.\n"
                    f"Seats: {view.seats[0].seat} Anna Lee")
    await at(bot, clock, departure - timedelta(minutes=1))
    assert len(reminders_of(user)) == 1  # sent once
    reminder = next(m for m in user.messages if m.text == text)
    await user.press("🎫 Show my ticket", message=reminder)
    shown = user.last_message.text
    assert "Status: paid" in shown and f"{view.seats[0].seat} — Anna Lee" in shown
    bot.harness.assert_no_errors()


async def test_a_cancelled_order_gets_no_reminder(bot, clock):
    user, view = await paid_booking(bot)
    await bot.services.booking.cancel(view.id, user.id)
    await at(bot, clock, view.departure - timedelta(minutes=30))
    assert reminders_of(user) == []


async def test_a_delay_moves_the_reminder(bot, clock):
    user, view = await paid_booking(bot)
    await bot.services.trip_changes.delay(STAFF_ID, view.trip_id, 90, "Snow")
    await at(bot, clock, view.departure - timedelta(hours=2))
    assert reminders_of(user) == []  # the trip now leaves 90 minutes later
    new_departure = view.departure + timedelta(minutes=90)
    await at(bot, clock, new_departure - timedelta(hours=2))
    [text] = reminders_of(user)
    assert f"at {EN.time(new_departure)}" in text


async def test_a_reminder_for_a_cancelled_trip_is_never_sent(bot, clock):
    user, view = await paid_booking(bot)
    await bot.services.trip_changes.cancel(STAFF_ID, view.trip_id, "Coach broke down")
    await at(bot, clock, view.departure - timedelta(minutes=30))
    assert reminders_of(user) == []


def test_reminder_settings():
    assert parse_reminders("24h,2h") == (timedelta(hours=24), timedelta(hours=2))
    assert parse_reminders("2h, 1d ,90m") == (timedelta(days=1), timedelta(hours=2),
                                              timedelta(minutes=90))
    assert parse_reminders("") == ()
    for bad in ("24", "2 hours", "0m", "31d", "-1h"):
        with pytest.raises(ValueError):
            parse_reminders(bad)
    with pytest.raises(ValueError, match="reminders"):
        Settings(_env_file=None, reminders="soon")
