"""Orders as their owners see them: one order, a customer's orders, and what each may do.

The decisions a passenger's screen depends on (is this hold still live, may it be
cancelled) are made here from the live state, so every caller shows the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Route, Station, TicketStatus, Trip
from booking.ports import UnitOfWork, UnitOfWorkFactory
from booking.read_memo import remember, remembered
from booking.usecase import UseCases, station_of, trip_of
from booking.views import OrderView, order_seats


class OrderQueries(UseCases):
    async def order(self, order_id: str, customer_id: int | None = None) -> OrderView:
        """One order, checked to belong to ``customer_id`` when given."""
        check_order_ref(order_id, customer_id)
        return view_of(await read_order(self._uow, order_id, customer_id), self.now())

    async def orders_of(self, customer_id: int) -> list[OrderView]:
        """A customer's orders, the soonest departure first."""
        limits.customer_id(customer_id)
        async with self._uow() as uow:
            views = await order_views(uow, await uow.orders.for_customer(customer_id), self.now())
        # In UTC: local times of one timezone compare by the wall clock (see search).
        return sorted(views, key=lambda v: v.departure.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class OrderParts:
    """An order with what its view shows of its trip: read together, memoised together."""

    order: Order
    trip: Trip
    route: Route
    origin: Station
    destination: Station
    boarded: bool = False  # a ticket of it was checked in (paid orders only)


async def read_order(uow_factory: UnitOfWorkFactory, order_id: str,
                     customer_id: int | None) -> OrderParts:
    """The order and its trip in one unit of work (UNKNOWN_ORDER if there is none), checked
    to be ``customer_id``'s when given; asked again within one update's read memo
    (booking/read_memo.py), the first answer."""

    async def read() -> OrderParts:
        async with uow_factory() as uow:
            order = await owned_order(uow, order_id, None)
            [parts] = await order_parts(uow, [order])
        return parts

    parts = await remembered(("order", order_id), read)
    check_owner(parts.order, customer_id)
    return parts


def remember_order(parts: OrderParts) -> None:
    """An order just written, with its trip as the writing transaction read it: what the
    same update asks of it next (the held card, its Pay button) needs no read."""
    remember(("order", parts.order.id), parts)


def check_order_ref(order_id: str, customer_id: int | None) -> None:
    """Refuse an order id or customer id that no order could have, before any statement."""
    limits.order_id(order_id)
    if customer_id is not None:
        limits.customer_id(customer_id)


async def owned_order(
    uow: UnitOfWork, order_id: str, customer_id: int | None, *, lock: bool = False
) -> Order:
    """The order, refused unless it exists and (when a customer is given) is theirs."""
    order: Order | None = await uow.orders.get(order_id, lock=lock)
    if order is None:
        raise BookingError(ErrorCode.UNKNOWN_ORDER)
    check_owner(order, customer_id)
    return order


def check_owner(order: Order, customer_id: int | None) -> None:
    """Refuse an order that is not ``customer_id``'s (when a customer is given)."""
    if customer_id is not None and order.customer_id != customer_id:
        raise BookingError(ErrorCode.NOT_YOUR_ORDER)


def is_upcoming(order: Order, departure: datetime, now: datetime) -> bool:
    """Still ahead of the passenger: a live hold, or paid, and the trip not yet left."""
    live = order.status is OrderStatus.PAID or order.hold_live(now)
    return live and departure > now


def cancel_refusal(order: Order, departure: datetime, now: datetime, *,
                   boarded: bool = False) -> BookingError | None:
    """Why the order cannot be cancelled now, or None if it can. A paid order with a ticket
    checked in (``boarded``) is not refunded: the seat has been used."""
    if order.status is OrderStatus.HELD and not order.hold_live(now):
        return BookingError(ErrorCode.HOLD_EXPIRED)
    if order.status not in (OrderStatus.HELD, OrderStatus.PAID):
        return BookingError(ErrorCode.NOT_CANCELLABLE, status=order.status.value)
    if order.status is OrderStatus.PAID and departure <= now:
        return BookingError(ErrorCode.NOT_CANCELLABLE, status="departed")
    if order.status is OrderStatus.PAID and boarded:
        return BookingError(ErrorCode.NOT_CANCELLABLE, status="checked_in")
    return None


async def boarded(uow: UnitOfWork, order: Order, *, lock: bool = False) -> bool:
    """Whether a ticket of the order was checked in (only a paid order has tickets). With
    ``lock`` the tickets stay locked to the commit: a check-in (which locks its ticket)
    then cannot slip in between this look and a cancellation's voiding of the tickets."""
    if order.status is not OrderStatus.PAID:
        return False
    return any(t.status is TicketStatus.USED
               for t in await uow.tickets.for_order(order.id, lock=lock))


async def order_views(
    uow: UnitOfWork, orders: Sequence[Order], now: datetime, *, known_trips: Sequence[Trip] = (),
    tickets_unused: bool = False,
) -> list[OrderView]:
    """The orders as their owners see them; ``known_trips`` saves reading those again, and
    ``tickets_unused`` reading their tickets (issued in this transaction, say)."""
    return [view_of(parts, now)
            for parts in await order_parts(uow, orders, known_trips=known_trips,
                                           tickets_unused=tickets_unused)]


async def order_parts(
    uow: UnitOfWork, orders: Sequence[Order], *, known_trips: Sequence[Trip] = (),
    tickets_unused: bool = False,
) -> list[OrderParts]:
    """The orders with their trips, routes and stations; ``known_trips`` are not read, nor
    are the tickets with ``tickets_unused`` (the caller knows none was checked in)."""
    trips = {trip.id: trip for trip in known_trips}
    # Only a paid order has tickets: one read for all of them (a list of bookings).
    paid = [o.id for o in orders if o.status is OrderStatus.PAID and not tickets_unused]
    boarded_orders = await uow.tickets.boarded(paid) if paid else set()
    found = []
    for order in orders:
        trip = trips.get(order.trip_id) or await trip_of(uow, order)
        route = await uow.catalog.route(trip.route_id)
        origin = await station_of(uow, route.stop(order.from_seq).station_code)
        destination = await station_of(uow, route.stop(order.to_seq).station_code)
        found.append(OrderParts(order, trip, route, origin, destination,
                                order.id in boarded_orders))
    return found


def view_of(parts: OrderParts, now: datetime) -> OrderView:
    """The order as its owner sees it at ``now``."""
    order, trip, route = parts.order, parts.trip, parts.route
    origin, destination = parts.origin, parts.destination
    departure = trip.departs_at(route, order.from_seq)
    return OrderView(
        id=order.id,
        customer_id=order.customer_id,
        trip_id=order.trip_id,
        status=order.status_at(now),
        amount=order.amount,
        currency=order.currency,
        seats=order_seats(order),
        route_name=route.name,
        origin=origin,
        destination=destination,
        departure=departure.astimezone(origin.tz),
        arrival=trip.arrives_at(route, order.to_seq).astimezone(destination.tz),
        trip_status=trip.status,
        delay_minutes=trip.delay_minutes,
        created_at=order.created_at,
        expires_at=order.expires_at if order.hold_live(now) else None,
        refund_amount=order.refund_amount,
        upcoming=is_upcoming(order, departure, now),
        cancellable=cancel_refusal(order, departure, now, boarded=parts.boarded) is None,
    )
