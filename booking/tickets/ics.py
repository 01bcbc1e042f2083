"""The trip as a calendar event (.ics): one VEVENT with the stations' own timezones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from booking.tickets.document import TicketCaptions, TicketDocument

PRODID = "-//Kassa//Tickets//EN"
UID_DOMAIN = "tickets.kassa"


def render_trip_ics(
    documents: Sequence[TicketDocument],
    now: datetime,
    captions: TicketCaptions | None = None,
) -> bytes:
    """One event for the order's trip, from the tickets of its passengers.

    The UID is made from the booking reference, so sending the file again (or a changed
    one after a delay) updates the same event in the passenger's calendar instead of adding
    another; ``now`` stamps it (DTSTAMP).
    """
    if not documents:
        raise ValueError("no tickets to put in the calendar")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    words = captions or TicketCaptions()
    first = documents[0]
    if any(d.booking_reference != first.booking_reference for d in documents):
        raise ValueError("one calendar file is for the tickets of one order")

    event = Event()
    event.add("uid", f"{first.booking_reference}@{UID_DOMAIN}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", first.departure)  # TZID of the boarding station
    event.add("dtend", first.arrival)  # TZID of the destination
    event.add("summary", f"{first.origin} → {first.destination}")
    event.add("location", first.origin)
    seats = ", ".join(f"{d.seat} ({d.passenger})" for d in documents)
    event.add(
        "description",
        "\n".join(
            (
                words.label(words.operator, first.operator),
                words.label(words.trip, first.route_name),
                words.label(words.seat if len(documents) == 1 else words.seats, seats),
                words.label(words.booking_reference, first.booking_reference),
            )
        ),
    )

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    # VTIMEZONE blocks for the TZIDs used, so calendars without the tz database agree; only
    # the rules around the trip, not every change since 1970.
    calendar.add_missing_timezones(
        first_date=first.departure.date() - timedelta(days=366),
        last_date=first.arrival.date() + timedelta(days=366),
    )
    return bytes(calendar.to_ical())
