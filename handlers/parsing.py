"""Reading what passengers type: a date, or a whole trip request in one line.

English, Russian and Chinese, written the ways people write them ("25.12", "завтра",
"12月25日", "Beijing to Tianjin tomorrow 2 seats"). Pure functions: ``today`` comes from
the caller, in the time zone of the trip's origin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from booking.model import Station
from booking.stations import StationIndex

# A passenger count above this is a typo or a joke, not a booking; the booking rules
# refuse anything above their own (smaller) limit with a proper message.
MAX_PASSENGERS_MENTIONED = 99

_MONTHS: dict[str, int] = {}
for _number, _forms in enumerate(
    [
        "january jan январь января янв",
        "february feb февраль февраля фев",
        "march mar март марта мар",
        "april apr апрель апреля апр",
        "may май мая",
        "june jun июнь июня июн",
        "july jul июль июля июл",
        "august aug август августа авг",
        "september sep sept сентябрь сентября сен сент",
        "october oct октябрь октября окт",
        "november nov ноябрь ноября ноя",
        "december dec декабрь декабря дек",
    ],
    start=1,
):
    _MONTHS.update(dict.fromkeys(_forms.split(), _number))

_WEEKDAY_WORDS = [  # Monday first, as date.weekday() counts
    r"monday|mon|понедельник|пн",
    r"tuesday|tues|tue|вторник|вт",
    r"wednesday|wed|сред[ауы]|ср",
    r"thursday|thurs|thur|thu|четверг|чт",
    r"friday|fri|пятниц[аеуы]|пт",
    r"saturday|sat|суббот[аеуы]|сб",
    r"sunday|sun|воскресень[ея]|вс",
]
_CHINESE_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}

_CHINESE_DIGITS = {
    "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10,
    "один": 1, "одно": 1, "одна": 1, "одного": 1, "одну": 1,
    "два": 2, "две": 2, "двух": 2, "три": 3, "трех": 3, "четыре": 4, "четырех": 4,
    "пять": 5, "пяти": 5, "шесть": 6, "шести": 6, "семь": 7, "семи": 7, "восемь": 8,
    "восьми": 8, "девять": 9, "девяти": 9, "десять": 10, "десяти": 10,
}
# "на двоих": a collective numeral counts people with no noun after it.
_COLLECTIVE = {"двоих": 2, "троих": 3, "четверых": 4, "пятерых": 5, "шестерых": 6}

_FROM_WORDS = frozenset({"from", "из", "изо", "от", "с", "со", "从", "自", "由"})
_TO_WORDS = frozenset({"to", "till", "в", "во", "до", "на", "к", "ко", "到", "去", "至", "往"})

# ---- patterns (on text folded by _prepare: NFKC, casefolded, ё as е) -----------------------

_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_DAY_MONTH_NUMERIC = re.compile(
    r"(?<![\d.])(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2}))?(?!\d|[./]\d)"
)
_CN_NUMBER = r"[\d一二两三四五六七八九十]{1,3}"
_CHINESE_DATE = re.compile(rf"(?:(\d{{4}})\s*年\s*)?({_CN_NUMBER})\s*月\s*({_CN_NUMBER})\s*[日号]")
_DAY_MONTH_NAMED = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?([a-zа-я]+)\b\.?(?:\s*,?\s*(\d{4})\b)?"
)
_MONTH_NAMED_DAY = re.compile(
    r"\b([a-zа-я]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?![.:/]\d)(?:\s*,?\s*(\d{4})\b)?"
)
_RELATIVE = [  # longest first, so "day after tomorrow" is not read as "tomorrow"
    (re.compile(r"大后天"), 3),
    (re.compile(r"\bday after tomorrow\b|\bпослезавтра\b|后天"), 2),
    (re.compile(r"\btomorrow\b|\btmrw\b|\bзавтра\b|明天|明日"), 1),
    (re.compile(r"\btoday\b|\btonight\b|\bсегодня\b|今天|今日|今晚"), 0),
]
_WEEKDAYS = [re.compile(rf"\b(?:{words})\b") for words in _WEEKDAY_WORDS]
_CHINESE_WEEKDAY = re.compile(r"(下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])")

_UNITS = (
    r"seats?|tickets?|people|persons?|passengers?|pax|adults?|travell?ers?"
    r"|мест[оа]?|билет(?:а|ов)?|человека?|чел|пассажир(?:а|ов)?|взрослы[хй]"
)
_NUMBER = r"\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_COUNT_WITH_UNIT = re.compile(rf"(?<![\d.:/-])\b({_NUMBER})\s*(?:{_UNITS})\b")
_COUNT_CHINESE = re.compile(rf"(?<![\d.:/-])({_CN_NUMBER})\s*(?:个人|张|位|人|名)")
_COUNT_TIMES = re.compile(r"(?<![\w.])[x×]\s*(\d{1,3})\b|\b(\d{1,3})\s*[x×](?!\w)")
_COUNT_COLLECTIVE = re.compile(r"\bна\s+(" + "|".join(_COLLECTIVE) + r")\b")


def _prepare(text: str) -> str:
    # NFKC turns full-width digits and punctuation from Chinese keyboards into ASCII.
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")


def _chinese_number(text: str) -> int | None:
    """'25', '两', '十二', '二十五' -> the number; None if it is not one."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        ten = _CHINESE_DIGITS.get(tens) if tens else 1
        one = _CHINESE_DIGITS.get(ones) if ones else 0
        return None if ten is None or one is None else ten * 10 + one
    return _CHINESE_DIGITS.get(text) if len(text) == 1 else None


