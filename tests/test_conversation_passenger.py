"""What a new passenger hit in the demo (issue 8), one class of problem per test, through the
emulator in the languages each class is about, asserting on what the passenger reads."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from booking.demo_network import demo_timetable
from booking.providers import PaymentEventType
from booking.stations import StationIndex
from bot.app import database_persistence
from bot.demo import seed_demo_network
from bot.emulator import BotApiEmulator, SimulatedUser
from bot.settings import Settings
from handlers.parsing import parse_trip_request
from locales import texts
from tests.conversation_support import running_bot, seed
from tests.test_locales import ASCII_IN_CHINESE

README = Path(__file__).resolve().parent.parent / "README.md"

# A trip for one, as each language writes it.
ONE_SEAT = {
    "en": "Beijing to Tianjin tomorrow 1 seat",
    "zh": "北京到天津明天1张",
    "ru": "из Пекина в Тяньцзинь завтра 1 место",
}


@pytest.fixture
async def bot(engine, clock, booking_transport):
    """The full bot on a database seeded with the demo network."""
    await seed(engine, clock)
    async with running_bot(engine, clock, transport=booking_transport) as running:
        yield running


def first_trip(user: SimulatedUser) -> str:
    return next(t for t in user.last_message.button_texts() if re.match(r"(✅ )?1\. ", t))


async def hold_one(user: SimulatedUser, language: str, name: str = "Anna Lee") -> None:
    """A hold for one passenger on tomorrow's first trip, asked for in one line."""
    _ = texts(language)
    await user.send(ONE_SEAT[language])
    await user.press(first_trip(user))
    await user.press(_.ngettext("Any seat", "Any seats", 1))
    await user.send(name)
    await user.press(_("✅ Confirm"))


def held_until(language: str) -> str:
    """The words that say a hold is live, before its time ("Held until")."""
    return texts(language)("Held until {time} ({station} time).").split("{")[0].strip()


# ---- 1. what is shown of a hold comes from its live state --------------------------------

async def test_an_expired_hold_reads_expired_everywhere_even_after_a_restart(
        engine, clock, booking_transport):
    await seed(engine, clock)
    emulator = BotApiEmulator()
    people: dict[str, SimulatedUser] = {}
    async with running_bot(engine, clock, emulator=emulator, transport=booking_transport,
                           persistence=database_persistence(engine)) as bot:
        for language, name in (("en", "Anna"), ("zh", "Li"), ("ru", "Ivan")):
            people[language] = bot.user(name, language=language)
            await hold_one(people[language], language)
            _ = texts(language)
            live = _.ngettext("✅ Your seat is held until {time} ({station} time).",
                              "✅ Your seats are held until {time} ({station} time).", 1,
                              time="\0", station="\0")
            assert live.split("\0")[0] in people[language].last_message.text
    clock.advance(minutes=16)  # the hold runs out; no sweep has run, the bot restarts
    async with running_bot(engine, clock, emulator=emulator, transport=booking_transport,
                           persistence=database_persistence(engine)) as bot:
        for language, user in people.items():
            _ = texts(language)
            held_card = user.last_message
            await user.send("/mytickets")
            listing = user.last_message
            assert _("{title}: {count}", title=_("Past and cancelled"), count=1) in listing.text
            [label] = [t for t in listing.button_texts() if "→" in t]
            assert label.endswith(_("expired")) and _("on hold") not in label
            await user.press(label)
            details = user.last_message.text
            assert _("Status: {status}", status=_("expired")) in details
            assert held_until(language) not in details
            assert _("Cancel this hold") not in user.last_message.button_texts()
            # The held card of before the restart, pressed: it is shown as it stands now.
            await user.press(_("Cancel this hold"), message=held_card)
            [held_card] = [m for m in user.messages if m.message_id == held_card.message_id]
            assert _("Your hold has expired and the seats were released.") in held_card.text
            assert _("This booking has expired.") in held_card.text
            assert _("Cancel this hold") not in held_card.button_texts()
        bot.harness.assert_no_errors()


# ---- 2. leaving a booking keeps it, or says it stopped -------------------------------------

