"""Arrival times as a passenger reads them in the chat: the arrival station's wall clock,
marked "+1" when that is a later local date than the departure's (an overnight trip)."""

from __future__ import annotations

from datetime import datetime, timedelta

from locales import Texts


def days_after(departure: datetime, arrival: datetime) -> int:
    """How many local dates the arrival is after the departure: each aware datetime in its
    own station's timezone, as the booking views give them (so a trip leaving Moscow at
    20:00 and arriving in Kazan at 09:40 is 1, whatever the UTC dates are)."""
    return (arrival.date() - departure.date()).days


def arrival_time(_: Texts, departure: datetime, arrival: datetime) -> str:
    """The arrival's local time, with the days after the departure's date when there are
    any: "9:40 AM +1". (Westwards across timezones a short trip can even arrive on the
    local date before: "11:50 PM -1".)"""
    days = days_after(departure, arrival)
    if days > 0:
        return _("{time} +{days}", time=_.time(arrival), days=days)
    if days < 0:
        return _("{time} -{days}", time=_.time(arrival), days=-days)
    return _.time(arrival)


def scheduled(departure: datetime, delay_minutes: int) -> datetime:
    """The departure as the timetable had it, before the delays that moved it."""
    return departure - timedelta(minutes=delay_minutes)


def moved_time(_: Texts, before: datetime, after: datetime) -> str:
    """A departure moved by a delay, marked "+1" when the delay took it past midnight:
    "12:10 AM +1" for a 7:30 AM trip 1,000 minutes late."""
    return arrival_time(_, before, after)
