"""Staff change a trip: a delay moves its times, a cancellation refunds and releases every
order on it. Each is one transaction on the locked trip, with its audit row and an outbox row
per affected passenger (told in their own language after the commit); asked twice, the
second changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from booking import limits
from booking.cancellation import refund_through_provider
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Trip, TripStatus
from booking.outbox import MessageKind, enqueue
from booking.ports import AuditEvent, OutboxMessage, UnitOfWork
from booking.staff import StaffActionKind, record, require_role
from booking.staff_console import TripSummary, trip_summary
from booking.usecase import UseCases

MAX_DELAY_MINUTES = 24 * 60
MAX_REASON_LENGTH = 200


@dataclass(frozen=True, slots=True)
class DelayPreview:
    trip: TripSummary  # as it is now
    minutes: int
    departure: datetime  # after the delay, local to the first stop
    arrival: datetime  # after the delay, local to the last stop
    passengers: int  # customers who will be told


@dataclass(frozen=True, slots=True)
class CancelPreview:
    trip: TripSummary
    paid_orders: int
    held_orders: int
    passengers: int
    refunds: dict[str, int]  # currency -> minor units given back


def check_delay(minutes: int) -> int:
    if not 1 <= minutes <= MAX_DELAY_MINUTES:
        raise BookingError(ErrorCode.BAD_DELAY, limit=MAX_DELAY_MINUTES)
    return minutes


def check_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON_LENGTH \
            or limits.unsafe_character(reason) is not None:
        raise BookingError(ErrorCode.BAD_REASON, limit=MAX_REASON_LENGTH)
    return reason


class TripChanges(UseCases):
    async def delay_preview(self, staff_id: int, trip_id: int, minutes: int) -> DelayPreview:
        check_delay(minutes)
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            trip, orders = await self._changeable(uow, trip_id, lock=False)
            summary = await self._summary(uow, trip)
        shift = timedelta(minutes=minutes)
        return DelayPreview(summary, minutes, summary.departure + shift,
                            summary.arrival + shift, len({o.customer_id for o in orders}))

    async def delay(self, staff_id: int, trip_id: int, minutes: int, reason: str) -> int:
        """Move the trip by ``minutes``; the number of passengers told."""
        check_delay(minutes)
        reason = check_reason(reason)

        async def attempt() -> int:
            async with self._uow(write=True) as uow:
                await require_role(uow, staff_id)
                trip, orders = await self._changeable(uow, trip_id, lock=True)
                now = self.now()
                delayed = replace(trip, departure_at=trip.departure_at + timedelta(
                    minutes=minutes), status=TripStatus.DELAYED,
                    delay_minutes=trip.delay_minutes + minutes)
                await uow.catalog.update_trip(delayed, reason)
                customers = sorted({o.customer_id for o in orders})
                for customer in customers:
                    await enqueue(uow, OutboxMessage(
                        MessageKind.TRIP_DELAYED, customer,
                        {"trip": trip.id, "minutes": minutes, "reason": reason}, now,
                        dedupe_key=f"delayed:{trip.id}:{delayed.delay_minutes}:{customer}"), now)
                await record(uow, staff_id, StaffActionKind.DELAY_TRIP, trip.id, now,
                             minutes=minutes, reason=reason, passengers=len(customers))
                await uow.commit()
                return len(customers)

        return await self._retrying(attempt)

    async def cancel_preview(self, staff_id: int, trip_id: int) -> CancelPreview:
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            trip, orders = await self._changeable(uow, trip_id, lock=False)
            summary = await self._summary(uow, trip)
        refunds: dict[str, int] = {}
        for order in orders:
            if order.status is OrderStatus.PAID:
                refunds[order.currency] = refunds.get(order.currency, 0) + order.amount
        return CancelPreview(
            summary, sum(o.status is OrderStatus.PAID for o in orders),
            sum(o.status is OrderStatus.HELD for o in orders),
            len({o.customer_id for o in orders}), refunds)

    async def cancel(self, staff_id: int, trip_id: int, reason: str) -> int:
        """Cancel the trip: paid orders refunded in full, holds released, tickets void,
        everyone told; the number of orders cancelled."""
        reason = check_reason(reason)

        async def attempt() -> int:
            async with self._uow(write=True) as uow:
                await require_role(uow, staff_id)
                trip, orders = await self._changeable(uow, trip_id, lock=True)
                now = self.now()
                await uow.catalog.update_trip(replace(trip, status=TripStatus.CANCELLED),
                                              reason)
                for order in orders:
                    await self._cancel_order(uow, order, staff_id, reason, now)
                await record(uow, staff_id, StaffActionKind.CANCEL_TRIP, trip.id, now,
                             reason=reason, orders=len(orders))
                await uow.commit()
                return len(orders)

        return await self._retrying(attempt)

    async def _cancel_order(self, uow: UnitOfWork, order: Order, staff_id: int, reason: str,
                            now: datetime) -> None:
        paid = order.status is OrderStatus.PAID
        refund = order.amount if paid else 0  # the operator cancelled: everything back
        status = OrderStatus.REFUNDED if refund else OrderStatus.CANCELLED
        await uow.orders.change_status(
            order, status,
            AuditEvent(order.id, now, order.status, status, f"staff:{staff_id}",
                       {"refund": refund, "trip_cancelled": reason}),
            seats_live=False, refund_amount=refund if paid else None)
        by_hand = False
        if paid:
            await uow.tickets.void_order(order.id)
            by_hand = await refund_through_provider(uow, order, refund, now,
                                                    reason="trip_cancelled", told=True)
        payload: dict[str, object] = {"order": order.id, "reason": reason, "refund": refund}
        if by_hand:
            payload["by_hand"] = True
        await enqueue(uow, OutboxMessage(
            MessageKind.TRIP_CANCELLED, order.customer_id, payload, now,
            dedupe_key=f"trip_cancelled:{order.id}"), now)

    async def _changeable(self, uow: UnitOfWork, trip_id: int, *, lock: bool
                          ) -> tuple[Trip, list[Order]]:
        """The trip if it can still be changed, and its paid orders and live holds."""
        trip = await uow.catalog.trip(trip_id, lock=lock)
        if trip is None:
            raise BookingError(ErrorCode.UNKNOWN_TRIP)
        if trip.status is TripStatus.CANCELLED:
            raise BookingError(ErrorCode.TRIP_CANCELLED)
        now = self.now()
        if trip.departure_at <= now:
            raise BookingError(ErrorCode.TRIP_DEPARTED)
        orders = await uow.orders.for_trip(trip.id, [OrderStatus.PAID, OrderStatus.HELD])
        return trip, [o for o in orders if o.status is OrderStatus.PAID or o.hold_live(now)]

    async def _summary(self, uow: UnitOfWork, trip: Trip) -> TripSummary:
        route = await uow.catalog.route(trip.route_id)
        loads = await uow.inventory.trip_loads([trip.id], self.now())
        return await trip_summary(uow, trip, route, loads.get(trip.id))
