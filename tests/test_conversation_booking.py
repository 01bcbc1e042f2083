"""A whole booking through the emulator against the real services, on both databases."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus
from booking.tickets.fonts import DEFAULT_FONTS, font_source
from handlers import callback_data as cb
from locales import texts
from tests.conversation_support import running_bot, seed


@pytest.fixture
async def bot(engine, clock, booking_transport):
    """The full bot on a database seeded with the demo network."""
    await seed(engine, clock)
    async with running_bot(engine, clock, transport=booking_transport) as running:
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
    await anna.send("ok?")  # words on the summary: it is shown again, saying what to tap
    summary = anna.last_message
    assert summary.text.startswith("⚠️ Tap ✅ Confirm to hold the seats, or « Back")
    assert "3A — Anna Lee" in summary.text
    await anna.press("✅ Confirm")
    held = anna.last_message
    assert "held until" in held.text
    orders = await bot.services.booking.orders_of(anna.id)
    assert len(orders) == 1 and orders[0].status is OrderStatus.HELD
    assert sorted(s.seat for s in orders[0].seats) == ["3A", "3B"]
    bot.harness.assert_no_errors()


async def to_trips(user, origin="Beijing", destination="Tianjin", day="Tomorrow"):
    await user.send("/book")
    await user.press(origin)
    await user.press(destination)
    await user.press(day)


async def to_seats(user, count: str):
    """At the seat map of tomorrow's first Beijing -> Tianjin trip, for ``count`` people."""
    await to_trips(user)
    await user.press(next(t for t in user.last_message.button_texts() if t.startswith("1.")))
    await user.press(count)


async def test_back_at_every_step_returns_to_the_step_before(bot):
    anna = bot.user()
    await to_trips(anna)
    first_trip = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
    await anna.press(first_trip)
    await anna.press("1")
    assert "Pick 1 seat" in anna.last_message.text
    await anna.press("Any seat")
    assert "Passenger 1 of 1" in anna.last_message.text
    expected = ["Pick 1 seat", "How many passengers", "Tap a trip", "When do you travel",
                "Where to", "Where are you leaving from", "What would you like to do"]
    for text in expected:
        await anna.press("« Back" if "« Back" in anna.last_message.button_texts() else "✖ Cancel")
        assert text in anna.last_message.text
    # One card was edited all the way: no pile of messages.
    assert len(anna.messages) == 1
    bot.harness.assert_no_errors()


