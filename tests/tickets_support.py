"""Tickets as the ticket use case will build them: three passengers in three scripts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from booking.tickets.codes import TicketClaims, TicketSigner, initials, load_signing_key
from booking.tickets.document import TicketCaptions, TicketDocument

SEED = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"  # RFC 8032 test 1's secret key
REFERENCE = "KX7Q2M"
PASSENGERS = (("Anna Lee", "12A"), ("王小明", "12B"), ("Иван Петров", "12C"))
ISSUED = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

RU_CAPTIONS = TicketCaptions(
    title="Электронный билет",
    passenger="Пассажир",
    trip="Рейс",
    origin="Откуда",
    destination="Куда",
    departure="Отправление",
    arrival="Прибытие",
    seat="Место",
    price="Цена",
    booking_reference="Номер брони",
    check_in="Покажите этот код при посадке. Код для ручной регистрации:",
    operator="Перевозчик",
)


def signer() -> TicketSigner:
    return TicketSigner(load_signing_key(SEED))


def documents(sign: TicketSigner | None = None) -> list[TicketDocument]:
    """One order Beijing -> Moscow for three passengers, with signed codes."""
    sign = sign or signer()
    docs = []
    for number, (name, seat) in enumerate(PASSENGERS, start=1):
        claims = TicketClaims(
            ticket_id=str(1000 + number),
            order=REFERENCE,
            trip_id=4711,
            seat=seat,
            from_seq=0,
            to_seq=7,
            passenger_initials=initials(name),
            departure_date=date(2026, 12, 25),
            issued_at=ISSUED,
        )
        docs.append(
            TicketDocument(
                operator="Kassa Coach Lines",
                booking_reference=REFERENCE,
                passenger=name,
                route_name="Beijing – Moscow Express",
                origin="北京南站",
                destination="Москва, Ленинградский вокзал",
                departure=datetime(2026, 12, 25, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                arrival=datetime(2026, 12, 27, 8, 10, tzinfo=ZoneInfo("Europe/Moscow")),
                seat=seat,
                price="CN¥1,248.00",
                code=sign.sign(claims),
            )
        )
    return docs


def berlin_summer(doc: TicketDocument) -> TicketDocument:
    """The same ticket on a Berlin -> Prague trip in summer time."""
    return replace(
        doc,
        origin="Berlin Hbf",
        destination="Praha hl.n.",
        departure=datetime(2026, 7, 1, 8, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        arrival=datetime(2026, 7, 1, 12, 45, tzinfo=ZoneInfo("Europe/Prague")),
    )
