"""The staff trip picker (day -> route -> trip), the day's trips with their load, and the typed
steps of staff dialogues; passengers are refused at every step."""

from __future__ import annotations

from datetime import date

import pytest
from telegram import Update
from telegram.ext import ApplicationHandlerStop, CommandHandler

from booking.errors import BookingError, ErrorCode
from booking.providers import PaymentEventType
from booking.staff_console import StaffConsole
from bot.settings import Settings
from handlers import callback_data as cb
from handlers import staff, staff_picker
from handlers.cards import Card, show
from handlers.context import KassaContext
from handlers.registry import GATE
from handlers.staff_picker import staff_date
from storage.uow import SqlUnitOfWorkFactory
from tests.conversation_support import running_bot, seed
from tests.test_payments_web import held_booking

STAFF_ID = 777001
PROBE = "probe"


@pytest.fixture
async def bot(engine, clock):
    """A running bot with one staff member and a probe purpose that reports the picked trip."""
    await seed(engine, clock)
    picked: list[int] = []

    async def chosen(update: Update, context: KassaContext, trip_id: int) -> None:
        picked.append(trip_id)
        staff.open_step(context, PROBE, trip=trip_id)
        await show(update, context, Card(f"picked {trip_id}; type a note", []))

    async def typed(update: Update, context: KassaContext, text: str) -> None:
        step = staff.close_step(context)
        await show(update, context, Card(f"note for {step and step['trip']}: {text}", []),
                   edit=False)

    async def probe(update: Update, context: KassaContext) -> None:
        if await staff.staff_only(update, context):
            await staff_picker.ask_trip(update, context, PROBE)
        raise ApplicationHandlerStop  # registered ahead of group 0, which would answer too

    staff_picker.register_trip_action(PROBE, "Probe", chosen)
    staff.register_text_step(PROBE, typed)
    settings = Settings(_env_file=None, staff_ids=[STAFF_ID])
    async with running_bot(engine, clock, settings=settings) as running:
        # Before the catch-all command handler of group 0, as a real staff command would be.
        running.harness.application.add_handler(CommandHandler("probe", probe), group=GATE)
        running.picked = picked  # type: ignore[attr-defined]
        yield running


async def test_staff_pick_a_trip_by_day_route_and_time(bot):
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/start")
    await member.send("/probe")
    card = member.last_message
    assert "Which day?" in card.text
    assert card.button_texts()[0] == "Today"
    await member.press("Tomorrow" if "Tomorrow" in card.button_texts() else
                       card.button_texts()[1])
    routes = member.last_message
    assert "which route?" in routes.text
    assert "Next ▶" in routes.button_texts()  # 16 routes a day: two pages
    assert "Page 1 of 2" in routes.text  # as the passengers' trip list says it
    assert "◀ Previous" not in routes.button_texts()
    await member.press("Next ▶")
    second_page = member.last_message
    assert "◀ Previous" in second_page.button_texts() and "◀ Days" in second_page.button_texts()
    assert "Next ▶" not in second_page.button_texts() and "Page 2 of 2" in second_page.text
    await member.press("◀ Previous")
    beijing_tianjin = next(t for t in member.last_message.button_texts()
                           if t.startswith("Beijing → Tianjin"))
    assert beijing_tianjin.endswith("· 7")  # CN4 runs seven times a day
    await member.press(beijing_tianjin)
    trips = member.last_message
    assert "which trip?" in trips.text
    assert trips.button_texts()[0].startswith("6:00") and "· 0/19" in trips.button_texts()[0]
    await member.press(trips.button_texts()[0])
    [trip_id] = bot.picked
    assert f"picked {trip_id}" in member.last_message.text
    await member.send("Driver change at Tianjin")
    assert member.last_message.text == f"note for {trip_id}: Driver change at Tianjin"
    bot.harness.assert_no_errors()


async def test_cancel_closes_an_open_staff_step(bot):
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/start")
    await member.send("/probe")
    await member.press("Today")
    await member.press(next(t for t in member.last_message.button_texts()
                            if t.startswith("Beijing → Tianjin")))
    await member.press(member.last_message.button_texts()[-2])  # the last trip of the day
    await member.send("/cancel")
    assert "Cancelled. Nothing was changed." in member.last_message.text
    await member.send("Beijing to Tianjin tomorrow")  # the booking conversation has it again
    assert "note for" not in member.last_message.text
    bot.harness.assert_no_errors()