async def test_leaving_a_booking_keeps_it_to_continue_and_stopping_it_says_so(bot):
    anna = bot.user("Anna")
    await anna.send("Beijing to Tianjin tomorrow 2 seats")
    await anna.press(first_trip(anna))
    await anna.press("3A")
    resume = "▶ Continue booking Beijing → Tianjin"
    for command in ("/start", "/help", "/mytickets"):
        await anna.send(command)
        assert resume in anna.last_message.button_texts(), command
        await anna.send("4B")  # typed while away: not taken as a seat behind their back
        assert "I didn't understand that" in anna.last_message.text
    await anna.send("/language")
    await anna.press("English")
    await anna.press(resume)
    seats = anna.last_message
    assert "Pick 2 seats" in seats.text and "Chosen: 3A" in seats.text
    assert "✅3A" in seats.button_texts()
    # /book typed to get back to it asks first instead of starting over.
    await anna.send("/book")
    assert "You are booking Beijing → Tianjin. Continue, or start a new booking?" in (
        anna.last_message.text)
    await anna.press(resume)
    assert "Chosen: 3A" in anna.last_message.text
    # A new request in one line replaces it, and says so.
    await anna.send("Moscow to Kazan tomorrow")
    assert ("Your booking Beijing → Tianjin was stopped; here is the new one."
            in anna.last_message.text)
    assert "Moscow → Kazan" in anna.last_message.text
    # /cancel stops it and says how to start again; a second /cancel has nothing to stop.
    await anna.send("/cancel")
    assert "Booking stopped — /book to start again." in anna.last_message.text
    assert not any(t.startswith("▶") for t in anna.last_message.button_texts())
    await anna.send("/cancel")
    assert "There is no booking in progress." in anna.last_message.text
    bot.harness.assert_no_errors()


# ---- 3. Back keeps every answer as a default -----------------------------------------------

async def test_back_keeps_every_answer_and_shows_it_as_the_default(bot):
    anna = bot.user("Anna")
    await anna.send("Beijing to Tianjin tomorrow 2 seats")
    await anna.press(first_trip(anna))
    await anna.press("3A")
    await anna.press("3B")
    await anna.send("Anna Lee")
    await anna.send("Bo Chen")
    assert "Please check your booking" in anna.last_message.text
    await anna.press("« Back")
    names = anna.last_message
    assert "1. Anna Lee" in names.text and "2. Bo Chen" in names.text
    assert {"Continue ›", "Change names"} <= set(names.button_texts())
    await anna.press("« Back")
    seats = anna.last_message
    assert "Chosen: 3A and 3B" in seats.text
    assert {"✅3A", "✅3B", "Continue ›"} <= set(seats.button_texts())
    await anna.press("« Back")
    assert "✅ 2" in anna.last_message.button_texts()
    await anna.press("« Back")
    assert first_trip(anna).startswith("✅ 1. ")
    await anna.press("« Back")
    assert any(t.startswith("✅") for t in anna.last_message.button_texts())  # the day
    await anna.press("« Back")
    assert "✅ Tianjin" in anna.last_message.button_texts()
    # Forward again over the defaults: every answer is still there.
    await anna.press("✅ Tianjin")
    await anna.press(next(t for t in anna.last_message.button_texts() if t.startswith("✅")))
    await anna.press(first_trip(anna))
    await anna.press("Continue ›")
    summary = anna.last_message.text
    assert "3A — Anna Lee" in summary and "3B — Bo Chen" in summary
    # Another trip needs other seats, but the passengers stay.
    for _step in range(4):
        await anna.press("« Back")
    await anna.press(next(t for t in anna.last_message.button_texts() if t.startswith("2. ")))
    assert "Pick 2 seats" in anna.last_message.text and "Chosen: —" in anna.last_message.text
    await anna.press("Any seats")
    summary = anna.last_message.text
    assert "Anna Lee" in summary and "Bo Chen" in summary
    await anna.press("« Back")
    await anna.press("« Back")
    assert {"✅ Any seats", "Continue ›"} <= set(anna.last_message.button_texts())
    bot.harness.assert_no_errors()


# ---- 4. a hold that was never paid is released, not refunded -------------------------------

