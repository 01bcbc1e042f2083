"""Reading dates and one-line trip requests in English, Russian and Chinese."""

from __future__ import annotations

from datetime import date

import pytest

from booking.demo_network import demo_timetable
from booking.model import Station
from booking.stations import StationIndex
from handlers.parsing import (
    Place,
    TripRequest,
    no_such_day,
    parse_count,
    parse_date,
    parse_trip_request,
    seat_labels,
)

WEDNESDAY = date(2026, 6, 17)
LATE_DECEMBER = date(2026, 12, 28)  # a Monday


@pytest.fixture(scope="module")
def stations() -> StationIndex:
    """The demo network's cities."""
    return StationIndex(demo_timetable(date(2026, 6, 1)).stations)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers, day first
        ("25.12", date(2026, 12, 25)),
        ("25.12.", date(2026, 12, 25)),
        ("25/12", date(2026, 12, 25)),
        ("25.12.2026", date(2026, 12, 25)),
        ("25.12.27", date(2027, 12, 25)),
        ("1.7", date(2026, 7, 1)),
        ("2026-12-25", date(2026, 12, 25)),
        ("2026/12/25", date(2026, 12, 25)),
        ("２５．１２", date(2026, 12, 25)),  # full-width, from a Chinese keyboard
        ("on 25.12 please", date(2026, 12, 25)),
        # a day already past this year is next year's
        ("10.06", date(2027, 6, 10)),
        ("17.06", WEDNESDAY),
        # words
        ("today", WEDNESDAY),
        ("Tomorrow", date(2026, 6, 18)),
        ("day after tomorrow", date(2026, 6, 19)),
        ("сегодня", WEDNESDAY),
        ("Завтра", date(2026, 6, 18)),
        ("послезавтра", date(2026, 6, 19)),
        ("今天", WEDNESDAY),
        ("明天", date(2026, 6, 18)),
        ("后天", date(2026, 6, 19)),
        ("大后天", date(2026, 6, 20)),
        # days gone by are read, for the caller to refuse as past
        ("yesterday", date(2026, 6, 16)),
        ("вчера", date(2026, 6, 16)),
        ("позавчера", date(2026, 6, 15)),
        ("昨天", date(2026, 6, 16)),
        ("前天", date(2026, 6, 15)),
        ("day before yesterday", date(2026, 6, 15)),
        # typed on the other keyboard layout, or a Chinese one
        ("зaвтра", date(2026, 6, 18)),  # a Latin "a"
        ("tоmorrow", date(2026, 6, 18)),  # a Cyrillic "о"
        ("２５。１２", date(2026, 12, 25)),
        ("２０２６年１２月２５日", date(2026, 12, 25)),
        # Chinese dates
        ("12月25日", date(2026, 12, 25)),
        ("12月25号", date(2026, 12, 25)),
        ("2027年1月2日", date(2027, 1, 2)),
        ("十二月二十五日", date(2026, 12, 25)),
        ("7月十日", date(2026, 7, 10)),
        # month names
        ("25 декабря", date(2026, 12, 25)),
        ("1 марта", date(2027, 3, 1)),
        ("3 мая 2027", date(2027, 5, 3)),
        ("25 dec", date(2026, 12, 25)),
        ("25 Dec.", date(2026, 12, 25)),
        ("dec 25", date(2026, 12, 25)),
        ("December 25", date(2026, 12, 25)),
        ("December 25, 2027", date(2027, 12, 25)),
        ("25th of December", date(2026, 12, 25)),
        ("1st July", date(2026, 7, 1)),
        # weekdays: the next one, today included
        ("wednesday", WEDNESDAY),
        ("friday", date(2026, 6, 19)),
        ("Fri", date(2026, 6, 19)),
        ("next monday", date(2026, 6, 22)),
        # "next" is never today; следующий, like 下, is next week's
        ("next wednesday", date(2026, 6, 24)),
        ("next friday", date(2026, 6, 19)),
        ("в следующую пятницу", date(2026, 6, 26)),
        ("следующий понедельник", date(2026, 6, 22)),
        ("в следующую среду", date(2026, 6, 24)),
        ("в пятницу", date(2026, 6, 19)),
        ("во вторник", date(2026, 6, 23)),
        ("в среду", WEDNESDAY),
        ("воскресенье", date(2026, 6, 21)),
        ("周五", date(2026, 6, 19)),
        ("星期五", date(2026, 6, 19)),
        ("礼拜天", date(2026, 6, 21)),
        ("周一", date(2026, 6, 22)),
        ("下周五", date(2026, 6, 26)),  # Friday of next week, not this one
        ("下星期三", date(2026, 6, 24)),
        # no date, or no such date
        ("", None),
        ("   ", None),
        ("hello", None),
        ("2 seats", None),
        ("10:30", None),
        ("12-25", None),  # month first is not read, so 05-06 is never a guess
        ("31.02", None),
        ("32.12", None),
        ("0.12", None),
        ("25.13", None),
        ("2026-02-30", None),
        ("30 февраля", None),
        ("31 june", None),
        ("13月5日", None),
        ("99999.12", None),
        ("25.12.99999", None),
        ("123456789", None),
    ],
)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text, WEDNESDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05.01", date(2027, 1, 5)),
        ("28.12", LATE_DECEMBER),
        ("27.12", date(2027, 12, 27)),
        ("5 января", date(2027, 1, 5)),
        ("1月5日", date(2027, 1, 5)),
        ("tomorrow", date(2026, 12, 29)),
        ("friday", date(2027, 1, 1)),
        ("29.02", date(2028, 2, 29)),  # the next 29 February there is
    ],
)
def test_dates_roll_over_the_year(text: str, expected: date) -> None:
    assert parse_date(text, LATE_DECEMBER) == expected


