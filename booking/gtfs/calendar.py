"""Service calendars and the window of days to import, with the optional shift.

A feed's dates may lie in the past (both shared feeds do). ``--shift-to D`` moves the
whole calendar by a whole number of weeks, so that a Saturday service stays a Saturday
service: the shift is the largest multiple of 7 days that puts the feed's first service
day on or before D, i.e. the shifted first day falls in [D - 6, D]. Days [D, D + days)
are then imported, each from the feed day ``day - shift``. The up to six feed days that
land before D are simply not imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from booking.gtfs.errors import FeedError
from booking.gtfs.source import FeedFiles

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CALENDAR = "calendar.txt"
CALENDAR_DATES = "calendar_dates.txt"


@dataclass(slots=True)
class Service:
    """When one service_id runs: a weekly pattern in a date range, plus exceptions."""

    weekdays: frozenset[int] = frozenset()  # date.weekday() numbers, Monday = 0
    start: date | None = None
    end: date | None = None
    added: set[date] = field(default_factory=set)
    removed: set[date] = field(default_factory=set)

    def runs_on(self, day: date) -> bool:
        if day in self.removed:
            return False
        if day in self.added:
            return True
        if self.start is None or self.end is None:
            return False
        return self.start <= day <= self.end and day.weekday() in self.weekdays

    def first_day(self) -> date | None:
        candidates = [d for d in (self.start, min(self.added, default=None)) if d is not None]
        return min(candidates, default=None)


def read_services(files: FeedFiles) -> dict[str, Service]:
    """Every service_id of calendar.txt and calendar_dates.txt (at least one must exist)."""
    if not files.has(CALENDAR) and not files.has(CALENDAR_DATES):
        raise FeedError(CALENDAR, None, f"required file is missing (or {CALENDAR_DATES})")
    services: dict[str, Service] = {}
    if files.has(CALENDAR):
        _read_calendar(files, services)
    if files.has(CALENDAR_DATES):
        _read_calendar_dates(files, services)
    return services


def _read_calendar(files: FeedFiles, services: dict[str, Service]) -> None:
    required = ("service_id", *WEEKDAYS, "start_date", "end_date")
    for record in files.records(CALENDAR, required):
        service_id = record.required("service_id")
        if service_id in services:
            raise record.error(f"service_id {service_id!r} appears twice")
        weekdays = frozenset(
            number for number, name in enumerate(WEEKDAYS)
            if record.choice(name, ("0", "1")) == "1"
        )
        start, end = record.date("start_date"), record.date("end_date")
        if end < start:
            raise record.error(f"end_date {end:%Y%m%d} is before start_date {start:%Y%m%d}")
        services[service_id] = Service(weekdays, start, end)


def _read_calendar_dates(files: FeedFiles, services: dict[str, Service]) -> None:
    for record in files.records(CALENDAR_DATES, ("service_id", "date", "exception_type")):
        service = services.setdefault(record.required("service_id"), Service())
        day = record.date("date")
        if record.choice("exception_type", ("1", "2")) == "1":
            service.added.add(day)
            service.removed.discard(day)
        else:
            service.removed.add(day)
            service.added.discard(day)


@dataclass(frozen=True, slots=True)
class Window:
    """The service days to import and how far the feed's calendar is moved onto them."""

    first: date
    days: int
    shift: timedelta = timedelta(0)  # service day = feed day + shift

    def days_with_feed_days(self) -> Iterator[tuple[date, date]]:
        """(service day, the feed day whose timetable it runs) for each day of the window."""
        for n in range(self.days):
            day = self.first + timedelta(days=n)
            yield day, day - self.shift


def plan_window(
    services: dict[str, Service], *, today: date, shift_to: date | None, days: int
) -> Window:
    """The window of ``days`` from today, or from ``shift_to`` with the feed moved there."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if shift_to is None:
        return Window(today, days)
    feed_start = min(
        (d for d in (s.first_day() for s in services.values()) if d is not None), default=None
    )
    if feed_start is None:
        raise FeedError(CALENDAR, None, "no service runs on any day")
    weeks = (shift_to - feed_start).days // 7  # floor: the shifted start is <= shift_to
    return Window(shift_to, days, timedelta(weeks=weeks))


def feed_period(services: dict[str, Service]) -> tuple[date, date] | None:
    """The first and last day any service runs, for messages about an empty window."""
    firsts = [d for d in (s.first_day() for s in services.values()) if d is not None]
    lasts = [
        d for s in services.values()
        for d in (s.end, max(s.added, default=None)) if d is not None
    ]
    if not firsts or not lasts:
        return None
    return min(firsts), max(lasts)
