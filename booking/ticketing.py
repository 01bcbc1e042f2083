"""Tickets after payment: the codes a passenger shows, and checking them in.

A ticket's code is signed by the service (booking/tickets/codes.py), so a scanner can tell a
forged code offline; checking in also reads the ticket's row, which knows whether it was
used before (when, by whom) or voided by a cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from booking.clock import Clock, system_clock
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Role, Ticket, TicketStatus
from booking.orders import order_views, owned_order
from booking.ports import UnitOfWorkFactory
from booking.settings import BookingRules
from booking.staff import StaffActionKind, record
from booking.tickets.codes import (
    TicketClaims,
    TicketCodeError,
    TicketSigner,
    initials,
    normalize,
)
from booking.usecase import UseCases
from booking.views import OrderView


class TicketCodes(Protocol):
    def sign(self, ticket: Ticket, order: Order, departure: datetime) -> str:
        """The ticket's code: its claims, signed."""
        ...

    def ticket_id(self, code: str) -> str:
        """The ticket a code names; BookingError(BAD_TICKET_CODE) if it is not ours."""
        ...


class SignedTicketCodes:
    """Ticket codes signed with the service's Ed25519 key (booking/tickets/codes.py)."""

    def __init__(self, signer: TicketSigner) -> None:
        self.signer = signer
        self.verifier = signer.verifier()

    def sign(self, ticket: Ticket, order: Order, departure: datetime) -> str:
        return self.signer.sign(TicketClaims(
            ticket_id=ticket.id, order=order.id, trip_id=order.trip_id, seat=ticket.seat,
            from_seq=order.from_seq, to_seq=order.to_seq,
            passenger_initials=initials(ticket.passenger), departure_date=departure.date(),
            issued_at=ticket.issued_at,
        ))

    def ticket_id(self, code: str) -> str:
        try:
            return self.verifier.verify(code).ticket_id
        except TicketCodeError as error:
            raise BookingError(ErrorCode.BAD_TICKET_CODE, detail=str(error)[:100]) from error


# How many days before its departure's day (on the boarding stop's clock) a ticket can be
# checked in: from the day before (an early coach boards the evening before), never earlier.
CHECK_IN_DAYS_AHEAD = 1
# Who a check-in's audit row names when the scanner app made it (authenticated by
# KASSA_SCANNER_TOKEN, not as a person): no Telegram user has id 0.
SCANNER_APP = 0


class CheckInOutcome(StrEnum):
    CHECKED_IN = "checked_in"  # valid, and marked used now
    ALREADY_USED = "already_used"
    VOID = "void"  # its order was cancelled or refunded
    TOO_EARLY = "too_early"  # valid, but its trip's day is more than CHECK_IN_DAYS_AHEAD off
    FORGED = "forged"  # not signed by us, or no such ticket


@dataclass(frozen=True, slots=True)
class TicketView:
    id: str
    order_id: str
    seat: str
    passenger: str
    status: TicketStatus
    code: str
    used_at: datetime | None
    used_by: int | None


@dataclass(frozen=True, slots=True)
class CheckIn:
    outcome: CheckInOutcome
    ticket: TicketView | None = None
    order: OrderView | None = None


class TicketingService(UseCases):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        rules: BookingRules | None = None,
        clock: Clock = system_clock,
        codes: TicketCodes | None = None,
    ) -> None:
        super().__init__(uow, rules=rules, clock=clock)
        self.codes = codes

    def _codes(self) -> TicketCodes:
        if self.codes is None:
            raise LookupError("no ticket signing key is set up (KASSA_TICKET_SIGNING_KEY)")
        return self.codes

    async def tickets(self, order_id: str, customer_id: int | None) -> list[TicketView]:
        """A paid order's tickets with their signed codes (none before payment)."""
        codes = self._codes()
        async with self._uow() as uow:
            order = await owned_order(uow, order_id, customer_id)
            tickets = await uow.tickets.for_order(order.id)
            [view] = await order_views(uow, [order], self.now())
        return [_view(t, codes.sign(t, order, view.departure)) for t in tickets]

    async def check_in(self, code: str, staff_id: int | None) -> CheckIn:
        """Mark the ticket used if it is valid; otherwise say why not.

        ``staff_id`` is the staff member scanning (their role is checked here too); None is
        a scanner app the HTTP layer has authenticated by its token.
        """
        codes = self._codes()
        try:
            ticket_id = codes.ticket_id(code.strip())
        except BookingError:
            return CheckIn(CheckInOutcome.FORGED)
        printed = normalize(code)  # the code as on the ticket, however it was typed

        async def attempt() -> CheckIn:
            async with self._uow(write=True) as uow:
                if staff_id is not None:
                    staff = await uow.customers.get(staff_id)
                    if staff is None or staff.role not in (Role.STAFF, Role.ADMIN):
                        raise BookingError(ErrorCode.NOT_STAFF)
                ticket = await uow.tickets.get(ticket_id, lock=True)
                if ticket is None:
                    return CheckIn(CheckInOutcome.FORGED)
                order = await owned_order(uow, ticket.order_id, None)
                now = self.now()
                [view] = await order_views(uow, [order], now)
                boarding_day = view.departure.date()
                if (ticket.status is TicketStatus.VALID and order.status is OrderStatus.PAID
                        and now.astimezone(view.departure.tzinfo).date()
                        < boarding_day - timedelta(days=CHECK_IN_DAYS_AHEAD)):
                    # A ticket scanned days ahead (at the wrong coach, by mistake) would be
                    # used up, and its booking could no longer be cancelled.
                    return CheckIn(CheckInOutcome.TOO_EARLY, _view(ticket, printed), view)
                if ticket.status is TicketStatus.VALID:
                    if await uow.tickets.mark_used(ticket.id, now, staff_id):
                        await record(uow, SCANNER_APP if staff_id is None else staff_id,
                                     StaffActionKind.CHECK_IN, view.trip_id, now,
                                     ticket=ticket.id, order=order.id, seat=ticket.seat)
                        await uow.commit()
                        used = Ticket(ticket.id, ticket.order_id, ticket.seat, ticket.passenger,
                                      TicketStatus.USED, ticket.issued_at, now, staff_id)
                        return CheckIn(CheckInOutcome.CHECKED_IN, _view(used, printed), view)
                    ticket = await uow.tickets.get(ticket_id) or ticket
                # A ticket used before its trip was cancelled and refunded is void now:
                # the money went back, so the seat is nobody's.
                void = ticket.status is TicketStatus.VOID or order.status in (
                    OrderStatus.CANCELLED, OrderStatus.REFUNDED)
                outcome = CheckInOutcome.VOID if void else CheckInOutcome.ALREADY_USED
                return CheckIn(outcome, _view(ticket, printed), view)

        return await self._retrying(attempt)


def _view(ticket: Ticket, code: str) -> TicketView:
    return TicketView(ticket.id, ticket.order_id, ticket.seat, ticket.passenger, ticket.status,
                      code, ticket.used_at, ticket.used_by)