async def test_typed_station_with_typo_and_typed_date(bot, clock):
    anna = bot.user()
    await anna.send("/book")
    await anna.send("Bejing")
    assert "From Beijing" in anna.last_message.text
    await anna.send("Tianjin")
    assert "When do you travel" in anna.last_message.text
    tomorrow = (clock() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    await anna.send(f"{tomorrow.day:02d}.{tomorrow.month:02d}")
    assert "Beijing → Tianjin" in anna.last_message.text
    assert "Tap a trip" in anna.last_message.text
    await anna.send("not a date")
    assert "couldn't read that date" in anna.last_message.text
    await anna.send("31.02")
    assert "There is no such day in the calendar" in anna.last_message.text
    await anna.send("next friday")
    assert "Beijing → Tianjin" in anna.last_message.text
    await anna.send("/cancel")
    assert "Booking stopped — /book to start again." in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_free_text_request_jumps_to_the_trip_list(bot):
    anna = bot.user()
    await anna.send("Beijing to Tianjin tomorrow 2 seats")
    trips = anna.last_message
    assert "Beijing → Tianjin" in trips.text and "Tap a trip" in trips.text
    first_trip = next(t for t in trips.button_texts() if t.startswith("1."))
    await anna.press(first_trip)
    # Two seats were asked for, so the count step is skipped.
    assert "Pick 2 seats" in anna.last_message.text
    ivan = bot.user("Ivan", language="ru")
    await ivan.send("из Москвы в Казань завтра")
    assert "Москва → Казань" in ivan.last_message.text
    bot.harness.assert_no_errors()


async def test_stale_and_double_pressed_buttons_book_once(bot):
    anna = bot.user()
    await to_trips(anna)
    old_card = anna.last_message
    first_trip = next(t for t in old_card.button_texts() if t.startswith("1."))
    await anna.press(first_trip)
    await anna.press("1")
    await anna.press("Any seat")
    await anna.send("Anna Lee")
    summary = anna.last_message
    confirm_data = summary.find_button("✅ Confirm")["callback_data"]
    await anna.press("✅ Confirm")
    # The same button pressed again (a second tap arriving late): same hold, nothing new.
    await press_data(bot, anna, summary, confirm_data)
    orders = await bot.services.booking.orders_of(anna.id)
    assert len(orders) == 1
    # A new booking makes every button of the earlier one stale.
    await anna.send("/book")
    query = await press_data(bot, anna, summary, confirm_data)
    assert query.answer.text == "This button is out of date."
    assert "Where are you leaving from" in anna.last_message.text
    assert len(await bot.services.booking.orders_of(anna.id)) == 1
    bot.harness.assert_no_errors()


async def press_data(bot, user, message, data):
    """Deliver a button press with exactly this data, as an old client could."""
    from bot.emulator.records import CallbackQueryRecord

    query = CallbackQueryRecord(id=bot.emulator.new_query_id(), user=user.record,
                                message=message, data=data)
    bot.emulator.callback_queries[query.id] = query
    await bot.emulator.deliver("callback_query", {
        "id": query.id, "from": user.record.to_api(), "message": message.to_api(),
        "chat_instance": "1", "data": data})
    return query


async def test_sold_out_day_offers_the_nearest_days_with_seats(bot, clock):
    anna = bot.user()
    day = (clock() + timedelta(days=1)).astimezone(ZoneInfo("Europe/Moscow")).date()
    booking = bot.services.booking
    # Fill every Moscow -> Vladimir trip that day (nine seats a buyer, as buyers would).
    buyers = iter(range(1, 1000))
    for option in await booking.search("MOW", "VLD", day):
        free = (await booking.seat_map(option.trip_id, "MOW", "VLD")).free
        for start in range(0, len(free), 9):
            seats = free[start:start + 9]
            buyer = next(buyers)
            await bot.services.customers.ensure(buyer, f"Buyer {buyer}")
            await booking.hold(buyer, option.trip_id, "MOW", "VLD", ["P"] * len(seats), seats)
    await anna.send("Moscow to Vladimir tomorrow")
    card = anna.last_message
    assert "No seats on this day" in card.text and "Nearest days with seats" in card.text
    assert "Tap another day, or type a date." in card.text
    nearest = [t for t in card.button_texts() if t.startswith(("Mon", "Tue", "Wed", "Thu",
                                                                "Fri", "Sat", "Sun"))]
    assert nearest
    await anna.press(nearest[0])
    assert "seats left" in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_a_hold_that_expired_is_said_so_clearly(bot, clock):
    anna = bot.user()
    await to_trips(anna)
    await anna.press(next(t for t in anna.last_message.button_texts() if t.startswith("1.")))
    await anna.press("1")
    await anna.press("Any seat")
    await anna.send("Anna Lee")
    summary = anna.last_message
    confirm_data = summary.find_button("✅ Confirm")["callback_data"]
    await anna.press("✅ Confirm")
    assert "held until" in anna.last_message.text
    clock.advance(minutes=16)
    await anna.press("Cancel this hold")
    assert "Your hold has expired" in anna.last_message.text
    await press_data(bot, anna, summary, confirm_data)
    assert "expired" in anna.last_message.text
    bot.harness.assert_no_errors()


async def hold_one_seat(bot):
    """Anna, holding one seat on tomorrow's first trip from Beijing to Tianjin; her order."""
    anna = bot.user()
    await anna.send("Beijing to Tianjin tomorrow 1 seat")
    await anna.press(next(t for t in anna.last_message.button_texts() if t.startswith("1.")))
    await anna.press("Any seat")
    await anna.send("Anna Lee")
    await anna.press("✅ Confirm")
    return anna, (await bot.services.booking.orders_of(anna.id))[0].id


async def test_a_cancellation_that_returns_nothing_says_it_is_the_policy(bot, clock):
    anna, order_id = await hold_one_seat(bot)
    await bot.backend.booking.confirm_payment(order_id, "ref-1", 4800, "CNY")
    view = await bot.services.booking.order(order_id)
    clock.now = view.departure - timedelta(hours=1)  # past the policy's last tier (2 h)
    await anna.send("/mytickets")
    await anna.press(next(t for t in anna.last_message.button_texts() if "Beijing" in t))
    await anna.press("Cancel booking")
    text = anna.last_message.text
    assert "You will get back CN¥0.00" in text
    assert "This close to departure the refund policy returns nothing." in text
    bot.harness.assert_no_errors()


async def test_my_tickets_cancel_shows_the_refund(bot, clock):
    anna, order_id = await hold_one_seat(bot)
    await bot.backend.booking.confirm_payment(order_id, "ref-1", 4800, "CNY")
    await anna.send("/mytickets")
    listing = anna.last_message
    assert "Upcoming: 1" in listing.text
    await anna.press(next(t for t in listing.button_texts() if "Beijing → Tianjin" in t))
    assert "Status: paid" in anna.last_message.text
    await anna.press("Cancel booking")
    # The trip leaves in 18 hours: the default policy refunds half.
    assert "You will get back CN¥24.00" in anna.last_message.text
    assert ("This close to departure the refund policy returns 50% of CN¥48.00."
            in anna.last_message.text)
    await anna.press("Yes, cancel it")
    assert "Refund: CN¥24.00" in anna.last_message.text
    view = await bot.services.booking.order(order_id)
    assert view.status.value == "refunded"
    # The refund notice offers the nearest other trips: never the one just cancelled, whose
    # seat is free again and which leaves soonest.
    await bot.run_jobs()
    notice = next(m for m in reversed(anna.messages)
                  if m.text and "is on its way back to you" in m.text)
    offered = offered_trips(notice)
    assert offered and view.trip_id not in offered
    bot.harness.assert_no_errors()


@pytest.mark.parametrize(("language", "typed"), [
    ("en", "confirm"), ("en", "  YES "), ("en", "✅ Confirm"), ("en", "да"), ("en", "是"),
    ("zh", "确认"), ("zh", "是"), ("zh", "yes"), ("ru", "Подтвердить"), ("ru", "ДА"),
    ("ru", "confirm"),
])
async def test_confirm_typed_on_the_summary_in_any_language_holds_the_seats(
        bot, language, typed):
    _ = texts(language)
    anna = bot.user("Anna", language=language)
    await anna.send("Beijing to Tianjin tomorrow 1 seat")
    await anna.press(next(t for t in anna.last_message.button_texts()
                          if re.match(r"(✅ )?1\. ", t)))
    await anna.press(_.ngettext("Any seat", "Any seats", 1))
    await anna.send("Anna Lee")
    assert _("Please check your booking:") in anna.last_message.text
    await anna.send(typed)
    [order] = await bot.services.booking.orders_of(anna.id)
    assert order.status is OrderStatus.HELD
    held = _.ngettext("✅ Your seat is held until {time} ({station} time).",
                      "✅ Your seats are held until {time} ({station} time).", 1,
                      time="\0", station="\0")
    assert anna.last_message.text.startswith(held.split("\0")[0])
    bot.harness.assert_no_errors()


@pytest.mark.parametrize("typed", ["ok?", "yes?", "no", "confirmed", "да нет"])
async def test_other_words_on_the_summary_hold_nothing(bot, typed):
    anna = bot.user("Anna")
    await anna.send("Beijing to Tianjin tomorrow 1 seat")
    await anna.press(next(t for t in anna.last_message.button_texts() if t.startswith("1.")))
    await anna.press("Any seat")
    await anna.send("Anna Lee")
    await anna.send(typed)
    assert anna.last_message.text.startswith("⚠️ Tap ✅ Confirm to hold the seats")
    assert await bot.services.booking.orders_of(anna.id) == []
    bot.harness.assert_no_errors()


def offered_trips(message) -> list[int]:
    """The trips a message's alternative buttons would book."""
    found = [cb.parse_alternative(b.get("callback_data")) for row in message.inline_keyboard
             for b in row]
    return [pick[1] for pick in found if pick is not None]


async def test_language_switch_and_every_language(bot):
    li = bot.user("Li", language="zh")
    await li.send("/start")
    assert "Li，您好" in li.last_message.text
    await li.press("🚌 订票")
    await li.press("北京")
    assert "从北京出发" in li.last_message.text
    ivan = bot.user("Ivan", language="ru")
    await ivan.send("/start")
    assert "Здравствуйте, Ivan" in ivan.last_message.text
    await ivan.press("🚌 Купить билет")
    await ivan.press("Москва")
    await ivan.press("Казань")
    await ivan.press("Завтра")
    assert "Москва → Казань" in ivan.last_message.text
    assert re.search(r"осталось \d+ мест", ivan.last_message.text)
    anna = bot.user("Anna", language="en")
    await anna.send("/language")
    await anna.press("Русский")
    assert "Язык: русский" in anna.last_message.text
    assert (await bot.services.customers.customer(anna.id)).language == "ru"
    await anna.send("/start")
    assert "Здравствуйте, Anna" in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_typed_seats_any_seats_and_seats_that_do_not_exist(bot):
    anna = bot.user()
    await to_seats(anna, "2")
    await anna.send("99Z")
    assert "There is no seat 99Z on this coach." in anna.last_message.text
    await anna.send("Anna Lee")  # a name typed one step too early is no seat either
    assert "Tap seats on the map, or type their labels, like 1A." in anna.last_message.text
    await anna.send("B1 1 C")  # the letter first, or apart: seats 1B and 1C
    assert "Passenger 1 of 2" in anna.last_message.text
    await anna.press("« Back")
    await anna.send("1A 1B")
    assert "Passenger 1 of 2" in anna.last_message.text
    await anna.press("« Back")
    await anna.press("« Back")
    await anna.press("1")
    await anna.send("any seats")  # typed instead of tapped
    assert "Passenger 1 of 1" in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_saved_passengers_are_offered_on_the_next_booking(bot):
    anna = bot.user("Anna")

    async def to_names():
        await to_trips(anna)
        first_trip = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
        await anna.press(first_trip)
        await anna.press("1")
        await anna.press("Any seat")

    await to_names()
    await anna.send("Maria Ivanova")
    await anna.press("✅ Confirm")
    await bot.run_jobs()  # the hold's names are saved after its commit, by the outbox
    await to_names()
    assert "Maria Ivanova" in anna.last_message.button_texts()
    await anna.press("Maria Ivanova")
    await anna.press("✅ Confirm")
    orders = await bot.services.booking.orders_of(anna.id)
    assert [o.seats[0].passenger for o in orders] == ["Maria Ivanova", "Maria Ivanova"]
    bot.harness.assert_no_errors()


async def test_a_cancellation_is_done_as_it_was_shown_or_asked_again(bot):
    """Asked to release a hold, and paid meanwhile: the yes releases nothing and refunds
    nothing, and the question comes back as it stands now (a refund)."""
    anna, order_id = await hold_one_seat(bot)
    await anna.send("/mytickets")
    await anna.press(next(t for t in anna.last_message.button_texts() if "Beijing" in t))
    await anna.press("Cancel this hold")
    assert "Cancel this hold? The seat will be released." in anna.last_message.text
    await bot.backend.booking.confirm_payment(order_id, "ref-1", 4800, "CNY")
    await anna.press("Yes, cancel it")
    text = anna.last_message.text
    assert "This booking is not on hold any more." in text
    assert "Cancel this booking? You will get back CN¥24.00" in text
    assert (await bot.services.booking.order(order_id)).status.value == "paid"
    # A refund other than the one quoted is refused in the transaction, and changes nothing.
    with pytest.raises(BookingError) as changed:
        await bot.services.booking.cancel(order_id, anna.id, expect_refund=4800)
    assert changed.value.code is ErrorCode.CANCELLATION_CHANGED
    assert (await bot.services.booking.order(order_id)).status.value == "paid"
    await anna.press("Yes, cancel it")  # the question asked again, as it stands
    assert "Refund: CN¥24.00" in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_the_same_station_twice_is_said_so_also_in_a_booking(bot):
    anna = bot.user()
    await anna.send("Moscow to Kazan tomorrow")
    await anna.send("Moscow Moscow tomorrow")
    assert "Departure and arrival are the same station." in anna.last_message.text
    assert "Kazan" not in anna.last_message.text.split("\n")[0]  # the old destination left
    bot.harness.assert_no_errors()


@pytest.mark.parametrize("count", ["10 seats", "0 seats", "500 seats"])
async def test_a_count_no_booking_can_have_is_said_when_the_trip_is_chosen(bot, count):
    anna = bot.user()
    await anna.send(f"Beijing to Tianjin tomorrow {count}")
    await anna.press(next(t for t in anna.last_message.button_texts() if t.startswith("1.")))
    text = anna.last_message.text
    assert "You can book from 1 to 9 seats here." in text and "How many passengers" in text
    bot.harness.assert_no_errors()


def test_one_seat_left_is_said_as_such_not_as_a_range_of_one():
    from handlers.booking_steps import count_range

    assert count_range(texts("en"), 1) == "Only one seat can be booked here."
    assert count_range(texts("ru"), 1) == "Здесь можно забронировать только одно место."
    assert count_range(texts("en"), 9) == "You can book from 1 to 9 seats here."


async def test_a_seat_tapped_once_every_passenger_has_one_is_not_ignored(bot):
    anna = bot.user()
    await to_seats(anna, "2")
    await anna.send("1A 1B")
    assert "Passenger 1 of 2" in anna.last_message.text
    await anna.press("« Back")
    seat_map = anna.last_message
    await anna.press("2A", message=seat_map)
    assert "You have chosen 2 seats already: tap one of them to free it first." in (
        anna.last_message.text)
    assert "Passenger 1 of 2" not in anna.last_message.text  # still choosing seats
    bot.harness.assert_no_errors()


async def test_one_passengers_new_seat_takes_the_place_of_the_old(bot):
    anna = bot.user()
    await to_seats(anna, "1")
    await anna.send("1A")
    await anna.press("« Back")
    await anna.press("2A")
    await anna.send("Anna Lee")
    assert "2A — Anna Lee" in anna.last_message.text
    assert "1A" not in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_the_last_day_on_sale_offers_no_later_day(bot, clock):
    anna = bot.user()
    await anna.send("/book")
    await anna.press("Beijing")
    await anna.press("Tianjin")
    today = clock().astimezone(ZoneInfo("Asia/Shanghai")).date()
    last = today + timedelta(days=bot.services.booking.limits().booking_horizon_days)
    await anna.send(last.isoformat())
    buttons = anna.last_message.button_texts()
    assert "« Earlier day" in buttons and "Later day »" not in buttons
    await anna.press("« Earlier day")
    assert "Later day »" in anna.last_message.button_texts()
    bot.harness.assert_no_errors()


async def test_a_chinese_hold_names_its_time_as_the_stations_local_time(bot):
    li = bot.user("Li", language="zh")
    await li.send("北京到天津明天")
    await li.press(next(t for t in li.last_message.button_texts() if t.startswith("1.")))
    await li.press("1")
    await li.press("任意座位")
    await li.send("王小明")
    await li.press("✅ 确认")
    # Not "北京时间" nor "天津时间": the time is the boarding station's, said as such.
    assert "（北京当地时间）" in li.last_message.text
    bot.harness.assert_no_errors()


async def test_a_passenger_at_the_unpaid_hold_cap_is_told_what_to_do(bot, clock):
    anna = bot.user("Anna")
    await anna.send("/start")
    await to_trips(anna)
    trip = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
    booking = bot.services.booking
    tomorrow = (clock() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    option = next(o for o in await booking.search("BJS", "TSN", tomorrow) if o.seats_free)
    holds = [await booking.hold(anna.id, option.trip_id, "BJS", "TSN", [name])
             for name in ("Ann One", "Ann Two", "Ann Three")]
    await anna.press(trip)
    await anna.press("1")
    await anna.press("Any seat")
    await anna.send("Anna Lee")
    await anna.press("✅ Confirm")
    refusal = anna.last_message.text
    assert "You already have 3 unpaid bookings. Pay for one or cancel it" in refusal
    assert "Please check your booking" in refusal  # the summary again, to confirm later
    assert len(await booking.orders_of(anna.id)) == 3
    await booking.cancel(holds[0].id, anna.id)
    await anna.press("✅ Confirm")
    assert "held until" in anna.last_message.text
    bot.harness.assert_no_errors()


async def test_the_ticket_fonts_are_read_at_start_not_at_the_first_name(engine, clock):
    font_source.cache_clear()
    await seed(engine, clock)
    async with running_bot(engine, clock):
        # Read off the event loop as the bot starts: the first Chinese name asks them.
        assert already_read(DEFAULT_FONTS.regular) and already_read(DEFAULT_FONTS.cjk)


def already_read(font) -> bool:
    """Whether the process had read ``font`` before this asked for it."""
    hits = font_source.cache_info().hits
    font_source(font)
    return font_source.cache_info().hits > hits


async def test_a_name_corrected_by_editing_its_message_is_not_the_next_passenger(bot):
    anna = bot.user("Anna")
    await to_seats(anna, "2")
    await anna.press("Any seats")
    sent = await anna.send("Anna Lee")
    # She edits the message she sent, to correct the first name, at the second's step.
    edited = {**sent.to_api(), "text": "Anna Li", "edit_date": sent.to_api()["date"]}
    await bot.emulator.deliver("edited_message", edited)
    assert anna.last_message.text == ("✏️ Edits to sent messages change nothing here: send "
                                      "the corrected text as a new message.")
    await anna.send("Bo Chen")
    summary = anna.last_message.text
    assert "Please check your booking" in summary
    assert "Anna Lee" in summary and "Bo Chen" in summary and "Anna Li\n" not in summary
    bot.harness.assert_no_errors()