@pytest.mark.parametrize("language", ["en", "zh", "ru"])
async def test_cancelling_an_unpaid_hold_releases_it_without_talk_of_refunds(bot, language):
    _ = texts(language)
    user = bot.user("Li", language=language)
    refund_words = [_("Refunded: {price}").split("{")[0],
                    _("Booking cancelled. Refund: {price}.").split("{")[0],
                    _("Cancel this booking? You will get back {price}.").split("{")[0]]

    def no_refund(text: str) -> None:
        assert not any(word in text for word in refund_words), text
        assert not re.search(r"\b0[.,]00\b", text), text

    # From the held card: asked first, as from /mytickets; "no" keeps it.
    await hold_one(user, language)
    await user.press(_("Cancel this hold"))
    asked = user.last_message.text
    assert _.ngettext("Cancel this hold? The seat will be released.",
                      "Cancel this hold? The seats will be released.", 1) in asked
    no_refund(asked)
    await user.press(_("No, keep it"))
    assert _("Cancel this hold") in user.last_message.button_texts()
    await user.press(_("Cancel this hold"))
    await user.press(_("Yes, cancel it"))
    card = user.last_message.text
    assert _("Your hold is cancelled.") in card
    assert _("This booking is {status}.", status=_("cancelled")) in card
    no_refund(card)
    # From /mytickets.
    await hold_one(user, language, "Bo Chen")
    await user.send("/mytickets")
    await user.press(next(t for t in user.last_message.button_texts()
                          if t.endswith(_("on hold"))))
    no_refund(user.last_message.text)
    await user.press(_("Cancel this hold"))
    question = user.last_message.text
    assert _.ngettext("Cancel this hold? The seat will be released.",
                      "Cancel this hold? The seats will be released.", 1) in question
    no_refund(question)
    await user.press(_("Yes, cancel it"))
    assert _("Your hold is cancelled.") in user.last_message.text
    no_refund(user.last_message.text)
    await user.send("/mytickets")
    for label in user.last_message.button_texts():
        if "→" in label:
            await user.press(label)
            no_refund(user.last_message.text)
            await user.send("/mytickets")
    bot.harness.assert_no_errors()


# ---- 6. dates: the past is said to be past, another year is shown --------------------------

async def test_past_dates_are_called_past_and_other_years_are_shown(
        engine, clock, booking_transport):
    clock.now = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 on 3 December in Beijing
    await seed(engine, clock)
    async with running_bot(engine, clock, transport=booking_transport) as bot:
        for language, yesterday in (("en", "yesterday"), ("zh", "昨天"), ("ru", "вчера")):
            _ = texts(language)
            past = _("That date is in the past.")
            user = bot.user("Li", language=language)
            await user.send("/book")
            await user.press(_("Beijing" if language == "en" else
                               {"zh": "北京", "ru": "Пекин"}[language]))
            await user.press({"en": "Tianjin", "zh": "天津", "ru": "Тяньцзинь"}[language])
            await user.send(yesterday)
            assert past in user.last_message.text
            assert _("I couldn't read that date. Try 25.12 or “tomorrow”.") not in (
                user.last_message.text)
            # 01.12 on 3 December is next year's: the year is shown.
            await user.send("01.12")
            assert "2027" in user.last_message.text.splitlines()[0]
            await user.press(_("« Back"))
            await user.send(_("Tomorrow"))  # the word typed: this year's, no year shown
            assert "2026" not in user.last_message.text.splitlines()[0]
        # A one-line request with a past day says why it shows the calendar.
        ivan = bot.user("Ivan", language="ru")
        await ivan.send("из Москвы в Казань вчера")
        card = ivan.last_message.text
        assert texts("ru")("That date is in the past.") in card
        assert "Москва → Казань" in card and "Когда" in card
        anna = bot.user("Anna")
        await anna.send("Beijing to Tianjin 30.02")
        assert "There is no such day in the calendar" in anna.last_message.text
        # 12/5 is 5 December as Chinese writes it (in English, day first: 12 May).
        wang = bot.user("Wang", language="zh")
        await wang.send("北京到天津 12/5")
        assert "12月5日" in wang.last_message.text.splitlines()[0]
        await wang.send("12/4")  # typed at the trips step, month first as well
        assert "12月4日" in wang.last_message.text.splitlines()[0]
        bot.harness.assert_no_errors()


