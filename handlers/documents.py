"""The files a paid order's tickets come as: one PDF per passenger and the trip's .ics, with
the words on them in the passenger's language."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime

from booking.ticketing import TicketView
from booking.tickets.document import TicketCaptions, TicketDocument
from booking.tickets.ics import render_trip_ics
from booking.tickets.pdf import render_ticket_pdf
from booking.views import OrderView
from locales import Texts


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes


def captions(_: Texts) -> TicketCaptions:
    return TicketCaptions(
        title=_("E-ticket"), passenger=_("Passenger"), trip=_("Trip"), origin=_("From"),
        destination=_("To"), departure=_("Departure"), arrival=_("Arrival"), seat=_("Seat"),
        seats=_("Seats"), price=_("Price"), booking_reference=_("Booking reference"),
        check_in=_("Show this code when boarding. Code for manual check-in:"),
        operator=_("Operator"), labelled=_("{label}: {value}"),
    )


def ticket_document(_: Texts, view: OrderView, ticket: TicketView,
                    operator: str) -> TicketDocument:
    language = _.language
    # A ticket's dates always carry their year (it may be kept until then and beyond).
    never = date.min
    return TicketDocument(
        operator=operator,
        booking_reference=view.id,
        passenger=ticket.passenger,
        route_name=view.route_name,
        origin=view.origin.name(language),
        destination=view.destination.name(language),
        departure=view.departure,
        arrival=view.arrival,
        seat=ticket.seat,
        price=_.price(view.amount // max(1, len(view.seats)), view.currency),
        code=ticket.code,
        departure_label=f"{_.day(view.departure.date(), never)} {_.time(view.departure)}",
        arrival_label=f"{_.day(view.arrival.date(), never)} {_.time(view.arrival)}",
    )


async def ticket_documents(_: Texts, view: OrderView, tickets: list[TicketView],
                           operator: str, now: datetime) -> list[Document]:
    """One PDF per passenger, then the .ics; rendered off the event loop (a PDF costs tens
    of milliseconds of CPU)."""
    if not tickets:
        return []
    words = captions(_)
    pages = [ticket_document(_, view, t, operator) for t in tickets]

    def render() -> list[Document]:
        files = [Document(f"ticket-{view.id[:8]}-{t.seat}.pdf", render_ticket_pdf(page, words))
                 for t, page in zip(tickets, pages, strict=True)]
        files.append(Document(f"trip-{view.id[:8]}.ics", render_trip_ics(pages, now, words)))
        return files

    return await asyncio.to_thread(render)