async def test_a_passenger_is_refused_the_picker_and_its_buttons(bot):
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/start")
    await member.send("/probe")
    passenger = bot.user("Pat")
    await passenger.send("/start")
    await passenger.send("/probe")
    assert "This is for staff only." in passenger.last_message.text
    # A picker card forwarded or replayed by someone else is refused at the press as well.
    query = await passenger.press("Today", message=member.last_message)
    assert query.answer is not None and "staff only" in str(query.answer)
    assert bot.picked == []


async def test_day_trips_count_sold_held_and_free_seats(bot, engine, clock):
    _user, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    _other, held = await held_booking(bot, name="Bo", passenger="Bo Chen")
    assert held.trip_id == paid.trip_id
    console = StaffConsole(SqlUnitOfWorkFactory(engine), clock=clock)
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/start")
    day = paid.departure.date()
    trips = await console.day_trips(STAFF_ID, day)
    [trip] = [t for t in trips if t.trip_id == paid.trip_id]
    assert (trip.sold, trip.held, trip.free) == (1, 1, trip.seats - 2)
    assert trip.origin.code == "BJS" and trip.departure.tzinfo is not None
    assert [t.departure for t in trips] == sorted(t.departure for t in trips)
    clock.advance(minutes=20)  # the hold runs out; the sold seat stays
    [later] = [t for t in await console.day_trips(STAFF_ID, day) if t.trip_id == trip.trip_id]
    assert (later.sold, later.held, later.free) == (1, 0, trip.seats - 1)
    with pytest.raises(BookingError) as refused:
        await console.day_trips(paid.customer_id, day)
    assert refused.value.code is ErrorCode.NOT_STAFF


@pytest.mark.parametrize("data", [
    "s:w:probe:2026060", "s:d:probe:20260601", "s:r:probe:20260601:x:0", "s:t:probe:",
    "s:t::12", "s:q:probe:1", "s:t:probe:1:2", "b:1:2:3", "", "s:d:probe:2026O601:0",
    "s:t:probe:1:2026060:0", "s:t:probe:1:20260601", "s:t:probe:1:20260601:x",
])
def test_junk_picker_data_is_not_a_pick(data):
    assert cb.parse_staff_pick(data) is None


def test_picker_data_round_trips():
    assert cb.parse_staff_pick(cb.staff_route("delay", "20260601", 42, 3)) == cb.StaffPick(
        "r", "delay", "20260601", 42, 3)
    assert cb.parse_staff_pick(cb.staff_trip("broadcast", 123456789)) == cb.StaffPick(
        "t", "broadcast", number=123456789)
    # A trip picked from a page of its route's trips carries that day and page, the way back.
    assert cb.parse_staff_pick(cb.staff_trip("trips", 42, "20260601", 2)) == cb.StaffPick(
        "t", "trips", "20260601", 42, 2)


def test_a_purpose_too_long_for_the_longest_picker_button_is_refused_at_once():
    async def nothing(update: Update, context: KassaContext, trip_id: int) -> None:
        """Never called."""

    # 40 characters fit a week's button, not a trip's with its day and page.
    with pytest.raises(ValueError, match="too long"):
        staff_picker.register_trip_action("x" * 40, "Too long", nothing)


@pytest.mark.parametrize(("typed", "expected"), [
    ("4.12", date(2026, 12, 4)),  # yesterday's trips, not next year's
    ("6.12", date(2026, 12, 6)),
    ("1.6", date(2027, 6, 1)),  # half a year ahead is still ahead
    ("4.12.2027", date(2027, 12, 4)),  # a year typed is the year meant
    ("tomorrow", date(2026, 12, 6)),
    ("yesterday", date(2026, 12, 4)),
    ("friday", date(2026, 12, 11)),
    ("someday", None),
    ("в пятницу", date(2026, 12, 11)),
    ("Beijing to Tianjin tomorrow", None),  # a booking request, not a day
])
def test_a_day_staff_type_is_the_nearest_such_day(typed, expected):
    assert staff_date(typed, date(2026, 12, 5)) == expected