# ---- 7. one-line requests read names as fuzzily as the station step ------------------------

async def test_misspelt_and_ambiguous_stations_in_a_one_line_request(bot):
    anna = bot.user("Anna")
    await anna.send("Bejing to Tianjn tomorrow")
    assert "Beijing → Tianjin" in anna.last_message.text
    assert first_trip(anna)
    ivan = bot.user("Ivan", language="ru")
    await ivan.send("из Пикина в Шанхай завтра")
    assert "Пекин → Шанхай" in ivan.last_message.text
    # "Novgorod" is two cities: the bot asks which, and keeps the rest of the request.
    await anna.send("Moscow to Novgorod tomorrow 2 seats")
    card = anna.last_message
    assert "Which station did you mean?" in card.text
    assert {"Nizhny Novgorod", "Veliky Novgorod"} <= set(card.button_texts())
    await anna.press("Veliky Novgorod")
    assert "Moscow → Veliky Novgorod" in anna.last_message.text
    await anna.press(first_trip(anna))
    assert "Pick 2 seats" in anna.last_message.text
    # Half a request asks for the other half and keeps what was said.
    li = bot.user("Li", language="zh")
    await li.send("到天津明天")
    assert "从哪里出发" in li.last_message.text
    await li.press("北京")
    assert "北京 → 天津" in li.last_message.text and first_trip(li)
    bot.harness.assert_no_errors()


# ---- 8. lookalike and full-width characters ------------------------------------------------

async def test_lookalike_and_full_width_input_is_read_as_meant(bot, clock):
    ivan = bot.user("Ivan", language="ru")
    await ivan.send("/book")
    await ivan.press("Москва")
    await ivan.press("Казань")
    await ivan.send("зaвтра")  # a Latin "a" in завтра
    await ivan.press(first_trip(ivan))
    await ivan.send("２")  # a full-width 2
    assert "Выберите 2 места" in ivan.last_message.text
    await ivan.send("4а 99Z")  # Cyrillic а; a seat that does not exist is named
    assert "В этом автобусе нет места 99Z." in ivan.last_message.text
    await ivan.send("4а 4В")  # Cyrillic а and В
    assert "Пассажир 1 из 2" in ivan.last_message.text
    await ivan.send("Иван Петров")
    await ivan.send("Анна Петрова")
    assert "4A — Иван Петров" in ivan.last_message.text
    assert "4B — Анна Петрова" in ivan.last_message.text
    li = bot.user("Li", language="zh")
    await li.send("/book")
    await li.press("北京")
    await li.press("天津")
    await li.send("０５。０６")  # full-width digits and an ideographic full stop
    assert "6月5日" in li.last_message.text and first_trip(li)
    anna = bot.user("Anna")
    await anna.send("Beijing to Tianjin tomorrow")
    await anna.press(first_trip(anna))
    await anna.send("１")
    await anna.send("４Ａ")
    assert "Passenger 1 of 1" in anna.last_message.text
    bot.harness.assert_no_errors()


# ---- 9. names hold letters, spaces, hyphens, apostrophes and full stops --------------------

async def test_names_with_symbols_are_refused_with_the_reason(bot):
    for language, name, bad, good in (
        ("en", "Anna 🌸", "Anna 😀 Smith", "Mary-Jane O'Neil Jr."),
        ("zh", "Li", "李😀", "李小龙"),
        ("ru", "Ivan", "Анна 😀", "Анна-Мария Д'Арк"),
    ):
        _ = texts(language)
        user = bot.user(name, language=language)
        await user.send(ONE_SEAT[language])
        await user.press(first_trip(user))
        await user.press(_.ngettext("Any seat", "Any seats", 1))
        # A Telegram name with an emoji is not offered as a passenger's name.
        assert "Anna 🌸" not in user.last_message.button_texts()
        await user.send(bad)
        card = user.last_message.text
        reason = _("A name may hold letters, spaces, hyphens, apostrophes and full stops "
                   "only: no emoji, digits or other symbols.")
        assert reason in card
        assert _("Passenger {number} of {count}: type the full name, or tap a saved one.",
                 number=1, count=1) in card
        # A day, or the seat step's words, typed a step late, the summary's "yes" a step
        # early, or a lone letter: not taken as a name.
        for late in ({"en": "tomorrow", "zh": "明天", "ru": "завтра"}[language],
                     {"en": "Any seat", "zh": "随便", "ru": "любое место"}[language],
                     {"en": "Yes", "zh": "确认", "ru": "да"}[language],
                     {"en": "A", "zh": "李", "ru": "Я."}[language]):
            await user.send(late)
            assert _("That is not a name. Type the passenger's full name as on their ID.") in (
                user.last_message.text)
        await user.send(good)
        assert good in user.last_message.text
        assert _("Please check your booking:") in user.last_message.text
    bot.harness.assert_no_errors()


