"""What a ticket shows, as plain values: the input of the PDF and the calendar file.

The caller fills these from the order (names already in the passenger's language, the price
already formatted) and the captions from locales/, which booking/ does not import: the
words a person reads live with the translations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TicketCaptions:
    """The fixed words on a ticket, in the passenger's language (English by default)."""

    title: str = "E-ticket"
    passenger: str = "Passenger"
    trip: str = "Trip"
    origin: str = "From"
    destination: str = "To"
    departure: str = "Departure"
    arrival: str = "Arrival"
    seat: str = "Seat"
    seats: str = "Seats"  # the calendar entry of a booking of several
    price: str = "Price"
    booking_reference: str = "Booking reference"
    check_in: str = "Show this code when boarding. Code for manual check-in:"
    operator: str = "Operator"
    # How a caption and its value are joined: the colon is the language's ("车次：…").
    labelled: str = "{label}: {value}"

    def label(self, caption: str, value: str) -> str:
        """A caption and its value, e.g. "Trip: Beijing – Tianjin"."""
        return self.labelled.format(label=caption, value=value)


@dataclass(frozen=True, slots=True)
class TicketDocument:
    """One passenger's ticket: one page of the PDF."""

    operator: str
    booking_reference: str
    passenger: str
    route_name: str
    origin: str  # station name in the passenger's language
    destination: str
    departure: datetime  # aware, in the origin station's timezone
    arrival: datetime  # aware, in the destination station's timezone
    seat: str
    price: str  # formatted with its currency for the passenger, e.g. "CN¥48.00"
    code: str  # the signed ticket code (TicketSigner.sign)
    # Optional localized texts for the times ("25 дек. 2026 г., 06:00"); without them the
    # ticket prints ISO dates and 24-hour times, which read the same in every language.
    departure_label: str | None = None
    arrival_label: str | None = None

    def __post_init__(self) -> None:
        if self.departure.tzinfo is None or self.arrival.tzinfo is None:
            raise ValueError("departure and arrival must be timezone-aware (station time)")


def time_label(moment: datetime) -> str:
    """ "2026-12-25 06:00": the date and 24-hour time on the station's clock."""
    return f"{moment:%Y-%m-%d %H:%M}"


def zone_label(moment: datetime) -> str:
    """ "Asia/Shanghai, UTC+08:00": which clock a time is on, and its offset that day."""
    offset = moment.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:5]}" if offset else "UTC"
    name = getattr(moment.tzinfo, "key", None) or moment.tzname()
    return f"{name}, {utc}" if name and name != "UTC" else utc
