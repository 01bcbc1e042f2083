"""Orders as their owners see them: one order, a customer's orders, and what each may do.

The decisions a passenger's screen depends on (is this hold still live, may it be
cancelled) are made here from the live state, so every caller shows the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Trip
from booking.ports import UnitOfWork
from booking.usecase import UseCases, station_of, trip_of
from booking.views import OrderView, order_seats


class OrderQueries(UseCases):
    async def order(self, order_id: str, customer_id: int | None = None) -> OrderView:
        """One order, checked to belong to ``customer_id`` when given."""
        check_order_ref(order_id, customer_id)
        async with self._uow() as uow:
            order = await owned_order(uow, order_id, customer_id)
            return (await order_views(uow, [order], self.now()))[0]

    async def orders_of(self, customer_id: int) -> list[OrderView]:
        """A customer's orders, the soonest departure first."""
        limits.customer_id(customer_id)
        async with self._uow() as uow:
            views = await order_views(uow, await uow.orders.for_customer(customer_id), self.now())
        # In UTC: local times of one timezone compare by the wall clock (see search).
        return sorted(views, key=lambda v: v.departure.astimezone(UTC))


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
    if customer_id is not None and order.customer_id != customer_id:
        raise BookingError(ErrorCode.NOT_YOUR_ORDER)
    return order


def is_upcoming(order: Order, departure: datetime, now: datetime) -> bool:
    """Still ahead of the passenger: a live hold, or paid, and the trip not yet left."""
    live = order.status is OrderStatus.PAID or order.hold_live(now)
    return live and departure > now


def cancel_refusal(order: Order, departure: datetime, now: datetime) -> BookingError | None:
    """Why the order cannot be cancelled now, or None if it can."""
    if order.status is OrderStatus.HELD and not order.hold_live(now):
        return BookingError(ErrorCode.HOLD_EXPIRED)
    if order.status not in (OrderStatus.HELD, OrderStatus.PAID):
        return BookingError(ErrorCode.NOT_CANCELLABLE, status=order.status.value)
    if order.status is OrderStatus.PAID and departure <= now:
        return BookingError(ErrorCode.NOT_CANCELLABLE, status="departed")
    return None


async def order_views(
    uow: UnitOfWork, orders: Sequence[Order], now: datetime, *, known_trips: Sequence[Trip] = ()
) -> list[OrderView]:
    """The orders as their owners see them; ``known_trips`` saves reading those again."""
    trips = {trip.id: trip for trip in known_trips}
    views = []
    for order in orders:
        trip = trips.get(order.trip_id) or await trip_of(uow, order)
        route = await uow.catalog.route(trip.route_id)
        origin = await station_of(uow, route.stop(order.from_seq).station_code)
        destination = await station_of(uow, route.stop(order.to_seq).station_code)
        departure = trip.departs_at(route, order.from_seq)
        views.append(
            OrderView(
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
                cancellable=cancel_refusal(order, departure, now) is None,
            )
        )
    return views
