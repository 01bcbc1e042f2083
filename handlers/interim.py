"""Stand-ins for handlers/parsing.py until it lands (a colleague's work).

Deliberately small: a few date forms, three request shapes. Delete once the real one is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from booking.model import Station
from booking.stations import StationIndex


@dataclass(frozen=True)
class TripRequest:
    origin: Station
    destination: Station
    day: date | None
    passengers: int | None


RELATIVE = {"today": 0, "tomorrow": 1, "сегодня": 0, "завтра": 1, "послезавтра": 2,
            "今天": 0, "明天": 1, "后天": 2}


def parse_date(text: str, today: date) -> date | None:
    value = text.strip().casefold()
    if value in RELATIVE:
        return today + timedelta(days=RELATIVE[value])
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    found = re.fullmatch(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{4}))?", value)
    if found:
        day, month = int(found[1]), int(found[2])
        year = int(found[3]) if found[3] else today.year
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if not found[3] and candidate < today:
            candidate = candidate.replace(year=year + 1)
        return candidate
    return None


_SHAPES = [
    re.compile(r"^(?:from\s+)?(?P<a>.+?)\s+to\s+(?P<b>.+)$", re.I),
    re.compile(r"^(?:из\s+)(?P<a>.+?)\s+в\s+(?P<b>.+)$", re.I),
    re.compile(r"^(?P<a>.+?)(?:到|去)(?P<b>.+)$"),
]
_SEATS = re.compile(r"(\d+)\s*(?:seats?|passengers?|tickets?|мест[оа]?|билет\w*|张|位|人)", re.I)


def _station_in(index: StationIndex, words: str) -> Station | None:
    words = words.strip()
    for size in range(len(words), 0, -1):
        found = index.exact(words[:size].strip())
        if found is not None:
            return found
    matches = index.match(words, limit=1)
    return matches[0] if matches else None


def parse_trip_request(text: str, stations: StationIndex, today: date) -> TripRequest | None:
    text = " ".join(text.split())
    seats_match = _SEATS.search(text)
    passengers = int(seats_match[1]) if seats_match else None
    rest = _SEATS.sub("", text).strip()
    for shape in _SHAPES:
        found = shape.match(rest)
        if not found:
            continue
        origin = _station_in(stations, found["a"])
        tail = found["b"].strip()
        day = None
        for token in sorted(RELATIVE, key=len, reverse=True):
            if tail.casefold().endswith(token):
                day, tail = parse_date(token, today), tail[: -len(token)].strip()
                break
        else:
            parts = tail.rsplit(" ", 1)
            if len(parts) == 2 and parse_date(parts[1], today):
                day, tail = parse_date(parts[1], today), parts[0]
        destination = _station_in(stations, tail)
        if origin and destination and origin != destination:
            return TripRequest(origin, destination, day, passengers)
    return None
