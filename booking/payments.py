"""Payments: a provider's word that money arrived, recorded once, buying the seats if it can.

Confirmation is idempotent per provider reference: the same payment twice changes nothing.
A payment after the hold expired still buys the seats if nobody took them meanwhile;
otherwise (or if it does not match the order) it is kept as needing a refund. A payment
is never lost and a seat is never sold twice.
"""

from __future__ import annotations

from datetime import datetime

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Trip, TripStatus
from booking.orders import order_views
from booking.outcomes import ConfirmOutcome, PaymentStatus, RefundReason
from booking.ports import AuditEvent, PaymentRecord, Segment, UnitOfWork
from booking.usecase import UseCases, trip_of
from booking.views import ConfirmResult


class PaymentService(UseCases):
    async def confirm_payment(
        self, order_id: str, reference: str, amount: int, currency: str, provider: str = "sandbox"
    ) -> ConfirmResult:
        """Record a payment for an order; the same reference twice changes nothing.

        A callback that cannot be recorded (an amount, currency, reference or provider no
        column holds) is refused here, before any statement, with a BookingError the
        provider is answered with, so that it retries or alerts: it is never lost inside
        a transaction that rolls back.
        """
        limits.order_id(order_id)
        limits.text(reference, "reference", limits.PAYMENT_REFERENCE_LENGTH)
        limits.amount(amount)
        limits.currency(currency)
        limits.text(provider, "provider", limits.PROVIDER_LENGTH)

        async def attempt() -> ConfirmResult:
            return await self._confirm_once(order_id, reference, amount, currency, provider)

        return await self._retrying(attempt)

    async def _confirm_once(
        self, order_id: str, reference: str, amount: int, currency: str, provider: str
    ) -> ConfirmResult:
        async with self._uow(write=True) as uow:
            known = await uow.orders.get(order_id)
            if known is None:
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            # Same lock as holds: a late payment may claim seats back.
            trip = await trip_of(uow, known, lock=self.rules.lock_inventory)
            # Read again under the lock: the status may have changed while we waited.
            order = await uow.orders.get(order_id, lock=True)
            if order is None:
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            now = self.now()
            actor = f"payment:{provider}"
            earlier = await uow.payments.find(provider, reference)
            if earlier is not None:
                if earlier.order_id != order_id:
                    # A provider's reference names one payment, which bought another order:
                    # refused, so the provider alerts, and noted in this order's history,
                    # so that staff can trace the money.
                    await uow.orders.note(
                        AuditEvent(order.id, now, order.status, order.status, actor,
                                   {"refused": ErrorCode.PAYMENT_REFERENCE_USED.value,
                                    "reference": reference, "amount": amount,
                                    "currency": currency})
                    )
                    await uow.commit()
                    raise BookingError(ErrorCode.PAYMENT_REFERENCE_USED)
                outcome = (
                    ConfirmOutcome.PAID if earlier.status is PaymentStatus.SUCCEEDED
                    else ConfirmOutcome.REFUND_NEEDED
                )
                [view] = await order_views(uow, [order], now, known_trips=[trip])
                return ConfirmResult(outcome, view, duplicate=True)
            reason = await self._refund_reason(uow, order, trip, amount, currency, now)
            status = PaymentStatus.REFUND_NEEDED if reason else PaymentStatus.SUCCEEDED
            await uow.payments.add(
                PaymentRecord(order_id, provider, reference, amount, currency, status, now)
            )
            if reason is None:
                order = await uow.orders.change_status(
                    order,
                    OrderStatus.PAID,
                    AuditEvent(order.id, now, order.status, OrderStatus.PAID, actor,
                               {"reference": reference, "amount": amount}),
                    seats_live=True,
                    payment_reference=reference,
                )
                outcome = ConfirmOutcome.PAID
            else:
                if order.status is OrderStatus.HELD and not order.hold_live(now):
                    order = await uow.orders.change_status(
                        order,
                        OrderStatus.EXPIRED,
                        AuditEvent(order.id, now, order.status, OrderStatus.EXPIRED, actor,
                                   {"reference": reference, "reason": reason.value}),
                        seats_live=False,
                    )
                outcome = ConfirmOutcome.REFUND_NEEDED
            [view] = await order_views(uow, [order], now, known_trips=[trip])
            await uow.commit()
            return ConfirmResult(outcome, view, reason=reason)

    async def _refund_reason(
        self, uow: UnitOfWork, order: Order, trip: Trip, amount: int, currency: str, now: datetime
    ) -> RefundReason | None:
        """Why this payment cannot buy the order's seats, or None if it can."""
        if amount != order.amount or currency != order.currency:
            return RefundReason.AMOUNT_MISMATCH
        if order.status is OrderStatus.PAID:
            return RefundReason.ALREADY_PAID
        if not order.can_become(OrderStatus.PAID):
            return RefundReason.ORDER_CLOSED
        # The trip first: money for a cancelled or departed trip buys nothing, even while
        # the hold is still live.
        if trip.status is TripStatus.CANCELLED:
            return RefundReason.TRIP_CANCELLED
        route = await uow.catalog.route(trip.route_id)
        if trip.departs_at(route, order.from_seq) <= now:
            return RefundReason.TRIP_DEPARTED
        if order.hold_live(now):
            return None
        taken = await uow.inventory.taken_seats(
            Segment(trip.id, order.from_seq, order.to_seq), now, exclude_order=order.id
        )
        if any(s.seat in taken for s in order.seats):
            return RefundReason.SEAT_TAKEN
        return None