# ---- 10. a request that cannot be a trip says why ------------------------------------------

async def test_refused_requests_say_what_was_wrong(bot):
    anna = bot.user("Anna")
    await anna.send("Beijing to Tianjin tomorrow")
    trips = anna.last_message.text
    for request, reason in (
        ("Beijing to Beijing tomorrow", "Departure and arrival are the same station."),
        ("Beijing to London tomorrow", "I don't know a station called “London”."),
        ("London to Beijing", "I don't know a station called “London”."),
        ("Beijing to Kazan tomorrow", "No trips go from Beijing to Kazan."),
    ):
        await anna.send(request)
        card = anna.last_message.text
        assert card.startswith(f"⚠️ {reason}"), card
        assert card.endswith(trips)  # the booking in progress stays as it was
    # With no booking under way, the refused request starts one where it went wrong.
    ivan = bot.user("Ivan", language="ru")
    await ivan.send("из Москвы в Лондон завтра")
    card = ivan.last_message.text
    assert "Я не знаю станции «Лондон»." in card and "Из города Москва. Куда?" in card
    await ivan.press("Казань")
    assert "Москва → Казань" in ivan.last_message.text  # tomorrow was kept
    assert first_trip(ivan)
    li = bot.user("Li", language="zh")
    await li.send("北京到北京明天")
    assert "出发站和到达站相同。" in li.last_message.text
    assert "从北京出发" in li.last_message.text
    bot.harness.assert_no_errors()


# ---- 11. the demo runs on every day the calendar offers; the README's examples work -------

def readme_requests() -> list[str]:
    """The one-line requests the README's walkthrough tells people to type."""
    section = README.read_text().split("## Booking in the demo")[1].split("\n## ")[0]
    day = date(2026, 1, 1)
    index = StationIndex(demo_timetable(day, 1).stations)
    found = [t for t in re.findall(r"`([^`]+)`", section)
             if (r := parse_trip_request(t, index, day)) is not None
             and r.origin is not None and r.destination is not None]
    assert len(found) >= 2
    return found


async def test_the_demo_network_covers_the_calendar_and_the_readme_works_any_day(
        engine, clock, database_url, booking_transport):
    settings = Settings(_env_file=None, database_url=database_url)
    clock.now = datetime(2026, 12, 26, 20, 0, tzinfo=UTC)  # 25.12 is now a year away
    for later in (0, 200):  # the first run, and a run 200 days later tops the network up
        clock.advance(days=later)
        await seed_demo_network(engine, settings, clock=clock)
        async with running_bot(engine, clock, transport=booking_transport) as bot:
            for language in ("en", "ru"):
                user = bot.user("Anna", language=language)
                for request in readme_requests():
                    await user.send(request)
                    assert first_trip(user), (request, user.last_message.text)
            # The last day the calendar offers has trips, and no day past it is offered.
            anna = bot.user("Anna")
            await anna.send("/book")
            await anna.press("Moscow")
            await anna.press("Kazan")
            while "›" in anna.last_message.button_texts():
                await anna.press("›")
            days = [t for t in anna.last_message.button_texts() if t.isdigit()]
            await anna.press(days[-1])
            assert first_trip(anna), anna.last_message.text
            bot.harness.assert_no_errors()


# ---- 12. words: the rouble's symbol, plural forms, Chinese punctuation ---------------------

