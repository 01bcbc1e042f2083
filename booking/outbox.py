"""The outbox: one way out for every side effect of a booking change.

A change that must be followed by something outside its transaction (telling a person,
rendering a ticket, calling a provider) writes an outbox row in that same transaction.
After the commit a worker claims due rows, hands each to the deliverer of its kind, and
marks it done, or due again later with back-off. A crash before the commit leaves no row;
a crash after it leaves a row that the next worker delivers: nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from booking import limits
from booking.ports import OutboxMessage, UnitOfWork
from booking.usecase import UseCases

log = logging.getLogger(__name__)


class MessageKind(StrEnum):
    HOLD_EXPIRED = "hold_expired"  # tell the passenger their hold ran out
    SAVE_PASSENGERS = "save_passengers"  # remember a booking's names for the next one
    SEND_TICKETS = "send_tickets"  # a paid order's e-tickets, in the chat
    PAYMENT_DECLINED = "payment_declined"  # the provider declined; the hold stays
    REFUND = "refund"  # give money back through the provider that took it
    REFUND_NOTICE = "refund_notice"  # tell the passenger the money is on its way back


class DeliveryStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt, or nothing can deliver it
    BLOCKED = "blocked"  # the person has blocked the bot


class RetryLater(Exception):
    """The delivery failed for now; ``after`` seconds is the earliest sensible retry."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Undeliverable(Exception):
    """The message can never be delivered (the person blocked the bot, say)."""

    def __init__(self, reason: str, *, blocked: bool = False) -> None:
        super().__init__(reason)
        self.blocked = blocked


Deliverer = Callable[[OutboxMessage], Awaitable[None]]

MAX_ATTEMPTS = 6
CLAIM_BATCH = 100
MAX_CLAIM_BATCH = 1000
# A claimed row stays the claimer's this long; a worker that died releases it by expiry.
LEASE = timedelta(minutes=2)


def backoff(attempts: int) -> timedelta:
    """5 s, 20 s, 45 s, 80 s, ... after the 1st, 2nd, ... failed attempt."""
    return timedelta(seconds=5 * attempts * attempts)


async def enqueue(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """Write ``message`` in the caller's transaction: it is delivered only if that commits."""
    await uow.outbox.add(message, now)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.blocked + self.retried


class OutboxService(UseCases):
    async def deliver_due(
        self, deliverers: Mapping[str, Deliverer], *, limit: int = CLAIM_BATCH
    ) -> DeliveryReport:
        """Claim the due messages and deliver each; the report counts what happened."""
        limits.count(limit, "limit", MAX_CLAIM_BATCH)
        now = self.now()
        async with self._uow(write=True) as uow:
            claimed = await uow.outbox.claim_due(now, limit, now + LEASE)
            await uow.commit()
        report = DeliveryReport()
        for message in claimed:
            await self._deliver(message, deliverers.get(message.kind), report)
        return report

    async def _deliver(
        self, message: OutboxMessage, deliverer: Deliverer | None, report: DeliveryReport
    ) -> None:
        if message.id is None:  # claimed rows always carry their id
            raise ValueError("an outbox message without an id")
        status: DeliveryStatus | None = DeliveryStatus.SENT
        error: str | None = None
        retry_at: datetime | None = None
        try:
            if deliverer is None:
                raise Undeliverable(f"nothing delivers {message.kind!r} messages")
            await deliverer(message)
        except Undeliverable as refusal:
            status = DeliveryStatus.BLOCKED if refusal.blocked else DeliveryStatus.FAILED
            error = str(refusal)
        except RetryLater as failure:
            status, error = None, str(failure)
            wait = backoff(message.attempts + 1)
            if failure.after is not None:
                wait = max(wait, timedelta(seconds=failure.after))
            retry_at = self.now() + wait
        except Exception as failure:  # a bug or an outage: retried, then given up, never lost
            log.exception("delivering outbox message %s (%s) failed", message.id, message.kind)
            status, error = None, f"{type(failure).__name__}: {failure}"
            retry_at = self.now() + backoff(message.attempts + 1)
        if status is None and message.attempts + 1 >= MAX_ATTEMPTS:
            status = DeliveryStatus.FAILED
        async with self._uow(write=True) as uow:
            if status is None and retry_at is not None:
                await uow.outbox.retry_later(message.id, retry_at, error or "")
                report.retried += 1
            elif status is not None:
                await uow.outbox.mark_done(message.id, status.value, self.now(), error)
                if status is DeliveryStatus.SENT:
                    report.sent += 1
                elif status is DeliveryStatus.BLOCKED:
                    report.blocked += 1
                else:
                    report.failed += 1
            await uow.commit()
