"""What Kassa counts and logs at the edges of booking/ and of python-telegram-bot.

booking/ neither counts nor knows Prometheus (DESIGN.md's layers); the in-process booking
service is made as ObservedBookingService instead, which counts each use case's outcome as
it returns and logs it with the ids it concerns. When the bot talks to a separate booking
service over HTTP, that service's process counts (``kassa booking-api`` is made the same
way), so nothing is counted twice. Updates are timed and given their log ids by
ObservedApplication, the Application every run mode builds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import Update

from booking.errors import BookingError
from booking.ports import OutboxMessage
from booking.providers import Checkout
from booking.service import BookingService
from booking.views import ConfirmResult, OrderView
from bot.logs import log_ids, note_ids
from bot.metrics import Metrics
from handlers.context import KassaApplication

log = logging.getLogger(__name__)


class ObservedBookingService(BookingService):
    """The booking service, counting holds, payments, refunds and expiries."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

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
    ) -> OrderView:
        started = self.now()
        note_ids(user_id=customer_id)
        try:
            view = await super().hold(customer_id, trip_id, origin, destination, passengers,
                                      seats, request_key=request_key)
        except BookingError as refusal:
            self.metrics.holds_refused.labels(refusal.code.value).inc()
            # Counted, and logged only at debug: a sold-out trip refuses hundreds in a minute.
            log.debug("hold refused", extra={"reason": refusal.code.value, "trip_id": trip_id})
            raise
        note_ids(order_id=view.id)
        # A request key's replay answers with the order made before this call began.
        if view.created_at < started:
            log.info("hold replayed", extra={"trip_id": trip_id})
            return view
        self.metrics.holds_placed.inc()
        log.info("hold placed", extra={"trip_id": trip_id, "seats": len(view.seats),
                                       "amount": view.amount, "currency": view.currency})
        return view

    async def confirm_payment(self, *args: Any, **kwargs: Any) -> ConfirmResult:
        # Passed through whole: the arguments are payments.py's (being reworked for speed).
        order_id = kwargs.get("order_id", args[0] if args else None)
        note_ids(order_id=order_id)
        result = await super().confirm_payment(*args, **kwargs)
        note_ids(user_id=result.order.customer_id)
        outcome = "duplicate" if result.duplicate else result.outcome.value
        self.metrics.payments_confirmed.labels(outcome).inc()
        log.info("payment confirmed", extra={
            "outcome": outcome, "reason": result.reason.value if result.reason else None})
        return result

    async def refund_payment(self, message: OutboxMessage) -> None:
        await super().refund_payment(message)
        # A refund already recorded returns quietly too; that is a redelivery after a crash
        # between the refund's commit and its outbox row's, rare enough to count again.
        reason = str(message.payload.get("reason") or "unknown")
        self.metrics.payments_refunded.labels(reason).inc()
        log.info("payment refunded", extra={"reason": reason,
                                            "amount": message.payload.get("amount"),
                                            "currency": message.payload.get("currency")})

    async def expire_holds(self, *args: Any, **kwargs: Any) -> int:
        expired = await super().expire_holds(*args, **kwargs)
        if expired:
            self.metrics.holds_expired.inc(expired)
        return expired

    async def cancel(self, order_id: str, customer_id: int | None, *,
                     actor: str | None = None, hold_only: bool = False,
                     expect_refund: int | None = None) -> OrderView:
        note_ids(order_id=order_id)
        view = await super().cancel(order_id, customer_id, actor=actor, hold_only=hold_only,
                                    expect_refund=expect_refund)
        log.info("order cancelled", extra={"status": view.status.value,
                                           "refund_amount": view.refund_amount})
        return view

    async def start_payment(self, order_id: str, customer_id: int | None) -> Checkout:
        note_ids(order_id=order_id)
        return await super().start_payment(order_id, customer_id)


@dataclass
class _UpdateRun:
    failed: bool = False


# The update being handled in this task, so that process_error can mark it failed.
_current: ContextVar[_UpdateRun | None] = ContextVar("kassa_update_run", default=None)


class ObservedApplication(KassaApplication):
    """The Application: each update timed and counted by kind and outcome, and handled with
    its update_id and user_id bound for every line logged meanwhile."""

    __slots__ = ("metrics",)

    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    async def process_update(self, update: object) -> None:
        run = _UpdateRun()
        token = _current.set(run)
        started = time.perf_counter()
        try:
            if isinstance(update, Update):
                user = update.effective_user
                with log_ids(update_id=update.update_id, user_id=user.id if user else None):
                    await super().process_update(update)
            else:
                await super().process_update(update)
        except BaseException:
            run.failed = True
            raise
        finally:
            _current.reset(token)
            self.metrics.observe_update(update_kind(update), run.failed,
                                        time.perf_counter() - started)

    async def process_error(self, update: object | None, error: Exception,
                            job: Any = None, coroutine: Any = None) -> bool:
        # A handler raised: python-telegram-bot hands it here instead of to process_update.
        run = _current.get()
        if update is not None and run is not None:
            run.failed = True
        return await super().process_error(update, error, job, coroutine)


def update_kind(update: object) -> str:
    """The update's field that is set (message, callback_query, pre_checkout_query, ...)."""
    if isinstance(update, Update):
        for kind in Update.ALL_TYPES:
            if getattr(update, kind, None) is not None:
                return str(kind)
    return "other"