async def test_roubles_plurals_and_chinese_punctuation(bot):
    for language, request in (("en", "Moscow to Kazan tomorrow"), ("zh", "莫斯科到喀山明天"),
                              ("ru", "из Москвы в Казань завтра")):
        user = bot.user("Li", language=language)
        await user.send(request)
        assert "₽" in user.last_message.text and "RUB" not in user.last_message.text
    # Russian for one seat: the singular, on the button and in the words around it.
    ivan = bot.user("Ivan", language="ru")
    await ivan.send("из Москвы в Казань завтра 1 место")
    await ivan.press(first_trip(ivan))
    seats = ivan.last_message
    assert "Любое место" in seats.button_texts() and "«Любое место»" in seats.text
    await ivan.press("Любое место")
    await ivan.send("Иван Петров")
    assert "Место: подберём при подтверждении" in ivan.last_message.text
    await ivan.press("✅ Подтвердить")
    assert "Место забронировано до" in ivan.last_message.text
    # Chinese sentences take full-width punctuation, whatever the bot puts together.
    li = bot.user("Li", language="zh")
    seen: list[str] = []

    async def step(action: object) -> None:
        await action  # type: ignore[misc]
        seen.append(li.last_message.text)

    await step(li.send("/start"))
    await step(li.send("北京到天津明天2张"))
    await step(li.press(first_trip(li)))
    await step(li.press("1A"))
    await step(li.press("1B"))
    await step(li.send("李雷"))
    await step(li.send("韩梅梅"))
    await step(li.press("✅ 确认"))
    await step(li.send("/mytickets"))
    await step(li.press(next(t for t in li.last_message.button_texts() if "→" in t)))
    wrong = [text for text in seen if ASCII_IN_CHINESE.search(text)]
    assert wrong == []
    bot.harness.assert_no_errors()


# ---- 13. an overnight trip says it arrives the next day, wherever its arrival is shown ------

def plain(text: str) -> str:
    """The text with CLDR's narrow no-break space before AM/PM read as a space."""
    return text.replace("\u202f", " ")


async def test_an_overnight_trip_arrives_plus_one_day_wherever_it_is_shown(bot):
    overnight, same_day = "8:00 PM → 9:30 AM +1", "7:30 AM → 9:00 PM"
    anna = bot.user("Anna")
    await anna.send("Moscow to Kazan tomorrow 1 seat")
    listing = plain(anna.last_message.text)
    assert overnight in listing and f"{same_day} (" in listing  # the day trip: no mark
    await anna.press(next(t for t in anna.last_message.button_texts()
                          if plain(t).startswith("2. 8:00 PM")))
    assert overnight in plain(anna.last_message.text)  # the trip's summary, over the seats
    await anna.press("Any seat")
    await anna.send("Anna Lee")
    assert overnight in plain(anna.last_message.text)  # please check your booking
    await anna.press("✅ Confirm")
    held = plain(anna.last_message.text)
    assert "held until" in held and overnight in held
    [view] = await bot.services.booking.orders_of(anna.id)
    await anna.send("/mytickets")
    await anna.press(next(t for t in anna.last_message.button_texts() if "Moscow" in t))
    assert "Arrives 9:30 AM +1" in plain(anna.last_message.text)
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    await bot.run_jobs()
    tickets = next(m.text for m in reversed(anna.messages)
                   if m.text and "Booking reference" in m.text)
    assert overnight in plain(tickets)
    # The other languages mark it too, each its own way.
    for language, request, mark in (("zh", "莫斯科到喀山明天", "20:00 → 09:30 +1天"),
                                    ("ru", "из Москвы в Казань завтра", "20:00 → 09:30 +1")):
        user = bot.user("Li", language=language)
        await user.send(request)
        assert mark in user.last_message.text
        assert "07:30 → 21:00" in user.last_message.text
        assert "07:30 → 21:00 +" not in user.last_message.text
    bot.harness.assert_no_errors()


async def test_a_chinese_passengers_ticket_codes_follow_a_full_width_colon(bot):
    li = bot.user("Li", language="zh")
    await hold_one(li, "zh", name="王伟")
    [view] = await bot.services.booking.orders_of(li.id)
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    await bot.run_jobs()
    [ticket] = await bot.services.booking.tickets(view.id, None)
    said = "\n".join(m.text or "" for m in li.messages)
    assert f"{ticket.seat} — 王伟：{ticket.code}" in said
    bot.harness.assert_no_errors()
