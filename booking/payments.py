"""Payments: a provider's word that money arrived, recorded once, buying the seats if it can.

Confirmation is idempotent per provider reference: the same payment twice changes nothing.
A payment after the hold expired still buys the seats if nobody took them meanwhile;
otherwise (or if it does not match the order) it is kept as needing a refund. A payment
is never lost and a seat is never sold twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from booking import limits
from booking.clock import Clock, system_clock
from booking.errors import BookingError, ErrorCode
from booking.model import Order, OrderStatus, Role, Ticket, TicketStatus, Trip, TripStatus
from booking.orders import order_views, owned_order, read_order, view_of
from booking.outbox import MessageKind, Undeliverable, dedupe_key, enqueue
from booking.outcomes import ConfirmOutcome, PaymentStatus, RefundReason
from booking.ports import (
    AuditEvent,
    OutboxMessage,
    PaymentEvent,
    PaymentRecord,
    Segment,
    UnitOfWork,
    UnitOfWorkFactory,
)
from booking.providers import Checkout, PaymentEventType, PaymentProvider, ProviderEvent
from booking.reminders import schedule_reminders
from booking.settings import BookingRules
from booking.staff import STAFF_ROLES
from booking.telegram_payments import RefundByHand
from booking.usecase import UseCases
from booking.views import ConfirmResult, OrderView

log = logging.getLogger(__name__)


@dataclass
class PaymentGateway:
    """The providers this operator takes payments with; new payments go to ``default``."""

    providers: Mapping[str, PaymentProvider]
    default: str

    def provider(self, name: str) -> PaymentProvider:
        found = self.providers.get(name)
        if found is None:
            raise LookupError(f"no payment provider {name!r} is set up")
        return found


def _refund_notice(refund: OutboxMessage, order_id: str, now: datetime, *,
                   by_hand: bool = False) -> OutboxMessage:
    """The passenger's notice of the refund ``refund`` (an outbox REFUND row): made, or,
    ``by_hand``, asked of staff. One per payment, whichever way it went."""
    data = refund.payload
    payload = {"order": order_id, "amount": int(data.get("amount", 0)),
               "currency": str(data.get("currency")), "reason": data.get("reason")}
    if by_hand:
        payload["by_hand"] = True
    return OutboxMessage(MessageKind.REFUND_NOTICE, refund.recipient, payload, now,
                         dedupe_key=dedupe_key("refunded", str(data.get("provider")),
                                               str(data.get("reference"))))


def _check_not_departed(view: OrderView, now: datetime) -> None:
    """Nothing is paid for a coach that has left the passenger's stop (the payment would
    only be refunded). A hold made now ends at that departure (booking/holds.py); this
    still stops one made before holds did, which could outlive it by its minutes."""
    if view.departure <= now:
        raise BookingError(ErrorCode.TRIP_DEPARTED)


class PaymentService(UseCases):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        rules: BookingRules | None = None,
        clock: Clock = system_clock,
        gateway: PaymentGateway | None = None,
    ) -> None:
        super().__init__(uow, rules=rules, clock=clock)
        self.gateway = gateway

    async def check_checkout(self, order_id: str, amount: int, currency: str) -> None:
        """Telegram's pre-checkout question: may this order be paid now, for this amount?
        BookingError says why not."""
        parts = await read_order(self._uow, order_id, None)
        order, now = parts.order, self.now()
        if not order.hold_live(now):
            raise BookingError(ErrorCode.HOLD_EXPIRED if order.status is OrderStatus.HELD
                               else ErrorCode.ORDER_NOT_HELD)
        _check_not_departed(view_of(parts, now), now)
        if amount != order.amount:
            raise BookingError(ErrorCode.AMOUNT_MISMATCH)
        if currency != order.currency:
            raise BookingError(ErrorCode.CURRENCY_MISMATCH)

    async def start_payment(self, order_id: str, customer_id: int | None) -> Checkout:
        """How the passenger pays for their live hold (a page, or an invoice)."""
        if self.gateway is None:
            raise LookupError("no payment provider is set up")
        # The held card shows the order and then its Pay button: one read between them
        # inside an update's read memo.
        parts = await read_order(self._uow, order_id, customer_id)
        order = parts.order
        if not order.hold_live(self.now()):
            raise BookingError(ErrorCode.ORDER_NOT_HELD if order.status is not
                               OrderStatus.HELD else ErrorCode.HOLD_EXPIRED)
        view = view_of(parts, self.now())
        _check_not_departed(view, self.now())
        return self.gateway.provider(self.gateway.default).checkout(view)

    async def handle_event(self, event: ProviderEvent) -> ConfirmResult | None:
        """Apply a provider's (already verified) event exactly once.

        Refused, changing nothing: an unknown order, or an amount or currency that is not
        the order's (a provider would not send that for our checkout: it is investigated,
        not booked). A declined payment keeps the hold and tells the passenger.
        """
        # Checked before any statement, as confirm_payment checks its reference: a declined
        # event is written as it came, and PostgreSQL refuses a NUL with a driver error.
        limits.text(event.event_id, "event_id", limits.PAYMENT_REFERENCE_LENGTH)
        limits.text(event.provider, "provider", limits.PROVIDER_LENGTH)
        if event.type is PaymentEventType.SUCCEEDED:
            # The amount is checked inside the confirmation's own transaction, before it
            # writes: one transaction per webhook on the busiest path.
            return await self.confirm_payment(
                event.order_id, event.event_id, event.amount, event.currency, event.provider,
                event_type=event.type.value, refuse_mismatch=True,
            )
        async with self._uow() as uow:
            order = await owned_order(uow, event.order_id, None)
        _check_amount(order, event.amount, event.currency)

        async def attempt() -> None:
            async with self._uow(write=True) as uow:
                if await uow.payments.find_event(event.provider, event.event_id) is not None:
                    return
                now = self.now()
                await uow.payments.add_event(PaymentEvent(
                    event.provider, event.event_id, event.type.value, event.order_id,
                    event.amount, event.currency, "declined", now))
                await enqueue(uow, OutboxMessage(
                    MessageKind.PAYMENT_DECLINED, order.customer_id, {"order": order.id}, now,
                    dedupe_key=dedupe_key("declined", event.provider, event.event_id)), now)
                await uow.commit()

        await self._retrying(attempt)
        return None

    async def refund_payment(self, message: OutboxMessage) -> None:
        """The outbox's delivery of a refund: through the provider that took the money,
        then recorded, and the passenger told. A refund already made is not made twice."""
        if self.gateway is None:
            raise Undeliverable("no payment provider is set up")
        data = message.payload
        provider_name, reference = str(data.get("provider")), str(data.get("reference"))
        amount, currency = int(data.get("amount", 0)), str(data.get("currency"))
        async with self._uow() as uow:
            payment = await uow.payments.find(provider_name, reference)
        if payment is None:
            raise Undeliverable(f"no payment {provider_name}:{reference}")
        if payment.status is PaymentStatus.REFUNDED:
            return
        try:
            provider = self.gateway.provider(provider_name)
        except LookupError as error:
            raise Undeliverable(str(error)) from error
        # The trip cancellation's notice said it already; a payment that came after the trip
        # was cancelled (reason trip_cancelled too) was told nothing yet.
        told = bool(data.get("told"))
        try:
            refund_id = await provider.refund(reference, amount, currency)
        except RefundByHand as instruction:
            await self._ask_for_refund_by_hand(message, payment.order_id, told=told)
            # The row stays as the record of a refund nobody has made yet (failed, with
            # the instruction), once staff have been asked and the passenger told.
            raise Undeliverable(str(instruction)) from instruction
        async with self._uow(write=True) as uow:
            now = self.now()
            if await uow.payments.mark_refunded(provider_name, reference, refund_id, amount,
                                                now) and not told:
                await enqueue(uow, _refund_notice(message, payment.order_id, now), now)
            await uow.commit()

    async def _ask_for_refund_by_hand(self, message: OutboxMessage, order_id: str, *,
                                      told: bool) -> None:
        """A refund the provider cannot make: every admin (every staff member, with no
        admin yet) is asked to make it in the provider's dashboard, and the passenger is
        told it will come, rather than that it is on its way."""
        data = message.payload
        provider, reference = str(data.get("provider")), str(data.get("reference"))
        async with self._uow(write=True) as uow:
            now = self.now()
            staff = await uow.customers.with_roles(STAFF_ROLES)
            admins = [c for c in staff if c.role is Role.ADMIN] or staff
            if not admins:
                log.error("refund of %s %s for order %s must be made by hand, and no staff "
                          "member has written to the bot to be asked", data.get("amount"),
                          data.get("currency"), order_id)
            for person in admins:
                await enqueue(uow, OutboxMessage(
                    MessageKind.REFUND_BY_HAND, person.id,
                    {"order": order_id, "amount": data.get("amount"),
                     "currency": data.get("currency"), "provider": provider,
                     "reference": reference}, now,
                    dedupe_key=dedupe_key("by_hand", provider, reference, person.id)), now)
            if not told:
                await enqueue(uow, _refund_notice(message, order_id, now, by_hand=True), now)
            await uow.commit()

    async def confirm_payment(
        self, order_id: str, reference: str, amount: int, currency: str, provider: str = "sandbox",
        *, event_type: str = PaymentEventType.SUCCEEDED.value, refuse_mismatch: bool = False,
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
            return await self._confirm_once(
                order_id, reference, amount, currency, provider, event_type, refuse_mismatch)

        return await self._retrying(attempt)

    async def _confirm_once(
        self, order_id: str, reference: str, amount: int, currency: str, provider: str,
        event_type: str, refuse_mismatch: bool,
    ) -> ConfirmResult:
        async with self._uow(write=True) as uow:
            # Same lock as holds, taken first: a late payment may claim seats back.
            trip = await uow.catalog.trip_of_order(order_id, lock=self.rules.lock_inventory)
            if trip is None:  # the order's foreign key leaves no other reason
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            # Read under the lock: the status may have changed while we waited.
            order = await uow.orders.get(order_id, lock=True)
            if order is None:
                raise BookingError(ErrorCode.UNKNOWN_ORDER)
            if refuse_mismatch:
                _check_amount(order, amount, currency)
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
            await uow.payments.add_event(PaymentEvent(
                provider, reference, event_type, order_id, amount, currency,
                reason.value if reason else "paid", now))
            if reason is None:
                order = await uow.orders.change_status(
                    order,
                    OrderStatus.PAID,
                    AuditEvent(order.id, now, order.status, OrderStatus.PAID, actor,
                               {"reference": reference, "amount": amount}),
                    seats_live=True,
                    payment_reference=reference,
                )
                await self._issue_tickets(uow, order, now)
                route = await uow.catalog.route(trip.route_id)
                await schedule_reminders(uow, order, trip.departs_at(route, order.from_seq),
                                         self.rules.reminders, now)
                outcome = ConfirmOutcome.PAID
            else:
                # The money goes back through the provider that took it, after the commit.
                await enqueue(uow, OutboxMessage(
                    MessageKind.REFUND, order.customer_id,
                    {"provider": provider, "reference": reference, "amount": amount,
                     "currency": currency, "reason": reason.value, "order": order_id}, now,
                    dedupe_key=dedupe_key("refund", provider, reference)), now)
                if order.status is OrderStatus.HELD and not order.hold_live(now):
                    order = await uow.orders.change_status(
                        order,
                        OrderStatus.EXPIRED,
                        AuditEvent(order.id, now, order.status, OrderStatus.EXPIRED, actor,
                                   {"reference": reference, "reason": reason.value}),
                        seats_live=False,
                    )
                outcome = ConfirmOutcome.REFUND_NEEDED
            # Paid now, its tickets issued above: none checked in. (A refund's order may
            # have been paid before, and boarded: read.)
            [view] = await order_views(uow, [order], now, known_trips=[trip],
                                       tickets_unused=reason is None)
            await uow.commit()
            return ConfirmResult(outcome, view, reason=reason)

    async def _issue_tickets(self, uow: UnitOfWork, order: Order, now: datetime) -> None:
        """One ticket per passenger, and their delivery after the commit."""
        await uow.tickets.add([
            Ticket(uuid.uuid4().hex, order.id, s.seat, s.passenger, TicketStatus.VALID, now)
            for s in order.seats
        ])
        await enqueue(uow, OutboxMessage(
            MessageKind.SEND_TICKETS, order.customer_id, {"order": order.id}, now,
            dedupe_key=f"tickets:{order.id}"), now)

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


def _check_amount(order: Order, amount: int, currency: str) -> None:
    """A provider event for another amount or currency than the order's is refused: a
    provider would not send it for our checkout, so it is investigated, not booked."""
    if amount != order.amount:
        raise BookingError(ErrorCode.AMOUNT_MISMATCH)
    if currency != order.currency:
        raise BookingError(ErrorCode.CURRENCY_MISMATCH)