def _full_year(year: str | None) -> int | None:
    if year is None:
        return None
    return 2000 + int(year) if len(year) == 2 else int(year)


def _day_month(day: int | None, month: int | None, year: int | None, today: date) -> date | None:
    """The date; without a year the next such day on or after today (05.01 in late December
    is next January); None if there is no such day (31.02)."""
    if day is None or month is None:
        return None
    try:
        if year is not None:
            return date(year, month, day)
        found = date(today.year, month, day)
        return found if found >= today else date(today.year + 1, month, day)
    except ValueError:  # also 29.02 with no leap year ahead in the year we tried
        if year is None and month == 2 and day == 29:
            return _next_leap_day(today)
        return None


def _next_leap_day(today: date) -> date:
    year = today.year if (today.month, today.day) <= (2, 29) else today.year + 1
    while True:
        try:
            return date(year, 2, 29)
        except ValueError:
            year += 1


# Each finder looks for one way of writing a date and answers None (not written this way),
# or a match: its start in the text and the date (None if the date does not exist).
_Found = tuple[int, date | None]
_Finder = Callable[[str, date], _Found | None]


def _iso(text: str, today: date) -> _Found | None:
    match = _ISO.search(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    return match.start(), _day_month(day, month, year, today)


def _numeric(text: str, today: date) -> _Found | None:
    match = _DAY_MONTH_NUMERIC.search(text)
    if match is None:
        return None
    day, month, year = match.groups()
    return match.start(), _day_month(int(day), int(month), _full_year(year), today)


def _chinese(text: str, today: date) -> _Found | None:
    match = _CHINESE_DATE.search(text)
    if match is None:
        return None
    year, month, day = match.groups()
    found = _day_month(_chinese_number(day), _chinese_number(month), _full_year(year), today)
    return match.start(), found


def _named_month(text: str, today: date) -> _Found | None:
    """'25 декабря', '25th of December 2026', 'dec 25', 'December 25, 2026'."""
    candidates: list[tuple[int, str, str, str | None]] = []
    for match in _DAY_MONTH_NAMED.finditer(text):
        day, word, year = match.groups()
        if word in _MONTHS:
            candidates.append((match.start(), day, word, year))
            break
    for match in _MONTH_NAMED_DAY.finditer(text):
        word, day, year = match.groups()
        if word in _MONTHS:
            candidates.append((match.start(), day, word, year))
            break
    if not candidates:
        return None
    start, day, word, year = min(candidates)
    return start, _day_month(int(day), _MONTHS[word], _full_year(year), today)


def _relative(text: str, today: date) -> _Found | None:
    for pattern, days in _RELATIVE:
        match = pattern.search(text)
        if match is not None:
            return match.start(), today + timedelta(days=days)
    return None


def _weekday(text: str, today: date) -> _Found | None:
    """A weekday is its next occurrence, today included; 下周五 is Friday of next week."""
    match = _CHINESE_WEEKDAY.search(text)
    if match is not None:
        which, name = match.groups()
        weekday = _CHINESE_WEEKDAYS[name]
        if which and which.startswith("下"):
            next_monday = today + timedelta(days=7 - today.weekday())
            return match.start(), next_monday + timedelta(days=weekday)
        return match.start(), today + timedelta(days=(weekday - today.weekday()) % 7)
    found = [(m.start(), weekday) for weekday, p in enumerate(_WEEKDAYS) if (m := p.search(text))]
    if not found:
        return None
    start, weekday = min(found)
    return start, today + timedelta(days=(weekday - today.weekday()) % 7)


# Explicit dates before words: "завтра, 25.12" means the 25th.
_FINDERS: list[_Finder] = [_iso, _numeric, _chinese, _named_month, _relative, _weekday]


def parse_date(text: str, today: date) -> date | None:
    """The travel date written in ``text``; None if there is none or it does not exist.

    Day and month: "25.12", "25/12", "25.12.2026", "25.12.26", "2026-12-25", "12月25日",
    "25 декабря", "25 dec", "December 25". Words: today, tomorrow, day after tomorrow,
    сегодня, завтра, послезавтра, 今天, 明天, 后天, and weekdays (friday, в пятницу, 周五).
    """
    return _find_date(_prepare(text), today)


def _find_date(prepared: str, today: date) -> date | None:
    for finder in _FINDERS:
        found = finder(prepared, today)
        if found is not None:
            return found[1]
    return None


def _passengers(prepared: str) -> int | None:
    """A passenger count, only where the text says what is counted ("2 seats", "x2",
    "3 билета", "两张"), so that dates and times are never taken for one."""
    count: int | None = None
    if match := _COUNT_WITH_UNIT.search(prepared):
        word = match.group(1)
        count = int(word) if word.isdigit() else _NUMBER_WORDS[word]
    elif match := _COUNT_CHINESE.search(prepared):
        count = _chinese_number(match.group(1))
    elif match := _COUNT_TIMES.search(prepared):
        count = int(match.group(1) or match.group(2))
    elif match := _COUNT_COLLECTIVE.search(prepared):
        count = _COLLECTIVE[match.group(1)]
    if count is None or not 1 <= count <= MAX_PASSENGERS_MENTIONED:
        return None
    return count


@dataclass(frozen=True)
class TripRequest:
    origin: Station | None
    destination: Station | None
    day: date | None
    passengers: int | None


def parse_trip_request(text: str, stations: StationIndex, today: date) -> TripRequest | None:
    """A trip asked for in one line; None unless it names an origin and a destination.

    Origin and destination are as marked (from/to, из/в/до, 从/到), otherwise in the order
    they appear. The date and the passenger count are optional.
    """
    found = stations.find_in(text)
    origin: Station | None = None
    destination: Station | None = None
    for start, _end, station in found:
        marker = _word_before(text, start)
        if marker in _FROM_WORDS and origin is None:
            origin = station
        elif marker in _TO_WORDS and destination is None:
            destination = station
    taken = {s.code for s in (origin, destination) if s is not None}
    unmarked = [s for _, _, s in found if s.code not in taken]
    if origin is None:
        origin = unmarked[0] if unmarked else None
    if origin is not None and destination is None:
        destination = next((s for s in unmarked if s.code != origin.code), None)
    if origin is None or destination is None or origin.code == destination.code:
        return None
    # Station names are blanked out first: "Sunbury" holds no Sunday, "Пятница" no Friday.
    rest = list(text)
    for start, end, _station in found:
        rest[start:end] = " " * (end - start)
    prepared = _prepare("".join(rest))
    return TripRequest(origin, destination, _find_date(prepared, today), _passengers(prepared))


def _word_before(text: str, start: int) -> str:
    """The word just before position ``start``: a whole word, or one Chinese character."""
    before = text[:start].rstrip(" \t-–—,:")
    if before and "\u3400" <= before[-1] <= "\u9fff":
        return before[-1]
    match = re.search(r"(\w+)$", before)
    return _prepare(match.group(1)) if match else ""