@pytest.mark.parametrize(
    ("text", "month_first", "expected"),
    [
        ("12/25", False, date(2026, 12, 25)),  # 25 is no month: month first, whoever wrote it
        ("05/12", False, date(2026, 12, 5)),  # both could be: day first
        ("05/12", True, date(2027, 5, 12)),  # as Chinese writes it
        ("1/2", True, date(2027, 1, 2)),
        ("25/12", True, date(2026, 12, 25)),  # 25 is no month: day first after all
        ("05.12", True, date(2026, 12, 5)),  # a dot is day first everywhere
        ("31/02", True, None),
    ],
)
def test_slashed_dates_month_first_where_they_can_only_be_or_are_written_so(
        text: str, month_first: bool, expected: date | None) -> None:
    assert parse_date(text, WEDNESDAY, month_first=month_first) == expected


@pytest.mark.parametrize(
    ("text", "impossible"),
    [("31.02", True), ("30 февраля", True), ("2026-02-30", True), ("31 june", True),
     ("13月5日", True),
     ("25.12", False), ("hello", False), ("", False), ("tomorrow", False)],
)
def test_a_day_that_does_not_exist_is_told_from_one_not_read(text: str,
                                                             impossible: bool) -> None:
    assert no_such_day(text, WEDNESDAY) is impossible


def request(text: str, stations: StationIndex) -> tuple[str, str, date | None, int | None] | None:
    """The parsed request as (origin code, destination code, day, passengers)."""
    found = parse_trip_request(text, stations, WEDNESDAY)
    if found is None:
        return None
    assert found.origin is not None and found.destination is not None
    assert found.origin.station is not None and found.destination.station is not None
    return (found.origin.station.code, found.destination.station.code, found.day,
            found.passengers)


