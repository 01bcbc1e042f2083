"""What may be printed on a ticket as a passenger's name: one rule for the chat, the API and
imports alike."""

from __future__ import annotations

from booking.errors import BookingError, ErrorCode

MAX_NAME_LENGTH = 100  # allocations.passenger is wider; a ticket line is not


def squash(text: str) -> str:
    """Collapse runs of whitespace, so "Ann  Lee " and "Ann Lee" are one name."""
    return " ".join(text.split())


def passenger_name(raw: str) -> str:
    """The name as it will be printed on the ticket; refuses what cannot be a name."""
    name = squash(str(raw))
    if not name or len(name) > MAX_NAME_LENGTH or not any(ch.isalpha() for ch in name):
        raise BookingError(ErrorCode.BAD_PASSENGER_NAME, name=str(raw)[:MAX_NAME_LENGTH])
    return name
