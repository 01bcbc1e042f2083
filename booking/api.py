"""The interface the bot uses: every question a handler asks of the booking service.

The in-process service (booking/service.py) implements it, and so will the HTTP client of a
separate booking service: every method takes and returns plain values (booking/views.py)
that can cross a network, and every decision (may this order be cancelled, for how much,
is this hold still live) is made behind it, never by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from booking.broadcasts import Audience, BroadcastProgress, BroadcastStarted
from booking.manifest import Manifest
from booking.model import Customer, Role, Station
from booking.providers import Checkout, ProviderEvent
from booking.roles import RoleChange, StaffMember
from booking.staff_console import TripSummary
from booking.stats import SalesReport
from booking.ticketing import CheckIn, TicketView
from booking.trip_changes import CancelPreview, DelayPreview
from booking.views import (
    BookingLimits,
    CancellationQuote,
    ConfirmResult,
    OrderView,
    SeatMap,
    TripOption,
)


@runtime_checkable
class Connection(Protocol):
    """A service reached over a network (booking/http_client.py): opened before its first
    question and closed by its owner."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


class BookingApi(Protocol):
    def now(self) -> datetime:
        """The time the service decides by (UTC)."""
        ...

    def limits(self) -> BookingLimits: ...

    # ---- catalogue and search ----
    async def stations(self) -> list[Station]:
        """Every station, the busiest first."""
        ...

    async def destinations(self, origin: str) -> list[Station]: ...

    async def search(self, origin: str, destination: str, day: date) -> list[TripOption]: ...

    async def trip_option(self, trip_id: int, origin: str, destination: str) -> TripOption:
        """One trip as the search would show it, with its seats free now."""
        ...

    async def nearest_days(
        self, origin: str, destination: str, day: date, seats: int
    ) -> list[date]:
        """The days closest to ``day`` (before or after) with a trip that has ``seats`` free."""
        ...

    async def seat_map(self, trip_id: int, origin: str, destination: str) -> SeatMap: ...

    async def alternatives(
        self, origin: str, destination: str, around: datetime, seats: int, *,
        exclude_trip: int | None = None,
    ) -> list[TripOption]:
        """The next trips with ``seats`` free, for someone whose trip fell through (never
        ``exclude_trip``, the one that did)."""
        ...

    # ---- holds and orders ----
    async def hold(
        self,
        customer_id: int,
        trip_id: int,
        origin: str,
        destination: str,
        passengers: Sequence[str],
        seats: Sequence[str] | None = None,
        *,
        request_key: str | None = None,
    ) -> OrderView: ...

    async def order(self, order_id: str, customer_id: int | None = None) -> OrderView: ...

    async def orders_of(self, customer_id: int) -> list[OrderView]: ...

    async def cancellation_quote(self, order_id: str, customer_id: int) -> CancellationQuote: ...

    async def cancel(self, order_id: str, customer_id: int, *, hold_only: bool = False,
                     expect_refund: int | None = None) -> OrderView:
        """Cancel the order (a paid one refunded by the policy); with ``hold_only``, only
        a live hold, anything else refused with ORDER_NOT_HELD; with ``expect_refund``,
        only if cancelling refunds exactly that (0: a hold's release), else
        CANCELLATION_CHANGED."""
        ...

    # ---- payment and tickets ----
    async def start_payment(self, order_id: str, customer_id: int | None) -> Checkout:
        """How to pay for a live hold: a checkout page, or an invoice in the chat."""
        ...

    async def check_checkout(self, order_id: str, amount: int, currency: str) -> None:
        """May the order be paid now, for this amount (Telegram's pre-checkout)?"""
        ...

    async def handle_event(self, event: ProviderEvent) -> ConfirmResult | None:
        """A provider's verified event (paid, declined), applied exactly once."""
        ...

    async def tickets(self, order_id: str, customer_id: int | None) -> list[TicketView]: ...

    async def check_in(self, code: str, staff_id: int | None) -> CheckIn: ...

    def check_passenger_name(self, raw: str) -> str:
        """The name as a ticket would print it; BookingError if it cannot be one."""
        ...


class CustomersApi(Protocol):
    async def customer(self, user_id: int) -> Customer | None: ...

    async def ensure(self, user_id: int, name: str, language: str | None = None) -> Customer:
        """The customer, created on first contact and brought up to date on later ones."""
        ...

    async def set_language(self, user_id: int, language: str) -> Customer: ...

    async def set_blocked(self, user_id: int, blocked: bool) -> None: ...

    async def role(self, user_id: int) -> Role:
        """The person's role now, read afresh: staff actions ask it every time."""
        ...


class RolesApi(Protocol):
    """Admins give and take the staff role; each call checks the admin's role again."""

    async def grant_staff(self, admin_id: int, user_id: int) -> RoleChange: ...
    async def revoke_staff(self, admin_id: int, user_id: int) -> RoleChange: ...
    async def staff(self, admin_id: int) -> list[StaffMember]: ...
    async def settle_listed_roles(self) -> list[Customer]: ...


class ManifestApi(Protocol):
    async def manifest(self, staff_id: int, trip_id: int) -> Manifest:
        """The trip's paid and held seats by boarding stop (its reading is audited)."""
        ...


class BroadcastsApi(Protocol):
    def check_text(self, text: str) -> str: ...
    async def preview(self, staff_id: int, audience: Audience) -> int: ...
    async def send(self, staff_id: int, audience: Audience, text: str) -> BroadcastStarted: ...
    async def progress(self, staff_id: int, broadcast_id: int, total: int
                       ) -> BroadcastProgress: ...


class TripChangesApi(Protocol):
    async def delay_preview(self, staff_id: int, trip_id: int, minutes: int
                            ) -> DelayPreview: ...
    async def delay(self, staff_id: int, trip_id: int, minutes: int, reason: str) -> int: ...
    async def cancel_preview(self, staff_id: int, trip_id: int) -> CancelPreview: ...
    async def cancel(self, staff_id: int, trip_id: int, reason: str) -> int: ...


class StatsApi(Protocol):
    async def report(self, staff_id: int, days: int, today: date) -> SalesReport:
        """Sales per route and travel day over the ``days`` ending ``today``."""
        ...


class StaffConsoleApi(Protocol):
    """What staff ask before they act; every call checks the role again."""

    async def day_trips(self, staff_id: int, day: date) -> list[TripSummary]:
        """Every trip running on ``day``, by departure, with seats sold, held and free."""
        ...

    async def trip(self, staff_id: int, trip_id: int) -> TripSummary | None:
        """One trip with its load now, or None if there is no such trip."""
        ...
