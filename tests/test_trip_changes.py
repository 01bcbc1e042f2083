"""/delay and /cancel_trip through the emulator: every affected passenger is told in their
language with the new local times, or refunded in full with other trips offered; bad input,
a second cancellation and passengers are refused, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus, TicketStatus
from booking.providers import PaymentEventType
from locales import texts
from storage import tables as t
from tests.conversation_support import pick_trip, staff_bot
from tests.test_conversation_booking import offered_trips
from tests.test_payments_web import held_booking

EN = texts("en")

STAFF_ID = 940001


@pytest.fixture
async def bot(engine, clock):
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID]) as running:
        yield running


async def booked(bot, name, passenger, language, *, pay=True):
    user, view = await held_booking(bot, name=name, passenger=passenger)
    if language != "en":
        await user.send("/language")
        await user.press({"ru": "Русский", "zh": "中文"}[language])
    if pay:
        await bot.services.booking.handle_event(
            bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    return user, view


async def pick(sam, view, command):
    await pick_trip(sam, command, view.departure.date(), view.origin.name("en"), view.departure)


def said(user, fragment: str) -> str:
    """The latest text the bot sent this person containing ``fragment`` (tickets and
    calendar files may have arrived after it)."""
    return next((m.text for m in reversed(user.messages) if m.text and fragment in m.text), "")


async def staff_rows(engine, action) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(t.staff_actions).where(
            t.staff_actions.c.action == action)
        return int((await conn.execute(query)).scalar_one())


async def test_a_delay_reaches_every_passenger_in_their_language(bot, engine):
    anna, paid = await booked(bot, "Anna", "Anna Lee", "en")
    olga, held = await booked(bot, "Olga", "Ольга Петрова", "ru", pay=False)
    wang, _ = await booked(bot, "Wang", "王伟", "zh")
    assert paid.trip_id == held.trip_id
    sam = bot.user("Sam", user_id=STAFF_ID)
    await pick(sam, paid, "/delay")
    assert "Delay it by how many minutes?" in sam.last_message.text
    for bad, answer in (("soon", "as a number"), ("0", "from 1 to 1440"),
                        ("-5", "from 1 to 1440"), ("1441", "from 1 to 1440")):
        await sam.send(bad)
        assert answer in sam.last_message.text
    await sam.send("25 min")
    assert "Why is it late?" in sam.last_message.text
    await sam.send("Snow on the G1 motorway")
    preview = sam.last_message.text
    new_departure = paid.departure + timedelta(minutes=25)
    assert f"New departure {EN.time(new_departure)}" in preview
    assert "3 passengers will be told." in preview
    await sam.press("✅ Delay the trip")
    assert "Done: the trip is 25 min late; 3 passengers are being told." in sam.last_message.text
    await bot.run_jobs()
    notice = said(anna, "min late")
    assert "is 25 min late: Snow on the G1 motorway" in notice
    assert f"New departure {EN.time(new_departure)} from Beijing" in notice
    assert "опаздывает на 25 мин: Snow on the G1 motorway" in said(olga, "опаздывает")
    assert "晚点 25 分钟" in said(wang, "晚点")
    [trip] = [v for v in await bot.services.booking.orders_of(anna.id)]
    assert trip.departure == paid.departure + timedelta(minutes=25)
    assert trip.delay_minutes == 25
    assert await staff_rows(engine, "delay_trip") == 1
    # Delayed again by 15: staff see it adds up, passengers are told the 40 in all.
    await sam.send(f"/delay {paid.departure.date().isoformat()}")
    await sam.press(next(b for b in sam.last_message.button_texts() if b.startswith("Beijing")))
    moved = EN.time(paid.departure + timedelta(minutes=25))
    await sam.press(next(b for b in sam.last_message.button_texts() if b.startswith(moved)))
    await sam.send("15")
    await sam.send("More snow")
    assert "15 min more, 40 min late in all." in sam.last_message.text
    assert f"New departure {EN.time(paid.departure + timedelta(minutes=40))}" in (
        sam.last_message.text)
    await sam.press("✅ Delay the trip")
    assert "Done: the trip is 40 min late; 3 passengers are being told." in sam.last_message.text
    await bot.run_jobs()
    assert "is 40 min late: More snow" in said(anna, "More snow")
    assert "опаздывает на 40 мин: More snow" in said(olga, "More snow")
    assert "晚点 40 分钟" in said(wang, "More snow")
    bot.harness.assert_no_errors()


async def test_a_cancellation_refunds_releases_and_offers_other_trips(bot, engine):
    anna, paid = await booked(bot, "Anna", "Anna Lee", "en")
    olga, _held = await booked(bot, "Olga", "Ольга Петрова", "ru", pay=False)
    sam = bot.user("Sam", user_id=STAFF_ID)
    await pick(sam, paid, "/cancel_trip")
    preview = sam.last_message.text
    assert "1 paid booking is refunded in full" in preview
    assert "1 unpaid hold is released" in preview
    await sam.send("Coach broke down")
    await sam.press("❌ Cancel the trip")
    assert "Done: the trip is cancelled; 2 bookings are cancelled" in sam.last_message.text
    await bot.run_jobs()
    notice = next(m for m in reversed(anna.messages) if m.text and "is cancelled" in m.text)
    assert "is cancelled: Coach broke down" in notice.text
    day = EN.day(paid.departure.date(), paid.departure.date())
    assert f"on {day} {EN.time(paid.departure)} is cancelled" in notice.text
    seat = paid.seats[0].seat
    assert f"\n{paid.id} · {seat} Anna Lee\n" in notice.text  # which booking, for several
    assert f"CN¥{paid.amount / 100:.2f} is on its way back to you." in notice.text
    assert "отменён: Coach broke down" in said(olga, "отменён")
    [anna_order] = await bot.services.booking.orders_of(anna.id)
    assert anna_order.status is OrderStatus.REFUNDED and anna_order.refund_amount == paid.amount
    tickets = await bot.services.booking.tickets(paid.id, None)
    assert all(tk.status is TicketStatus.VOID for tk in tickets)
    [olga_order] = await bot.services.booking.orders_of(olga.id)
    assert olga_order.status is OrderStatus.CANCELLED
    async with engine.connect() as conn:
        refunded = (await conn.execute(select(t.payments.c.status))).scalars().all()
    assert refunded == ["refunded"]
    # Other trips are offered, never the cancelled one.
    offered = offered_trips(notice)
    assert offered and paid.trip_id not in offered
    # One tap on an offered trip books the same stretch and seat count again.
    other = next(b for b in notice.button_texts() if "·" in b)
    await anna.press(other, message=notice)
    assert "Beijing" in anna.last_message.text
    # Cancelling twice changes nothing.
    await pick(sam, paid, "/cancel_trip")
    assert sam.last_message.text == "That trip has been cancelled."
    assert await staff_rows(engine, "cancel_trip") == 1
    with pytest.raises(BookingError) as twice:
        await bot.services.trip_changes.cancel(STAFF_ID, paid.trip_id, "again")
    assert twice.value.code is ErrorCode.TRIP_CANCELLED
    bot.harness.assert_no_errors()


async def test_passengers_cannot_change_trips(bot, engine):
    _anna, paid = await booked(bot, "Anna", "Anna Lee", "en")
    pat = bot.user("Pat")
    for command in ("/delay", "/cancel_trip"):
        await pat.send(command)
        assert pat.last_message.text == "This is for staff only."
    for call in (bot.services.trip_changes.delay(pat.id, paid.trip_id, 10, "x"),
                 bot.services.trip_changes.cancel(pat.id, paid.trip_id, "x")):
        with pytest.raises(BookingError) as refused:
            await call
        assert refused.value.code is ErrorCode.NOT_STAFF
    assert await staff_rows(engine, "delay_trip") + await staff_rows(engine, "cancel_trip") == 0


async def test_a_trip_that_has_left_or_does_not_exist(bot, clock):
    _anna, paid = await booked(bot, "Anna", "Anna Lee", "en")
    changes = bot.services.trip_changes
    with pytest.raises(BookingError) as unknown:
        await changes.delay(STAFF_ID, 10**8, 10, "x")
    assert unknown.value.code is ErrorCode.UNKNOWN_TRIP
    clock.advance(days=3)
    with pytest.raises(BookingError) as left:
        await changes.cancel(STAFF_ID, paid.trip_id, "x")
    assert left.value.code is ErrorCode.TRIP_DEPARTED
    with pytest.raises(BookingError) as reason:
        await changes.delay(STAFF_ID, paid.trip_id, 10, "   ")
    assert reason.value.code is ErrorCode.BAD_REASON


async def test_a_question_left_unanswered_does_not_catch_later_typing(bot):
    """A staff member who asked for a delay, then went on to something else, has their
    next words taken for what they went on to, not for the minutes asked before."""
    _anna, paid = await booked(bot, "Anna", "Anna Lee", "en")
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/start")
    menu = sam.last_message
    await pick(sam, paid, "/delay")
    assert "Delay it by how many minutes?" in sam.last_message.text
    await sam.send("/mytickets")
    await sam.send("20")
    assert "Type the delay" not in sam.last_message.text
    assert "Why is it late?" not in sam.last_message.text
    # The same after a press on the menu rather than a command.
    await pick(sam, paid, "/cancel_trip")
    assert "Why is it cancelled?" in sam.last_message.text
    await sam.press("🚌 Book a trip", message=menu)
    await sam.send("Beijing to Tianjin tomorrow")
    assert "Cancel the trip for this reason" not in sam.last_message.text
    assert (await bot.services.booking.order(paid.id, None)).status.value == "paid"
    bot.harness.assert_no_errors()


async def test_a_delay_past_midnight_says_so_and_names_the_trip_by_its_timetable(bot):
    anna, paid = await booked(bot, "Anna", "Anna Lee", "en")
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send(f"/trips {paid.departure.date().isoformat()}")
    routes_before = sam.last_message.button_texts()
    await pick(sam, paid, "/delay")
    minutes = 24 * 60 - 60  # a day less an hour: the next day, whenever the trip leaves
    await sam.send(str(minutes))
    await sam.send("Bridge closed")
    moved = paid.departure + timedelta(minutes=minutes)
    assert moved.date() > paid.departure.date()
    preview = sam.last_message.text.replace("\u202f", " ")
    assert f"New departure {EN.time(moved)} +1".replace("\u202f", " ") in preview
    # The arrival marked from the same day as the departure: the trip's timetabled one.
    arrives = paid.arrival + timedelta(minutes=minutes)
    marked = f"arrival {EN.time(arrives)} +{(arrives.date() - paid.departure.date()).days}"
    assert marked.replace("\u202f", " ") in preview
    await sam.press("✅ Delay the trip")
    await bot.run_jobs()
    notice = said(anna, "min late").replace("\u202f", " ")
    day = EN.day(paid.departure.date(), paid.departure.date())
    assert f"on {day} {EN.time(paid.departure)} is {minutes} min late".replace(
        "\u202f", " ") in notice
    assert f"New departure {EN.time(moved)} +1 from Beijing".replace("\u202f", " ") in notice
    assert marked.replace("\u202f", " ") in notice
    # Staff find it under its own day, at its new time, marked as the next day's.
    await sam.send(f"/trips {paid.departure.date().isoformat()}")
    routes = sam.last_message.button_texts()
    assert routes == routes_before  # in timetable order: the delay moves nothing down
    await sam.press(next(b for b in routes if b.startswith("Beijing → Tianjin")))
    labels = [b.replace("\u202f", " ") for b in sam.last_message.button_texts()]
    assert any(b.startswith(f"{EN.time(moved)} +1 · ".replace("\u202f", " "))
               for b in labels), labels
    bot.harness.assert_no_errors()


async def test_a_payment_that_comes_after_the_trip_was_cancelled_is_refunded_and_said(
        bot, engine, clock):
    # The hold ran out before staff cancelled the trip, so the cancellation told its
    # passenger nothing; the payment that comes after is refunded, and that is said.
    kate, view = await booked(bot, "Kate", "Kate Moss", "en", pay=False)
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    clock.advance(minutes=16)
    await bot.services.booking.expire_holds()
    await bot.services.trip_changes.cancel(STAFF_ID, view.trip_id, "Coach broke down")
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    await bot.run_jobs()
    await bot.run_jobs()
    amount = f"CN¥{view.amount / 100:.2f}"
    notices = [m.text for m in kate.messages
               if m.text and "arrived after the trip was cancelled" in m.text]
    assert len(notices) == 1 and f"{amount} is on its way back to you." in notices[0]
    async with engine.connect() as conn:
        assert (await conn.execute(select(t.payments.c.status))).scalar_one() == "refunded"
    bot.harness.assert_no_errors()