TOMORROW = date(2026, 6, 18)
CHRISTMAS = date(2026, 12, 25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beijing to Tianjin tomorrow 2 seats", ("BJS", "TSN", TOMORROW, 2)),
        ("from Moscow to Kazan on 25.12", ("MOW", "KZN", CHRISTMAS, None)),
        ("из Москвы в Казань 25.12", ("MOW", "KZN", CHRISTMAS, None)),
        ("Москва Казань завтра 3 билета", ("MOW", "KZN", TOMORROW, 3)),
        ("北京到天津明天2张", ("BJS", "TSN", TOMORROW, 2)),
        ("从上海到杭州 12月25日 两张", ("SHA", "HGH", CHRISTMAS, 2)),
        ("Berlin - Prague 2026-12-25 for 4 people", ("BER", "PRG", CHRISTMAS, 4)),
        # marked direction beats the order of the words
        ("to Kazan from Moscow", ("MOW", "KZN", None, None)),
        ("в Казань из Москвы", ("MOW", "KZN", None, None)),
        ("Kazan from Moscow", ("MOW", "KZN", None, None)),
        ("到天津，从北京", ("BJS", "TSN", None, None)),
        # Russian case endings, nicknames, multi-word names
        ("из Нижнего Новгорода до Санкт-Петербурга", ("NNV", "LED", None, None)),
        ("в Нижний Новгород из Москвы послезавтра", ("MOW", "NNV", date(2026, 6, 19), None)),
        ("Москва Питер на двоих в пятницу", ("MOW", "LED", date(2026, 6, 19), 2)),
        ("Moskva -> St Petersburg", ("MOW", "LED", None, None)),
        # other ways to count passengers
        ("Beijing Tianjin x3", ("BJS", "TSN", None, 3)),
        ("Beijing Tianjin 2x", ("BJS", "TSN", None, 2)),
        ("Beijing to Tianjin, two tickets, Saturday", ("BJS", "TSN", date(2026, 6, 20), 2)),
        ("Пекин Тяньцзинь 2 места", ("BJS", "TSN", None, 2)),
        ("Пекин Тяньцзинь 5 человек", ("BJS", "TSN", None, 5)),
        ("Пекин Тяньцзинь два билета", ("BJS", "TSN", None, 2)),
        ("北京 天津 三位", ("BJS", "TSN", None, 3)),
        ("北京到天津 3个人 后天", ("BJS", "TSN", date(2026, 6, 19), 3)),
        ("北京到天津 周五 一人", ("BJS", "TSN", date(2026, 6, 19), 1)),
        ("Beijing to Tianjin 1 passenger", ("BJS", "TSN", None, 1)),
        ("Beijing to Tianjin 2 pax", ("BJS", "TSN", None, 2)),
        # numbers that are not a passenger count
        ("Beijing to Tianjin 25.12", ("BJS", "TSN", CHRISTMAS, None)),
        ("Beijing to Tianjin at 10:30 on 25.12", ("BJS", "TSN", CHRISTMAS, None)),
        ("Beijing to Tianjin 2026-12-25", ("BJS", "TSN", CHRISTMAS, None)),
        ("Beijing to Tianjin 2", ("BJS", "TSN", None, None)),
        ("Beijing to Tianjin 0 seats", ("BJS", "TSN", None, None)),
        ("Beijing to Tianjin 99999999999 seats", ("BJS", "TSN", None, None)),
        ("Beijing to Tianjin 250 seats", ("BJS", "TSN", None, None)),
        # a date that does not exist leaves the day open, the trip still stands
        ("Beijing to Tianjin 30.02", ("BJS", "TSN", None, None)),
        ("Moskva Kazan 32.12 2 seats", ("MOW", "KZN", None, 2)),
        # misspelt names where a marker says a place is meant, as at the station step
        ("Bejing to Tianjn tomorrow", ("BJS", "TSN", TOMORROW, None)),
        ("please book Bejing to Tianjn on friday for 2 people", ("BJS", "TSN",
                                                                  date(2026, 6, 19), 2)),
        ("from Shangai to Hangzou", ("SHA", "HGH", None, None)),
        ("Bejing - Tianjn", ("BJS", "TSN", None, None)),
        ("из Пикина в Шанхай", ("BJS", "SHA", None, None)),
        ("Mоscow to Kazan", ("MOW", "KZN", None, None)),  # a Cyrillic "о"
        ("２５．１２ Beijing to Tianjin", ("BJS", "TSN", CHRISTMAS, None)),
        # not a trip request
        ("", None),
        ("hello", None),
        ("Beijing", None),
        ("Москва", None),
        ("明天2张", None),
        ("2 seats tomorrow", None),
        # names are never read fuzzily without a marker: a passenger's name stays a name
        ("Anna Lee", None),
        ("Hanna Berg", None),
        ("Bejing Tianjn", None),
    ],
)
def test_parse_trip_request(
    stations: StationIndex,
    text: str,
    expected: tuple[str, str, date | None, int | None] | None,
) -> None:
    assert request(text, stations) == expected


def test_trip_request_is_a_plain_value(stations: StationIndex) -> None:
    found = parse_trip_request("Beijing to Tianjin", stations, WEDNESDAY)
    beijing, tianjin = stations.exact("Beijing"), stations.exact("Tianjin")
    assert beijing is not None and tianjin is not None
    assert found == TripRequest(Place("Beijing", (beijing,)), Place("Tianjin", (tianjin,)),
                                None, None)
    with pytest.raises(AttributeError):
        found.day = WEDNESDAY  # type: ignore[misc,union-attr]


