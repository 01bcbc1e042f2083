"""/manifest through the emulator: passengers per boarding stop with seat and check-in state,
in the chat and as a CSV read back; passengers refused; reading it is audited."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from booking.providers import PaymentEventType
from handlers.manifest import chunks
from storage import tables as t
from tests.conversation_support import pick_trip, staff_bot
from tests.test_payments_web import held_booking

STAFF_ID = 910001


@pytest.fixture
async def bot(engine, clock):
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID]) as running:
        yield running


async def test_manifest_lists_paid_held_and_checked_in_seats(bot, engine):
    _anna, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    _wang, held = await held_booking(bot, name="Wang", passenger="王伟")
    _olga, checked = await held_booking(bot, name="Olga", passenger="Ольга Петрова")
    await bot.services.booking.handle_event(
        bot.sandbox.event(checked, PaymentEventType.SUCCEEDED))
    [ticket] = await bot.services.booking.tickets(checked.id, None)
    await bot.services.booking.check_in(ticket.code, STAFF_ID)
    assert paid.trip_id == held.trip_id == checked.trip_id

    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/start")
    await pick_trip(member, "/manifest", paid.departure.date(), paid.origin.name("en"),
                    paid.departure)
    text = "\n".join(m.text or "" for m in member.chat.bot_messages[-3:] if m.text)
    assert "Passengers: 3" in text
    assert f"{paid.seats[0].seat} · Anna Lee → Tianjin" in text and "· paid" in text
    assert "王伟" in text and "held, not paid" in text
    assert "Ольга Петрова" in text and "checked in" in text

    document = member.last_message.document
    assert document is not None and document.file_name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(document.data.decode("utf-8-sig"))))
    assert {(r["passenger"], r["status"]) for r in rows} == {
        ("Anna Lee", "paid"), ("王伟", "held"), ("Ольга Петрова", "checked_in")}
    assert all(r["boarding_stop"] == "Beijing" for r in rows)
    assert next(r for r in rows if r["status"] == "checked_in")["checked_in_at"]
    # The card that replaced the trip list goes back to it, for the next trip's manifest.
    card = member.chat.bot_messages[-2]
    assert card.text.startswith("Beijing → ") and card.button_texts() == ["« Back"]
    await member.press("« Back", message=card)
    assert "which trip?" in card.text and any(b[:1].isdigit() for b in card.button_texts())
    async with engine.connect() as conn:
        audit = (await conn.execute(select(t.staff_actions.c.action, t.staff_actions.c.target)))
        assert ("manifest", str(paid.trip_id)) in audit.all()
    bot.harness.assert_no_errors()


async def test_a_passenger_gets_no_manifest(bot, engine):
    pat = bot.user("Pat")
    await pat.send("/manifest")
    assert pat.last_message.text == "This is for staff only."
    with pytest.raises(Exception, match="not_staff"):
        await bot.services.manifests.manifest(pat.id, 1)
    async with engine.connect() as conn:
        assert (await conn.execute(select(t.staff_actions))).all() == []


async def test_an_unknown_trip_and_a_bad_date_get_an_answer(bot):
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/manifest 31.02")
    assert "There is no such day in the calendar" in member.last_message.text
    await member.send("/manifest someday")
    assert "I could not read that date" in member.last_message.text
    with pytest.raises(Exception, match="unknown_trip"):
        await bot.services.manifests.manifest(STAFF_ID, 10**9)


def test_long_manifests_are_split_under_telegrams_limit():
    lines = [f"  {n}A · Passenger {n} → Tianjin · paid" for n in range(400)]
    parts = chunks(lines)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts).splitlines() == lines


async def test_a_cancelled_trips_manifest_says_it_is_cancelled(bot):
    _anna, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/start")
    await bot.services.trip_changes.cancel(STAFF_ID, paid.trip_id, "Storm")
    await pick_trip(member, "/manifest", paid.departure.date(), paid.origin.name("en"),
                    paid.departure)
    card = member.chat.bot_messages[-2].text
    assert "Status: cancelled" in card and "Passengers: 0" in card
    bot.harness.assert_no_errors()
