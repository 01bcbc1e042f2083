"""Reading what passengers type: a date, a count, seats, or a whole trip request in one line.

English, Russian and Chinese, written the ways people write them ("25.12", "завтра",
"12月25日", "Beijing to Tianjin tomorrow 2 seats"), and typed on whatever keyboard was at
hand: full-width digits and letters from a Chinese keyboard, a Cyrillic "а" in "4а", a
Latin "a" in "зaвтра" are read as what the person meant. Pure functions: ``today`` comes
from the caller, in the time zone of the trip's origin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

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
    r"(?<![\d.])(\d{1,2})([./])(\d{1,2})(?:[./](\d{4}|\d{2}))?(?!\d|[./]\d)"
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
    # Days gone by are read too, so that the answer is "that date is in the past" rather
    # than "I couldn't read that date".
    (re.compile(r"大前天"), -3),
    (re.compile(r"\bday before yesterday\b|\bпозавчера\b|前天"), -2),
    (re.compile(r"\byesterday\b|\bвчера\b|昨天|昨日|昨晚"), -1),
]
# "next friday" is never today; "в следующую пятницу", like 下周五, is Friday of next week.
_WEEKDAYS = [re.compile(rf"\b(?:(next|following|следующ[а-я]*)\s+)?(?:{words})\b")
             for words in _WEEKDAY_WORDS]
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


# Letters that look the same in Latin and Cyrillic (and Greek capitals, which phone
# keyboards offer beside Latin ones), as a person typing on the other layout produces them.
_CYRILLIC_LATIN = "АA ВB СC ЕE НH ІI КK МM ОO РP ТT ХX УY аa сc еe іi оo рp хx уy"
_GREEK_LATIN = "ΑA ΒB ΕE ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΧX ΥY ΖZ"
_TO_LATIN = str.maketrans({pair[0]: pair[1]
                           for pair in (_CYRILLIC_LATIN + " " + _GREEK_LATIN).split()})
_TO_CYRILLIC = str.maketrans({pair[1]: pair[0] for pair in _CYRILLIC_LATIN.split()})
# Punctuation of Chinese keyboards that NFKC leaves as it is.
_CJK_PUNCTUATION = str.maketrans({"。": ".", "、": ",", "～": "~", "－": "-"})
_MIXED_WORD = re.compile(r"[^\W\d_]+")


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def _unmix_word(word: str) -> str:
    """A word typed partly on the other keyboard layout, in the script most of it is in."""
    latin = sum(map(_is_latin, word))
    cyrillic = sum(map(_is_cyrillic, word))
    if not latin or not cyrillic:
        return word
    return word.translate(_TO_LATIN if latin >= cyrillic else _TO_CYRILLIC)


def plain(text: str) -> str:
    """Text as a person meant it: full-width forms and Chinese punctuation as ASCII (NFKC),
    and each word in one script ("зaвтра" with a Latin "a" is завтра)."""
    text = unicodedata.normalize("NFKC", text).translate(_CJK_PUNCTUATION)
    return _MIXED_WORD.sub(lambda m: _unmix_word(m.group()), text)


def _prepare(text: str) -> str:
    return plain(text).casefold().replace("ё", "е")


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


@dataclass(frozen=True)
class _Found:
    """Where a date is written in the text, and which day it is (None: no such day)."""

    start: int
    end: int
    day: date | None


# Each finder looks for one way of writing a date and answers None (not written this way)
# or what it found.
_Finder = Callable[[str, date], _Found | None]


def _iso(text: str, today: date) -> _Found | None:
    match = _ISO.search(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    return _Found(match.start(), match.end(), _day_month(day, month, year, today))


def _numeric(text: str, today: date, *, month_first: bool = False) -> _Found | None:
    """25.12 and 25/12 (day first); with a slash, 12/25 too, where the first number can
    only be the month, and 1/2 read month first where people write so (``month_first``:
    Chinese, 1/2 is 1月2日)."""
    match = _DAY_MONTH_NUMERIC.search(text)
    if match is None:
        return None
    first, separator, second, year = match.groups()
    orders = [(int(first), int(second)), (int(second), int(first))]  # (day, month)
    if separator != "/":
        orders = orders[:1]
    elif month_first:
        orders.reverse()
    found = next((day for d, m in orders
                  if (day := _day_month(d, m, _full_year(year), today)) is not None), None)
    return _Found(match.start(), match.end(), found)


def _chinese(text: str, today: date) -> _Found | None:
    match = _CHINESE_DATE.search(text)
    if match is None:
        return None
    year, month, day = match.groups()
    found = _day_month(_chinese_number(day), _chinese_number(month), _full_year(year), today)
    return _Found(match.start(), match.end(), found)


def _named_month(text: str, today: date) -> _Found | None:
    """'25 декабря', '25th of December 2026', 'dec 25', 'December 25, 2026'."""
    candidates: list[tuple[int, int, str, str, str | None]] = []
    for match in _DAY_MONTH_NAMED.finditer(text):
        day, word, year = match.groups()
        if word in _MONTHS:
            candidates.append((match.start(), match.end(), day, word, year))
            break
    for match in _MONTH_NAMED_DAY.finditer(text):
        word, day, year = match.groups()
        if word in _MONTHS:
            candidates.append((match.start(), match.end(), day, word, year))
            break
    if not candidates:
        return None
    start, end, day, word, year = min(candidates)
    return _Found(start, end, _day_month(int(day), _MONTHS[word], _full_year(year), today))


def _relative(text: str, today: date) -> _Found | None:
    for pattern, days in _RELATIVE:
        match = pattern.search(text)
        if match is not None:
            return _Found(match.start(), match.end(), today + timedelta(days=days))
    return None


def _weekday(text: str, today: date) -> _Found | None:
    """A weekday is its next occurrence, today included, and "next friday" the next one
    after today; 下周五 and "в следующую пятницу" are Friday of next week."""
    match = _CHINESE_WEEKDAY.search(text)
    if match is not None:
        which, name = match.groups()
        weekday = _CHINESE_WEEKDAYS[name]
        if which and which.startswith("下"):
            next_monday = today + timedelta(days=7 - today.weekday())
            day = next_monday + timedelta(days=weekday)
        else:
            day = today + timedelta(days=(weekday - today.weekday()) % 7)
        return _Found(match.start(), match.end(), day)
    found = [(m.start(), m.end(), weekday, m.group(1))
             for weekday, p in enumerate(_WEEKDAYS) if (m := p.search(text))]
    if not found:
        return None
    start, end, weekday, which = min(found)
    if which is None:
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
    elif which.startswith("следующ"):
        day = today + timedelta(days=7 - today.weekday() + weekday)
    else:
        day = today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    return _Found(start, end, day)


# Explicit dates before words: "завтра, 25.12" means the 25th.
_FINDERS: list[_Finder] = [_iso, _numeric, _chinese, _named_month, _relative, _weekday]
_FINDERS_MONTH_FIRST: list[_Finder] = [
    _iso, partial(_numeric, month_first=True), _chinese, _named_month, _relative, _weekday]


def parse_date(text: str, today: date, *, month_first: bool = False) -> date | None:
    """The date written in ``text``; None if there is none or it does not exist.

    Day and month: "25.12", "25/12", "25.12.2026", "25.12.26", "2026-12-25", "12月25日",
    "25 декабря", "25 dec", "December 25"; without a year, the next such day. Words: today,
    tomorrow, day after tomorrow, сегодня, завтра, послезавтра, 今天, 明天, 后天, yesterday,
    вчера, 昨天 (a past day, for the caller to refuse as one), and weekdays (friday, в
    пятницу, 周五).
    """
    found = _find_date(_prepare(text), today, month_first=month_first)
    return found.day if found else None


# What may stand beside a date that is all a text says: "on friday", "в пятницу".
_ONLY_A_DAY = frozenset({"", "on", "в", "во", "на"})


def parse_date_alone(text: str, today: date, *, month_first: bool = False) -> date | None:
    """As parse_date, when the date is all the text says ("24.12", "tomorrow", "в пятницу"):
    None for a sentence with a date in it ("Beijing to Tianjin tomorrow"), which is a
    request, not an answer to "Which day?"."""
    prepared = _prepare(text)
    found = _find_date(prepared, today, month_first=month_first)
    rest = (prepared[:found.start] + prepared[found.end:]).strip(" .,!?") if found else None
    return found.day if found is not None and rest in _ONLY_A_DAY else None


def no_such_day(text: str, today: date, *, month_first: bool = False) -> bool:
    """Whether ``text`` writes a day and month that do not exist (31.02, 30 февраля), which
    is told as such rather than as a date not understood."""
    found = _find_date(_prepare(text), today, month_first=month_first)
    return found is not None and found.day is None


def _find_date(prepared: str, today: date, *, month_first: bool = False) -> _Found | None:
    for finder in _FINDERS_MONTH_FIRST if month_first else _FINDERS:
        found = finder(prepared, today)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class _Count:
    start: int
    end: int
    count: int | None  # None: a count out of all reason


def _passengers(prepared: str) -> _Count | None:
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
    else:
        return None
    if count is None or not 1 <= count <= MAX_PASSENGERS_MENTIONED:
        count = None
    return _Count(match.start(), match.end(), count)


def parse_count(text: str) -> int | None:
    """A number of passengers typed alone: "2", "２", "two", "два", "两", "2 seats"."""
    prepared = _prepare(text).strip()
    if prepared.isdecimal():
        return int(prepared) if len(prepared) <= 3 else None
    if prepared in _NUMBER_WORDS:
        return _NUMBER_WORDS[prepared]
    if (number := _chinese_number(prepared)) is not None:
        return number
    found = _passengers(prepared)
    return found.count if found else None


_SEAT_SEPARATORS = re.compile(r"[\s,;/+]+")
_SEAT_LETTERS = re.compile(r"[A-Z]{1,2}")
_LETTER_FIRST_SEAT = re.compile(r"([A-Z]{1,2})(\d{1,3})")
# What a seat's label looks like (booking.model.SeatLayout: its row, then its letter); a
# row alone ("12") is kept, for the seat map to say there is no such seat.
_SEAT_SHAPE = re.compile(r"\d{1,3}[A-Z]{0,2}")


# Seat labels are upper-cased, so a lower-case Cyrillic letter is read as its capital's
# lookalike ("4в" as "4В", 4B), and Б, which a Russian says as B, as B.
_SEAT_CYRILLIC = str.maketrans({"в": "B", "н": "H", "к": "K", "м": "M", "т": "T",
                                "б": "B", "Б": "B"})


def seat_labels(text: str) -> list[str]:
    """Seat labels typed like "4A 4B", "4a,4b", "４Ａ" or "4а" with a Cyrillic а: seat labels
    are Latin letters and digits, so every lookalike is read as its Latin letter. A row and
    its letter apart ("4 A") or the other way round ("A4") are the seat 4A; words that are
    no seat ("please", "tomorrow") are left out, for the caller to say so if nothing is."""
    text = (unicodedata.normalize("NFKC", text).translate(_CJK_PUNCTUATION)
            .translate(_SEAT_CYRILLIC).translate(_TO_LATIN))
    parts = [part.upper() for part in _SEAT_SEPARATORS.split(text) if part]
    labels: list[str] = []
    for part in parts:
        if labels and labels[-1].isdecimal() and _SEAT_LETTERS.fullmatch(part):
            labels[-1] += part  # "4 A"
            continue
        flipped = _LETTER_FIRST_SEAT.fullmatch(part)
        labels.append(flipped.group(2) + flipped.group(1) if flipped else part)
    return [label for label in labels if _SEAT_SHAPE.fullmatch(label)]


# ---- a trip in one line ----------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """One end of a requested trip: the words that name it, and the stations they may mean
    (one: found; several: the person must choose; none: no station is called that)."""

    text: str
    stations: tuple[Station, ...]

    @property
    def station(self) -> Station | None:
        return self.stations[0] if len(self.stations) == 1 else None


@dataclass(frozen=True)
class TripRequest:
    origin: Place | None  # None: not said ("to Tianjin tomorrow")
    destination: Place | None
    day: date | None
    passengers: int | None
    unreadable_day: bool = False  # a date was written, but there is no such day
    unreadable_count: bool = False  # a count was written, but not one of passengers (0, 500)


# Words of free text, as station names are split into words (booking/stations.py), plus
# the arrows and dashes that stand between two places.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_REQUEST_TOKEN = re.compile(
    rf"[{_CJK}]|[^\W\d_{_CJK}]+(?:-[^\W\d_{_CJK}]+)*|\d+|->|→|[-–—]+"
)
_ARROWS = frozenset({"->", "→"})
# More words than this between markers are a sentence, not a name (a Chinese name is
# read character by character, and may have six).
PLACE_WORDS = 4
PLACE_CHARACTERS = 8
_BLANK = "\x00"  # what a name, date or count already read is replaced with
_Marker = str  # "from", "to", or "" for none


@dataclass
class _Span:
    """Words between markers that may name a station, with the markers around them."""

    start: int
    end: int
    words: list[tuple[int, int]]
    before: _Marker = ""
    after: _Marker = ""


@dataclass(frozen=True)
class _Named:
    """A place named in the text, where it stands and how it is marked."""

    start: int
    place: Place
    before: _Marker = ""  # the marker just before it
    after: _Marker = ""  # the marker just after it (words read fuzzily only)
    opening: bool = False  # one word opening the text: "London to Beijing"


def parse_trip_request(text: str, stations: StationIndex, today: date, *,
                       month_first: bool = False) -> TripRequest | None:
    """A trip asked for in one line; None unless it names an origin and a destination.

    Origin and destination are as marked (from/to, из/в/до, 从/到, a dash or an arrow),
    otherwise in the order they appear. Exact names count wherever they stand; misspelt
    ones ("Bejing to Tianjn") are matched as fuzzily as at the station step, but only where
    a marker says a place is meant, so that a passenger's name is never read as a trip.
    A marked place that matches no station, or several, is kept as typed: the caller says
    which was not understood or asks which was meant. The date and the passenger count are
    optional.
    """
    original = unicodedata.normalize("NFC", text)
    prepared, where = _aligned(original)
    found = stations.find_in(prepared)
    # Station names are blanked out first: "Sunbury" holds no Sunday, "Пятница" no Friday.
    names = [(start, end) for start, end, _ in found]
    rest = _blank(prepared, names, " ")
    day = _find_date(rest, today, month_first=month_first)
    count = _passengers(rest)
    read = names + [(f.start, f.end) for f in (day, count) if f is not None]

    def typed(start: int, end: int) -> str:
        return original[where[start]:where[end - 1] + 1]

    named = [_Named(start, Place(typed(start, end), (station,)),
                    before=_marker_before(prepared, start))
             for start, end, station in found]
    opening = min((m.start() for m in _REQUEST_TOKEN.finditer(prepared)), default=-1)
    for span in _spans(_blank(prepared, read, _BLANK)):
        if span.before or span.after == "to":
            named.append(_Named(span.start, _fuzzy_place(span, prepared, stations, typed),
                                span.before, span.after,
                                opening=span.start == opening and _one_word(span, prepared)))
    named.sort(key=lambda n: n.start)
    origin, destination = _assign(named)
    ends = [p for p in (origin, destination) if p is not None]
    if not any(p.stations for p in ends):
        return None
    if len(ends) == 1 and not any(n.before for n in named if n.place is ends[0]):
        return None  # one name alone ("Beijing") is an answer to a step, not a request
    return TripRequest(origin, destination, day.day if day else None,
                       count.count if count else None,
                       unreadable_day=day is not None and day.day is None,
                       unreadable_count=count is not None and count.count is None)


def _one_word(span: _Span, prepared: str) -> bool:
    if _is_cjk(prepared[span.start]):
        return span.end - span.start <= PLACE_CHARACTERS // 2
    return len(span.words) == 1


def _aligned(text: str) -> tuple[str, list[int]]:
    """The text prepared for reading as _prepare() does it, and for each of its characters
    the position of the character it came from ("ﬁ" gives two, so does "ß" folded)."""
    chars: list[str] = []
    origins: list[int] = []
    for position, char in enumerate(text):
        for normal in unicodedata.normalize("NFKC", char).translate(_CJK_PUNCTUATION):
            chars.append(normal)
            origins.append(position)
    # One character for one: the positions still hold.
    unmixed = _MIXED_WORD.sub(lambda m: _unmix_word(m.group()), "".join(chars))
    out: list[str] = []
    where: list[int] = []
    for char, position in zip(unmixed, origins, strict=True):
        folded = char.casefold().replace("ё", "е")
        out.append(folded)
        where.extend([position] * len(folded))
    return "".join(out), where


def _blank(text: str, spans: list[tuple[int, int]], fill: str) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = fill * (end - start)
    return "".join(chars)


def _marker(word: str) -> _Marker:
    if word in _FROM_WORDS:
        return "from"
    if word in _TO_WORDS or word in _ARROWS or set(word) <= set("-–—"):
        return "to"
    return ""


def _marker_before(text: str, start: int) -> _Marker:
    """The marker just before position ``start``: a whole word, one Chinese character, or
    a dash or arrow."""
    before = text[:start].rstrip(" \t,:")
    tokens = list(_REQUEST_TOKEN.finditer(before))
    if not tokens or tokens[-1].end() != len(before):
        return ""
    return _marker(tokens[-1].group())


def _spans(rest: str) -> list[_Span]:
    """Runs of words that are neither markers nor part of a name, date or count already
    read, each with the markers around it."""
    spans: list[_Span] = []
    marker: _Marker = ""
    current: _Span | None = None
    last_end = 0
    for token in _REQUEST_TOKEN.finditer(rest):
        word = token.group()
        gap = rest[last_end:token.start()]
        last_end = token.end()
        if gap.strip(" '’."):  # a name, date or count already read, or punctuation
            if current is not None:
                spans.append(current)
                current = None
            if _BLANK in gap:
                marker = ""
        kind = _marker(word)
        if kind:
            if current is not None:
                current.after = kind
                spans.append(current)
                current = None
            marker = kind
            continue
        if word.isdigit():
            marker = ""
            if current is not None:
                spans.append(current)
                current = None
            continue
        if current is None:
            current = _Span(token.start(), token.end(), [], before=marker)
            marker = ""
        current.words.append((token.start(), token.end()))
        current.end = token.end()
    if current is not None:
        spans.append(current)
    return [span for span in spans if len(span.words) <= PLACE_WORDS
            or (span.end - span.start <= PLACE_CHARACTERS and _is_cjk(rest[span.start]))]


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def _fuzzy_place(span: _Span, prepared: str, stations: StationIndex,
                 typed: Callable[[int, int], str]) -> Place:
    """The station a marked run of words names, tried whole and then by its words nearest
    the marker ("to Tianjn please" is Tianjin); unknown if none matches."""
    words = span.words
    if span.before:
        tries = [words[:n] for n in range(len(words), 0, -1)]
    else:
        tries = [words[n:] for n in range(len(words))]
    for part in tries:
        start, end = part[0][0], part[-1][1]
        if _is_cjk(prepared[start]) and end - start < 2:
            continue  # one character of a Chinese name (王自强: 自 "from", 强) is no station
        found = stations.lookup(prepared[start:end])
        if found:
            return Place(typed(start, end), tuple(found))
    return Place(typed(span.start, span.end), ())


def _assign(named: list[_Named]) -> tuple[Place | None, Place | None]:
    """Origin and destination: places marked as one or the other first, then unmarked ones
    in order. Words that match no station stand for a place only where a marker before
    them says so ("Beijing to London"), or opening the text before "to" ("London to
    Beijing"), and only where no station was found: "I want to go to Beijing" asks where
    from instead of refusing "I want"."""
    origin: Place | None = None
    destination: Place | None = None
    known = [n for n in named if n.place.stations]
    for n in known:
        if n.before == "from" or (n.after == "to" and n.before != "to"):
            origin = origin or n.place
        elif n.before == "to":
            destination = destination or n.place
    for n in known:
        if n.before or n.after:
            continue
        if origin is None:
            origin = n.place
        elif destination is None:  # the same station again too: the caller says so
            destination = n.place
    for n in named:
        if n.place.stations:
            continue
        if n.before == "from" or (n.after == "to" and not n.before and n.opening):
            origin = origin or n.place
        elif n.before == "to":
            destination = destination or n.place
    return origin, destination