def places(text: str, stations: StationIndex) -> tuple[object, ...] | None:
    """The request's places as (typed words, station codes), its day and unreadable flag."""
    found = parse_trip_request(text, stations, WEDNESDAY)
    if found is None:
        return None

    def place(p: Place | None) -> tuple[str, list[str]] | None:
        return None if p is None else (p.text, [s.code for s in p.stations])

    return place(found.origin), place(found.destination), found.day, found.unreadable_day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a marked place nobody knows is kept as typed, for the bot to say so
        ("Beijing to London tomorrow", (("Beijing", ["BJS"]), ("London", []), TOMORROW, False)),
        ("из Москвы в Лондон", (("Москвы", ["MOW"]), ("Лондон", []), None, False)),
        ("London to Beijing", (("London", []), ("Beijing", ["BJS"]), None, False)),
        ("伦敦到北京", (("伦敦", []), ("北京", ["BJS"]), None, False)),
        # the same station twice is a request the bot refuses
        ("Beijing to Beijing", (("Beijing", ["BJS"]), ("Beijing", ["BJS"]), None, False)),
        # a name that may mean several stations: the bot asks which
        ("Moscow to Novgorod", (("Moscow", ["MOW"]), ("Novgorod", ["NNV", "VNO"]), None,
                                False)),
        # half a request: the bot asks for the other half
        ("to Beijing tomorrow 2 seats", (None, ("Beijing", ["BJS"]), TOMORROW, False)),
        ("I want to go to Beijing", (None, ("Beijing", ["BJS"]), None, False)),
        ("from Beijing", (("Beijing", ["BJS"]), None, None, False)),
        # a date written but no such day
        ("Beijing to Tianjin 30.02", (("Beijing", ["BJS"]), ("Tianjin", ["TSN"]), None, True)),
        ("Beijing to Tianjin yesterday", (("Beijing", ["BJS"]), ("Tianjin", ["TSN"]),
                                          date(2026, 6, 16), False)),
    ],
)
def test_places_as_typed(stations: StationIndex, text: str, expected: tuple[object, ...]) -> None:
    assert places(text, stations) == expected


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("4A 4B", ["4A", "4B"]),
        ("4a,4b", ["4A", "4B"]),
        ("4а", ["4A"]),  # a Cyrillic а
        ("4В 12С", ["4B", "12C"]),  # Cyrillic В and С
        ("4в 12с 3к", ["4B", "12C", "3K"]),  # lower case, read as their capitals
        ("1б 1Б", ["1B", "1B"]),  # Б, said as B
        ("４Ａ", ["4A"]),  # full-width
        ("4A、4B", ["4A", "4B"]),
        ("", []),
        ("A1 b2", ["1A", "2B"]),  # the letter first
        ("1 A, 2 b", ["1A", "2B"]),  # apart
        ("4A and 4B please", ["4A", "4B"]),  # words that are no seat are left out
        ("tomorrow", []),
        ("12", ["12"]),  # a row alone, for the seat map to refuse
    ],
)
def test_seat_labels_read_lookalikes(text: str, labels: list[str]) -> None:
    assert seat_labels(text) == labels


@pytest.mark.parametrize(
    ("text", "count"),
    [("2", 2), ("２", 2), ("²", 2), ("two", 2), ("два", 2), ("两", 2), ("3 seats", 3),
     ("3 места", 3), ("x", None), ("", None), ("12345", None), ("0 seats", None)],
)
def test_parse_count(text: str, count: int | None) -> None:
    assert parse_count(text) == count


def test_station_names_are_not_read_as_dates_or_counts() -> None:
    # A station called after a weekday or holding digits stays a station.
    index = StationIndex(
        [
            Station("FRI", {"en": "Friday Harbor"}, "UTC"),
            Station("P7", {"en": "Pier 7 seats"}, "UTC"),
            Station("X", {"en": "Xanadu"}, "UTC"),
        ]
    )
    found = parse_trip_request("Friday Harbor to Pier 7 seats", index, WEDNESDAY)
    assert found is not None
    assert (found.day, found.passengers) == (None, None)
