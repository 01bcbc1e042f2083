"""The booking service: every use case on one database, behind the interface the bot uses.

The use cases live in their own modules, split by concern as pretix splits its services:
catalogue and search (booking/catalogue.py), holds (booking/holds.py), payments
(booking/payments.py), cancellation and expiry (booking/cancellation.py), and orders as
their owners see them (booking/orders.py). This class only puts them together, so that
one object implements booking.api.BookingApi in-process.
"""

from __future__ import annotations

from booking.cancellation import CancellationService
from booking.catalogue import CatalogueService
from booking.clock import Clock, system_clock
from booking.holds import HoldService
from booking.names import passenger_name
from booking.orders import OrderQueries
from booking.payments import PaymentGateway, PaymentService
from booking.ports import UnitOfWorkFactory
from booking.settings import BookingRules
from booking.ticketing import TicketCodes, TicketingService
from booking.usecase import UseCases
from booking.views import BookingLimits


class BookingService(
    CatalogueService, HoldService, PaymentService, CancellationService, OrderQueries,
    TicketingService,
):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        rules: BookingRules | None = None,
        clock: Clock = system_clock,
        gateway: PaymentGateway | None = None,
        codes: TicketCodes | None = None,
    ) -> None:
        UseCases.__init__(self, uow, rules=rules, clock=clock)
        self.gateway = gateway
        self.codes = codes

    def limits(self) -> BookingLimits:
        return BookingLimits(
            max_seats_per_order=self.rules.max_seats_per_order,
            hold_minutes=self.rules.hold_minutes,
            booking_horizon_days=self.rules.booking_horizon_days,
        )

    def check_passenger_name(self, raw: str) -> str:
        return passenger_name(raw)
