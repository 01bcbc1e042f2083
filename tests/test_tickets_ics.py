"""The trip's calendar file read back as a calendar application reads it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from booking.tickets.ics import render_trip_ics
from handlers.documents import captions
from locales import texts
from tests.tickets_support import REFERENCE, RU_CAPTIONS, berlin_summer, documents

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def only_event(data: bytes):
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_event_has_the_trip_in_the_stations_timezones() -> None:
    docs = documents()
    calendar, event = only_event(render_trip_ics(docs, NOW))
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start == docs[0].departure
    assert end == docs[0].arrival
    assert start.tzinfo.key == "Asia/Shanghai"
    assert end.tzinfo.key == "Europe/Moscow"
    assert start.astimezone(UTC) == datetime(2026, 12, 24, 22, 0, tzinfo=UTC)
    assert end - start == timedelta(days=2, hours=7, minutes=10)  # 06:00+08 -> 08:10+03
    assert {tz["TZID"] for tz in calendar.walk("VTIMEZONE")} == {"Asia/Shanghai", "Europe/Moscow"}


def test_event_names_the_journey_seats_and_reference() -> None:
    docs = documents()
    _, event = only_event(render_trip_ics(docs, NOW))
    assert str(event["uid"]) == f"{REFERENCE}@tickets.kassa"
    assert str(event["summary"]) == "北京南站 → Москва, Ленинградский вокзал"
    assert str(event["location"]) == "北京南站"
    description = str(event["description"])
    for expected in ("12A (Anna Lee)", "12B (王小明)", "12C (Иван Петров)", REFERENCE,
                     "Kassa Coach Lines"):
        assert expected in description
    assert "Seats: 12A" in description
    assert event.decoded("dtstamp") == NOW
    # One passenger's entry says "Seat".
    _, event = only_event(render_trip_ics(docs[:1], NOW))
    assert "Seat: 12A (Anna Lee)" in str(event["description"])


def test_summer_time_is_kept() -> None:
    doc = berlin_summer(documents()[0])
    _, event = only_event(render_trip_ics([doc], NOW))
    start = event.decoded("dtstart")
    assert start.utcoffset() == timedelta(hours=2)
    assert start.astimezone(UTC) == datetime(2026, 7, 1, 6, 30, tzinfo=UTC)
    assert event.decoded("dtend").tzinfo == ZoneInfo("Europe/Prague")


def test_the_same_order_gives_the_same_uid() -> None:
    first = only_event(render_trip_ics(documents(), NOW))[1]
    again = only_event(render_trip_ics(documents()[:1], NOW + timedelta(hours=1)))[1]
    assert first["uid"] == again["uid"]


def test_captions_in_the_passengers_language() -> None:
    _, event = only_event(render_trip_ics(documents(), NOW, RU_CAPTIONS))
    assert "Номер брони: KX7Q2M" in str(event["description"])


def test_chinese_captions_take_the_full_width_colon() -> None:
    _, event = only_event(render_trip_ics(documents(), NOW, captions(texts("zh"))))
    description = str(event["description"])
    assert "车次：" in description and "预订号：KX7Q2M" in description
    assert ": " not in description


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no tickets"):
        render_trip_ics([], NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        render_trip_ics(documents(), datetime(2026, 1, 1))  # noqa: DTZ001
    first, second, _ = documents()
    with pytest.raises(ValueError, match="one order"):
        render_trip_ics([first, replace(second, booking_reference="OTHER1")], NOW)
