"""Roles through the emulator: admins give and take the staff role (/staff, a forwarded
message), staff menus per chat, /trips; passengers are refused and change nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from booking.model import Role
from booking.providers import PaymentEventType
from storage import tables as t
from tests.conversation_support import pick_trip, staff_bot
from tests.test_payments_web import held_booking

ADMIN_ID, STAFF_ID, PAT_ID = 900001, 900002, 900003


@pytest.fixture
async def bot(engine, clock):
    """A running bot with one admin and one staff member from the settings."""
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID], admin_ids=[ADMIN_ID]) as running:
        yield running


def menu(bot, chat_id: int | None = None, language: str = "") -> list[str]:
    scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
    key = (json.dumps(scope, sort_keys=True), language)
    return [c["command"] for c in bot.emulator.commands.get(key, [])]


async def audit_rows(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.staff_actions)))
                   .scalar_one())


async def test_menus_staff_see_their_commands_passengers_do_not(bot):
    assert "trips" not in menu(bot) and "staff" not in menu(bot)
    assert "book" in menu(bot) and "book" in menu(bot, language="ru")
    assert {"trips", "checkin"} <= set(menu(bot, STAFF_ID)) and "staff" not in menu(bot, STAFF_ID)
    assert {"trips", "checkin", "staff"} <= set(menu(bot, ADMIN_ID))


async def test_an_admin_grants_and_takes_back_the_staff_role(bot, engine):
    admin = bot.user("Ada", user_id=ADMIN_ID)
    pat = bot.user("Pat", user_id=PAT_ID, language="ru")
    await pat.send("/start")
    await pat.send("/trips")
    assert "только для сотрудников" in pat.last_message.text
    await admin.send(f"/staff add {PAT_ID}")
    assert admin.last_message.text == f"Pat ({PAT_ID}) is staff now."
    assert await bot.services.customers.role(PAT_ID) is Role.STAFF
    assert "trips" in menu(bot, PAT_ID)
    await pat.send("/trips")
    assert "Какой день?" in pat.last_message.text  # the picker, in Pat's language
    await admin.send("/staff")
    listing = admin.last_message.text
    assert f"Pat ({PAT_ID}) — staff, granted in the bot" in listing
    assert f"Ada ({ADMIN_ID}) — admin, settings" in listing
    await admin.send(f"/staff add {PAT_ID}")
    assert "is staff already" in admin.last_message.text
    await admin.send(f"/staff remove {PAT_ID}")
    assert admin.last_message.text == f"Pat ({PAT_ID}) is no longer staff."
    assert menu(bot, PAT_ID) == []
    await pat.send("/trips")
    assert "только для сотрудников" in pat.last_message.text
    assert await audit_rows(engine) == 2  # the grant and the revocation; no-ops write none
    bot.harness.assert_no_errors()


async def test_the_settings_lists_are_changed_where_they_live(bot, engine):
    admin = bot.user("Ada", user_id=ADMIN_ID)
    await admin.send(f"/staff remove {STAFF_ID}")
    assert "stays staff: KASSA_STAFF_IDS lists them" in admin.last_message.text
    await admin.send(f"/staff remove {ADMIN_ID}")
    assert "admins are set in KASSA_ADMIN_IDS" in admin.last_message.text
    await admin.send(f"/staff remove {PAT_ID}")
    assert "is not staff: nothing to take back" in admin.last_message.text
    assert await audit_rows(engine) == 0


@pytest.mark.parametrize("typed", [
    "/staff add pat", "/staff add", "/staff add -5", "/staff add 1.5", "/staff promote 5",
    "/staff add 99999999999999999999", "/staff add ١٢٣",
])
async def test_bad_staff_arguments_get_the_usage_and_change_nothing(bot, engine, typed):
    admin = bot.user("Ada", user_id=ADMIN_ID)
    await admin.send(typed)
    assert "Give a Telegram user id as a number" in admin.last_message.text
    assert await audit_rows(engine) == 0
    bot.harness.assert_no_errors()


async def test_passengers_and_staff_cannot_change_roles(bot, engine):
    pat = bot.user("Pat", user_id=PAT_ID)
    await pat.send(f"/staff add {PAT_ID}")
    assert pat.last_message.text == "This is for staff only."
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send(f"/staff add {PAT_ID}")
    assert sam.last_message.text == "Only an admin can do this."
    assert await bot.services.customers.role(PAT_ID) is Role.PASSENGER
    # The use case checks again: a handler that forgot would still change nothing.
    with pytest.raises(Exception, match="not_admin"):
        await bot.services.roles.grant_staff(STAFF_ID, PAT_ID)
    assert await audit_rows(engine) == 0


async def test_an_admin_forwards_a_message_to_make_its_author_staff(bot):
    admin = bot.user("Ada", user_id=ADMIN_ID)
    pat = bot.user("Pat", user_id=PAT_ID)
    said = await pat.send("hello")
    await admin.send("/start")
    await admin.forward(said)
    card = admin.last_message
    assert f"A message from Pat ({PAT_ID}). Change their role?" in card.text
    # The card's button pressed by a passenger (replayed data) is refused.
    query = await pat.press("Make staff", message=card)
    assert query.answer is not None and "staff only" in str(query.answer)
    assert await bot.services.customers.role(PAT_ID) is Role.PASSENGER
    await admin.press("Make staff", message=card)
    assert admin.last_message.text == f"Pat ({PAT_ID}) is staff now."
    await admin.forward(said, hidden=True)
    assert "I cannot see who wrote this message" in admin.last_message.text
    # A passenger forwarding a message gets the booking conversation, not a role card.
    await pat.send("/start")
    await pat.forward(said)
    assert "Change their role?" not in pat.last_message.text
    bot.harness.assert_no_errors()


async def test_trips_shows_a_days_trips_and_one_trips_seats(bot):
    _user, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    sam = bot.user("Sam", user_id=STAFF_ID)
    day = paid.departure.date()
    await pick_trip(sam, "/trips", day, paid.origin.name("en"), paid.departure)
    card = sam.last_message.text
    assert "Seats: 1 sold, 0 held" in card and "Status: on time" in card
    await sam.send("/trips someday")
    assert "I could not read that date" in sam.last_message.text
    bot.harness.assert_no_errors()


async def test_a_trip_card_goes_back_to_its_list_and_an_overnight_trip_arrives_plus_one(
        bot, clock):
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/start")
    await sam.send("/trips tomorrow")
    routes = sam.last_message
    while not any(b.startswith("Moscow → Kazan") for b in routes.button_texts()):
        await sam.press("Next ▶")
        routes = sam.last_message
    await sam.press(next(b for b in routes.button_texts() if b.startswith("Moscow → Kazan")))
    trips, trip_buttons = sam.last_message.text, sam.last_message.button_texts()
    assert "which trip?" in trips
    await sam.press(next(b for b in trip_buttons if b.startswith("8:00")))
    card = sam.last_message
    assert "which trip?" not in card.text
    assert "arrives 9:30 AM +1" in card.text.replace("\u202f", " ")  # overnight, to Kazan
    assert card.button_texts() == ["« Back"]
    await sam.press("« Back")
    assert sam.last_message.text == trips
    assert sam.last_message.button_texts() == trip_buttons
    bot.harness.assert_no_errors()


async def test_a_day_typed_instead_of_tapped_and_anything_else_goes_on(bot, clock):
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/start")
    await sam.send("/trips")
    assert "Which day?" in sam.last_message.text
    await sam.send("tomorrow")
    assert "which route?" in sam.last_message.text
    await sam.send("/trips")
    await sam.send("hello there")  # not a day: the booking dialogue answers, as without /trips
    assert "Which day?" not in sam.last_message.text
    assert "which route?" not in sam.last_message.text
    await sam.send("tomorrow")  # the question was left: this is the booking dialogue's again
    assert "which route?" not in sam.last_message.text
    await sam.send("/trips")
    await sam.send("Beijing to Tianjin tomorrow")  # a day in a booking request: a booking
    assert "which route?" not in sam.last_message.text
    assert "Beijing → Tianjin" in sam.last_message.text
    bot.harness.assert_no_errors()


async def test_help_lists_the_staff_commands_to_staff_only(bot):
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/start")
    await sam.send("/help")
    text = sam.last_message.text
    assert "For staff:" in text and "/delay — Delay a trip" in text
    assert "/checkin — Check a ticket in" in text and "/staff —" not in text  # admins'
    pat = bot.user("Pat")
    await pat.send("/start")
    await pat.send("/help")
    assert "For staff:" not in pat.last_message.text and "/delay" not in pat.last_message.text
    bot.harness.assert_no_errors()
