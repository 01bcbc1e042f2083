"""The catalogs match the code: every id used is translated, no catalog keeps unused ids."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Message

from booking.errors import ErrorCode
from handlers.errors import ERROR_MESSAGES, NAME_PROBLEM_MESSAGES
from handlers.times import arrival_time, days_after
from locales import LANGUAGES, catalog, pick_language, texts
from locales.extract import extracted


def catalog_ids(language: str) -> dict[str, Message]:
    return {str(m.id[0] if isinstance(m.id, tuple | list) else m.id): m
            for m in catalog(language) if m.id}


def test_every_error_code_has_a_message():
    assert set(ERROR_MESSAGES) == set(ErrorCode)


def test_the_extractor_sees_the_error_messages_and_plurals():
    ids = extracted()
    for message in [*ERROR_MESSAGES.values(), *NAME_PROBLEM_MESSAGES.values()]:
        if isinstance(message, tuple):
            assert ids[message[0]] == message[1]
        else:
            assert message in ids
    assert ids["{n} seat left"] == "{n} seats left"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_holds_exactly_the_ids_in_the_code(language):
    used = set(extracted())
    present = set(catalog_ids(language))
    assert used - present == set(), f"missing from {language}: {sorted(used - present)}"
    assert present - used == set(), f"unused in {language}: {sorted(present - used)}"


def test_no_message_is_marked_inside_an_f_string():
    """The extractor does not look inside f-strings: a text marked there is never translated."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    marked = re.compile(r"""\bf(["']).*?\{_\(""")
    found = [f"{path.relative_to(root)}:{number}"
             for folder in ("handlers", "bot") for path in (root / folder).rglob("*.py")
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if marked.search(line)]
    assert found == []


@pytest.mark.parametrize("language", ["zh", "ru"])
def test_every_message_is_translated(language):
    untranslated = []
    for msgid, message in catalog_ids(language).items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(msgid)
        elif language != "en" and any(s.count("{") != msgid.count("{") for s in strings
                                      if "{n}" not in msgid):
            untranslated.append(msgid)  # a placeholder got lost in translation
    assert untranslated == []


def test_russian_has_three_plural_forms_and_chinese_one():
    ru, zh, en = texts("ru"), texts("zh"), texts("en")
    assert [ru.ngettext("{n} seat left", "{n} seats left", n) for n in (1, 2, 5, 21)] == [
        "осталось 1 место", "осталось 2 места", "осталось 5 мест", "осталось 21 место"]
    assert zh.ngettext("{n} seat left", "{n} seats left", 5) == "剩 5 座"
    assert en.ngettext("{n} seat left", "{n} seats left", 1) == "1 seat left"


def test_a_hold_that_ran_out_says_seat_or_seats_in_each_language():
    ran_out = ("⌛ The hold has run out and the seat was released.",
               "⌛ The hold has run out and the seats were released.")
    assert [texts("en").ngettext(*ran_out, n) for n in (1, 2)] == [
        "⌛ The hold has run out and the seat was released.",
        "⌛ The hold has run out and the seats were released."]
    assert [texts("ru").ngettext(*ran_out, n) for n in (1, 2, 5)] == [
        "⌛ Срок брони истёк, место освобождено.", "⌛ Срок брони истёк, места освобождены.",
        "⌛ Срок брони истёк, места освобождены."]
    assert texts("zh").ngettext(*ran_out, 1) == "⌛ 预留已到期，座位已释放。"


def test_prices_dates_and_times_follow_the_locale():
    assert texts("ru").price(60800, "RUB") == "608,00\xa0₽"
    assert texts("en").price(4800, "CNY") == "CN¥48.00"
    assert texts("zh").price(4800, "CNY") == "¥48.00"
    moment = datetime(2026, 6, 1, 7, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert texts("en").time(moment) == "7:05\u202fAM" or texts("en").time(moment) == "7:05 AM"
    assert texts("ru").time(moment) == "07:05"
    assert "июн" in texts("ru").day(date(2026, 6, 1), date(2026, 5, 30))
    assert texts("zh").duration(timedelta(minutes=100)) == "1小时40分钟"


def test_one_instant_reads_as_each_zones_own_wall_clock():
    # Formats are kept per value: these two are equal datetimes, but not the same time.
    beijing = datetime(2026, 6, 1, 7, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    moscow = beijing.astimezone(ZoneInfo("Europe/Moscow"))
    assert beijing == moscow
    assert texts("ru").time(beijing) == "07:05"
    assert texts("ru").time(moscow) == "02:05"
    assert texts("ru").time(beijing) == "07:05"


def test_a_currency_without_a_local_symbol_shows_its_own():
    # English and Chinese have no symbol of their own for the rouble: it is ₽ at home.
    assert texts("en").price(262400, "RUB") == "₽2,624.00"
    assert texts("zh").price(262400, "RUB") == "₽2,624.00"
    assert texts("en").price(100, "CZK") == "Kč1.00"
    assert texts("en").price(100, "EUR") == "€1.00"


def test_a_date_in_another_year_shows_its_year():
    today = date(2026, 12, 3)
    assert texts("en").day(date(2026, 12, 4), today) == "Fri, Dec 4"
    assert texts("en").day(date(2027, 12, 1), today) == "Wed, Dec 1, 2027"
    assert "2027" in texts("zh").day(date(2027, 12, 1), today)
    assert "2027" in texts("ru").day_month(date(2027, 1, 4), today)
    assert "2026" not in texts("ru").day_month(date(2026, 12, 4), today)


# ASCII punctuation against a Chinese character: a comma or colon glued into a Chinese
# sentence, which takes the full-width forms (，：；？！（）).
ASCII_IN_CHINESE = re.compile(r"[\u3400-\u9fff][,:;?!()]|[,:;?!()] ?[\u3400-\u9fff]")


def test_chinese_sentences_use_full_width_punctuation():
    wrong: list[tuple[str, str]] = []
    for msgid, message in catalog_ids("zh").items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wrong.extend((msgid, str(s)) for s in strings if ASCII_IN_CHINESE.search(str(s)))
    assert wrong == []


@pytest.mark.parametrize(("code", "language"), [
    ("ru", "ru"), ("zh-hans", "zh"), ("zh-TW", "zh"), ("en-GB", "en"), ("de", "en"), (None, "en"),
])
def test_language_is_guessed_from_telegrams_code(code, language):
    assert pick_language(code) == language


MOSCOW, BEIJING = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("language", "overnight"), [
    ("en", "9:30\u202fAM +1"), ("zh", "09:30 +1天"), ("ru", "09:30 +1"),
])
def test_an_arrival_on_a_later_local_date_says_how_many_days_later(language, overnight):
    _ = texts(language)
    leaves = datetime(2026, 6, 1, 20, 0, tzinfo=MOSCOW)  # Moscow -> Kazan, overnight
    # (CLDR's English puts a narrow no-break space before AM, older data a plain one.)
    assert arrival_time(_, leaves, datetime(2026, 6, 2, 9, 30, tzinfo=MOSCOW)).replace(
        "\u202f", " ") == overnight.replace("\u202f", " ")
    assert arrival_time(_, leaves, datetime(2026, 6, 1, 23, 0, tzinfo=MOSCOW)) == _.time(
        datetime(2026, 6, 1, 23, 0, tzinfo=MOSCOW))
    assert arrival_time(_, leaves, datetime(2026, 6, 3, 9, 30, tzinfo=MOSCOW)).endswith(
        "+2" if language != "zh" else "+2天")


def test_the_days_count_in_each_stations_own_date_not_utc():
    en = texts("en")
    # Eastwards: 20:00 in Moscow (17:00 UTC), three hours later it is 04:00 in Beijing,
    # the next day there though the same day in UTC.
    leaves = datetime(2026, 6, 1, 20, 0, tzinfo=MOSCOW)
    arrives = (leaves + timedelta(hours=3)).astimezone(BEIJING)
    assert days_after(leaves, arrives) == 1
    assert arrival_time(en, leaves, arrives).endswith(" +1")
    # Westwards: 01:00 in Beijing, two hours later it is 22:00 of the day before in Moscow.
    leaves = datetime(2026, 6, 2, 1, 0, tzinfo=BEIJING)
    arrives = (leaves + timedelta(hours=2)).astimezone(MOSCOW)
    assert days_after(leaves, arrives) == -1
    assert arrival_time(en, leaves, arrives).endswith(" -1")
    assert arrival_time(texts("zh"), leaves, arrives) == "22:00 -1天"
