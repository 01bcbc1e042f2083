"""Cancellation and expiry: giving seats back, with the refund the policy allows.

An unpaid hold is released (no money moves); a paid order is refunded by the refund
policy, in full when the trip itself was cancelled.
"""

from __future__ import annotations

from datetime import datetime

from booking import limits
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, TripStatus
from booking.orders import (
    boarded,
    cancel_refusal,
    check_order_ref,
    order_views,
    owned_order,
)
from booking.outbox import MessageKind, dedupe_key, enqueue
from booking.outcomes import CancelKind
from booking.ports import AuditEvent, OutboxMessage, UnitOfWork
from booking.telegram_payments import REFUNDS_MADE_BY_HAND
from booking.usecase import UseCases, trip_of
from booking.views import CancellationQuote, OrderView

# The expiry sweep's batch when none is given: large enough to keep up, small enough that
# one transaction never holds many rows.
EXPIRY_BATCH = 500
MAX_EXPIRY_BATCH = 10_000
# One sweep does at most this many batches; whatever is left is the next sweep's (a bound,
# so that the sweep ends even while new holds keep expiring under it).
MAX_EXPIRY_ROUNDS = 100


class CancellationService(UseCases):
    async def cancellation_quote(
        self, order_id: str, customer_id: int | None
    ) -> CancellationQuote:
        """What cancelling the order now would do, changing nothing."""
        check_order_ref(order_id, customer_id)
        async with self._uow() as uow:
            order, refund = await self._cancellable(uow, order_id, customer_id)
        kind = CancelKind.REFUND if order.status is OrderStatus.PAID else CancelKind.RELEASE
        return CancellationQuote(order.id, kind, refund, order.currency)

    async def cancel(
        self, order_id: str, customer_id: int | None, *, actor: str | None = None,
        hold_only: bool = False, expect_refund: int | None = None,
    ) -> OrderView:
        """Cancel a held or paid order; a paid one is refunded by the refund policy.

        ``customer_id`` None is a staff cancellation (no ownership check). ``hold_only``
        releases a hold and refuses anything else (ORDER_NOT_HELD), in the transaction
        that would cancel: a hold's "cancel" button pressed after the payment came must
        not cancel the paid booking, nor refund it by a policy nobody was shown.
        ``expect_refund`` is the refund the person was quoted (0 for a hold's release): if
        cancelling now would refund another amount (a tier of the policy passed meanwhile,
        a hold paid meanwhile), nothing is done (CANCELLATION_CHANGED). A
        hold's release quoted is best confirmed with ``hold_only`` too: a refund of 0 could
        also be a paid booking's, past the policy's last tier.
        """
        check_order_ref(order_id, customer_id)
        if actor is not None:
            limits.text(actor, "actor", limits.ACTOR_LENGTH)

        async def attempt() -> OrderView:
            async with self._uow(write=True) as uow:
                order, refund = await self._cancellable(uow, order_id, customer_id, lock=True)
                if hold_only and order.status is not OrderStatus.HELD:
                    raise BookingError(ErrorCode.ORDER_NOT_HELD, status=order.status.value)
                if expect_refund is not None and refund != expect_refund:
                    raise BookingError(ErrorCode.CANCELLATION_CHANGED,
                                       status=order.status.value, refund=refund)
                status = OrderStatus.REFUNDED if refund > 0 else OrderStatus.CANCELLED
                paid = order.status is OrderStatus.PAID
                now = self.now()
                changed = await uow.orders.change_status(
                    order,
                    status,
                    AuditEvent(order.id, now, order.status, status,
                               actor or f"customer:{customer_id}", {"refund": refund}),
                    seats_live=False,
                    # A released hold has no refund at all, not a refund of nothing.
                    refund_amount=refund if paid else None,
                )
                if paid:
                    await uow.tickets.void_order(order.id)
                    await refund_through_provider(uow, order, refund, now)
                [view] = await order_views(uow, [changed], now)
                await uow.commit()
                return view

        return await self._retrying(attempt)

    async def _cancellable(
        self, uow: UnitOfWork, order_id: str, customer_id: int | None, *, lock: bool = False
    ) -> tuple[Order, int]:
        """The order, if it may be cancelled now, and what cancelling it refunds."""
        order = await owned_order(uow, order_id, customer_id, lock=lock)
        trip = await trip_of(uow, order)
        route = await uow.catalog.route(trip.route_id)
        departure = trip.departs_at(route, order.from_seq)
        now = self.now()
        refusal = cancel_refusal(order, departure, now,
                                 boarded=await boarded(uow, order, lock=lock))
        if refusal is not None:
            raise refusal
        return order, self._refund(order, departure, trip.status is TripStatus.CANCELLED, now)

    def _refund(self, order: Order, departure: datetime, trip_cancelled: bool,
                now: datetime) -> int:
        if order.status is not OrderStatus.PAID:
            return 0
        if trip_cancelled:
            return order.amount
        return self.rules.refund_policy.refund(order.amount, departure, now)

    async def expire_holds(self, batch: int = EXPIRY_BATCH) -> int:
        """Mark holds past their expiry as expired; returns how many.

        Availability never waits for this (an expired hold stops counting at once); it
        tidies the orders so that passengers and staff see the right status.
        """
        limits.count(batch, "batch", MAX_EXPIRY_BATCH)
        expired = 0
        for _ in range(MAX_EXPIRY_ROUNDS):
            async with self._uow(write=True) as uow:
                now = self.now()
                due = await uow.orders.expired_holds(now, batch)
                for order in due:
                    await uow.orders.change_status(
                        order,
                        OrderStatus.EXPIRED,
                        AuditEvent(order.id, now, order.status, OrderStatus.EXPIRED,
                                   "system:expiry", {}),
                        seats_live=False,
                    )
                    await enqueue(uow, OutboxMessage(
                        MessageKind.HOLD_EXPIRED, order.customer_id, {"order": order.id}, now,
                        dedupe_key=f"{MessageKind.HOLD_EXPIRED}:{order.id}"), now)
                await uow.commit()
            expired += len(due)
            if len(due) < batch:
                break
        return expired


async def refund_through_provider(uow: UnitOfWork, order: Order, refund: int, now: datetime,
                                  *, reason: str = "cancelled", told: bool = False) -> bool:
    """Ask the provider that took the money to give ``refund`` back, after the commit;
    ``told``: the passenger has been told of it already (a trip cancellation's notice), so
    the refund needs no notice of its own. Whether a person will have to make the refund
    (Telegram Payments), which the passenger is told rather than that it is on its way."""
    if refund <= 0:
        return False
    payment = next((p for p in await uow.payments.for_order(order.id)
                    if p.reference == order.payment_reference), None)
    if payment is None:  # paid by a direct call with no provider payment row
        return False
    await enqueue(uow, OutboxMessage(
        MessageKind.REFUND, order.customer_id,
        {"provider": payment.provider, "reference": payment.reference, "amount": refund,
         "currency": order.currency, "reason": reason, "order": order.id, "told": told}, now,
        dedupe_key=dedupe_key("refund", payment.provider, payment.reference)), now)
    return payment.provider in REFUNDS_MADE_BY_HAND
