"""The outbox: one way out for every side effect of a booking change.

A change that must be followed by something outside its transaction (telling a person,
rendering a ticket, calling a provider) writes an outbox row in that same transaction.
After the commit a worker claims due rows, hands each to the deliverer of its kind, and
records it done, or due again later with back-off. A crash before the commit leaves no
row; a crash after it leaves a row that the next worker delivers: nothing is lost.

The worker (OutboxService.run) is a pipeline: it claims rows in batches (disjoint between
workers, see storage/outbox.py), delivers up to ``concurrency`` of them at once (the pacer,
booking/pacing.py, keeps the calls to Telegram within its limits), and records outcomes in
batches, each batch written as soon as the one before is committed (so the more it sends,
the more each transaction carries, and under light load an outcome waits for no other).

Nothing is repeated either, with one exception no outbox can close: a message Telegram
accepted whose outcome was not yet committed when the process died (SIGKILL, power loss).
Telegram takes no idempotency key, so that message is sent again when its claim lapses.
Those in doubt are at most the calls in flight plus the outcomes waiting for the
transaction being committed (milliseconds of sending). A stop asked for (SIGTERM, Ctrl-C)
loses and repeats nothing: no new delivery starts, those in flight finish, every outcome is
committed, and rows claimed but not started are given back due at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from booking import limits
from booking.clock import Clock, system_clock
from booking.model import Customer
from booking.pacing import DeliveryTicket, NotAttempted, current_ticket
from booking.ports import OutboxMessage, OutboxOutcome, UnitOfWork, UnitOfWorkFactory
from booking.settings import BookingRules
from booking.usecase import UseCases

log = logging.getLogger(__name__)


class MessageKind(StrEnum):
    HOLD_EXPIRED = "hold_expired"  # tell the passenger their hold ran out
    SAVE_PASSENGERS = "save_passengers"  # remember a booking's names for the next one
    SEND_TICKETS = "send_tickets"  # a paid order's e-tickets, in the chat
    PAYMENT_DECLINED = "payment_declined"  # the provider declined; the hold stays
    REFUND = "refund"  # give money back through the provider that took it
    REFUND_NOTICE = "refund_notice"  # tell the passenger the money is on its way back
    # A refund the provider cannot make itself (Telegram Payments): a staff member is asked
    # to make it by hand; payload {"order", "amount", "currency", "provider", "reference"}.
    REFUND_BY_HAND = "refund_by_hand"
    # A staff member's message to many passengers: payload {"broadcast_id": int, "text": str},
    # the text in Telegram's HTML formatting (checked by the broadcast's use case).
    BROADCAST = "broadcast"
    REMINDER = "reminder"  # before departure: payload {"order", "before_s"}
    TRIP_DELAYED = "trip_delayed"  # staff delayed the trip: payload {"trip", "minutes", "reason"}
    TRIP_CANCELLED = "trip_cancelled"  # ... cancelled it: {"order", "reason", "refund"}


class DeliveryStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt, or nothing can deliver it
    BLOCKED = "blocked"  # the person has blocked the bot


class RetryLater(Exception):
    """The delivery failed for now; ``after`` seconds is the earliest sensible retry.

    ``attempted=False``: the failure was no fault of the message (Telegram's flood control
    held it back), so it is due again after ``after`` exactly and uses none of its attempts.
    """

    def __init__(self, reason: str, after: float | None = None, *,
                 attempted: bool = True) -> None:
        super().__init__(reason)
        self.after = after
        self.attempted = attempted


class Undeliverable(Exception):
    """The message can never be delivered (the person blocked the bot, say)."""

    def __init__(self, reason: str, *, blocked: bool = False) -> None:
        super().__init__(reason)
        self.blocked = blocked


Deliverer = Callable[[OutboxMessage], Awaitable[None]]


def part_sent() -> None:
    """Count a part of the message being delivered as sent (a ticket set's card, one PDF):
    should a later part fail, the next attempt starts after it (``message.parts_sent``),
    instead of sending the person what they already have again. Outside a delivery (the
    tickets sent again from My tickets) there is nothing to count."""
    ticket = current_ticket.get()
    if ticket is not None:
        ticket.parts_sent += 1


MAX_ATTEMPTS = 6
CLAIM_BATCH = 100
MAX_CLAIM_BATCH = 1000
CLAIM_SECONDS = 3  # of sending at the configured rate, claimed at once
# A claimed row stays the claimer's this long; a worker that died releases it by expiry.
LEASE = timedelta(minutes=2)
# No call of a delivery starts this close to the end of its claim: more than a call to
# Telegram can take (PTB's timeouts are 5 s each for connecting, writing, reading), so
# a row is never being sent by the claimer when another worker may take it over.
LEASE_MARGIN = timedelta(seconds=30)
# Deliveries in flight at once, most of them waiting for their turn (booking/pacing.py).
# At 30 messages/s and Telegram's usual answer time (~50-300 ms) a dozen would do the
# sending; the rest keep the rate up while several rows for one chat wait out its
# one-second pacing (three messages each to consecutive chats need ~60 in flight).
CONCURRENCY = 100
BLOCKED_REASON = "the person has blocked the bot"
# Recording outcomes that failed (the database away for a moment) is tried again this often
# before the worker gives up; the rows then come back when their claims lapse.
RECORD_RETRIES = 5


def claim_batch(per_second: float | None) -> int:
    """Rows to claim at once when sending ``per_second`` (None: as fast as possible): what
    goes out in a few seconds, so a claim is never held long, and at full speed the
    largest batch, so claiming costs little per row."""
    if per_second is None:
        return MAX_CLAIM_BATCH
    return max(CLAIM_BATCH, min(MAX_CLAIM_BATCH, math.ceil(per_second * CLAIM_SECONDS)))


def backoff(attempts: int) -> timedelta:
    """5 s, 20 s, 45 s, 80 s, ... after the 1st, 2nd, ... failed attempt."""
    return timedelta(seconds=5 * attempts * attempts)


DEDUPE_KEY_LENGTH = 128  # outbox.dedupe_key


def dedupe_key(kind: str, *parts: object) -> str:
    """An outbox row's dedupe key: "kind:part:part". A provider's reference or event id may
    be 255 characters: a key that would be longer than the column is the kind and a hash of
    the whole, still one key per message and the same one every time."""
    key = ":".join([kind, *map(str, parts)])
    if len(key) <= DEDUPE_KEY_LENGTH:
        return key
    return f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def enqueue(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """Write ``message`` in the caller's transaction: it is delivered only if that commits."""
    await uow.outbox.add(message, now)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0
    released: int = 0  # claimed, then given back unsent (the worker was stopping)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.blocked + self.retried

    def add(self, other: DeliveryReport) -> None:
        for name in ("sent", "failed", "blocked", "retried", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How the worker claims and delivers; the defaults suit Telegram's 30 messages/s."""

    batch: int = CLAIM_BATCH  # rows claimed at once
    concurrency: int = CONCURRENCY
    lease: timedelta = LEASE
    lease_margin: timedelta = LEASE_MARGIN

    def __post_init__(self) -> None:
        limits.count(self.batch, "batch", MAX_CLAIM_BATCH)
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.lease_margin >= self.lease:
            raise ValueError("the lease margin must be shorter than the lease")


@dataclass(eq=False)
class _Run:
    """One run of the worker: what it was given, and what it has found out so far."""

    deliverers: Mapping[str, Deliverer]
    people: Collection[str]  # kinds that are messages to a person (not sent when blocked)
    concurrency: int
    # Set when no delivery may start any more: the worker was asked to stop, or outcomes
    # can no longer be recorded (what would be sent then could not be recorded either).
    halt: asyncio.Event = field(default_factory=asyncio.Event)
    report: DeliveryReport = field(default_factory=DeliveryReport)
    outcomes: list[OutboxOutcome] = field(default_factory=list)  # not yet recorded
    newly_blocked: set[int] = field(default_factory=set)  # a 403 said so; not yet recorded
    blocked: set[int] = field(default_factory=set)  # every recipient known blocked
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # outcomes to record
    finished: bool = False  # no more outcomes will come
    writing: bool = False  # the recorder is writing outcomes now
    written: asyncio.Event = field(default_factory=asyncio.Event)  # a write ended
    # A row was given back since the last claim (its claim would have lapsed while waiting):
    # once its release is written it is due again, and this run claims once more for it.
    released_since_claim: bool = False
    reclaimed: bool = False
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.concurrency)

    @property
    def stopping(self) -> bool:
        return self.halt.is_set()

    def add(self, outcome: OutboxOutcome) -> None:
        self.outcomes.append(outcome)
        self.ready.set()

    async def recorded(self) -> None:
        """Until every outcome so far is written (or the recorder gave up)."""
        while (self.outcomes or self.writing) and not self.halt.is_set():
            self.written.clear()
            await self.written.wait()


class OutboxService(UseCases):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        rules: BookingRules | None = None,
        clock: Clock = system_clock,
        options: WorkerOptions | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(uow, rules=rules, clock=clock)
        self.options = options or WorkerOptions()
        self._monotonic = monotonic  # the pacer's clock (booking.pacing), for deadlines

    async def deliver_due(
        self,
        deliverers: Mapping[str, Deliverer],
        *,
        limit: int = CLAIM_BATCH,
        people: Collection[str] = (),
        stop: asyncio.Event | None = None,
    ) -> DeliveryReport:
        """Claim one batch of due messages, deliver them, and record what happened."""
        limits.count(limit, "limit", MAX_CLAIM_BATCH)
        return await self._run(deliverers, people, stop, limit, once=True)

    async def run(
        self,
        deliverers: Mapping[str, Deliverer],
        *,
        people: Collection[str] = (),
        stop: asyncio.Event | None = None,
    ) -> DeliveryReport:
        """Deliver batch after batch until nothing is due, or until ``stop`` is set.

        ``people`` are the kinds that are messages to a person: those for someone who has
        blocked the bot are recorded blocked without being sent. When ``stop`` is set no
        delivery starts any more; those in flight finish, and every outcome is recorded
        before this returns.
        """
        return await self._run(deliverers, people, stop, self.options.batch, once=False)

    async def progress(self, broadcast_id: int) -> dict[str, int]:
        """How many of a broadcast's messages are pending, sent, failed and blocked."""
        async with self._uow() as uow:
            return await uow.outbox.progress(broadcast_id)

    # ---- the pipeline ---------------------------------------------------------------------

    async def _run(self, deliverers: Mapping[str, Deliverer], people: Collection[str],
                   stop: asyncio.Event | None, batch: int, *, once: bool) -> DeliveryReport:
        run = _Run(deliverers, frozenset(people), self.options.concurrency)
        if stop is not None and stop.is_set():
            return run.report
        watcher = asyncio.create_task(_relay(stop, run.halt)) if stop is not None else None
        recorder = asyncio.create_task(self._recorder(run))
        deliveries: set[asyncio.Task[None]] = set()
        try:
            await self._feed(run, deliveries, batch, once=once)
        finally:
            # Whatever ended the feeding, what was started finishes and is recorded.
            if deliveries:
                await asyncio.wait(deliveries)
            run.finished = True
            run.ready.set()
            try:
                await recorder
            finally:
                if watcher is not None:
                    watcher.cancel()
        return run.report

    async def _feed(self, run: _Run, deliveries: set[asyncio.Task[None]], batch: int, *,
                    once: bool) -> None:
        """Claim rows and start their deliveries, keeping between half a batch and a batch
        and a half claimed: the next batch is there before the last one runs dry."""
        stopped = asyncio.ensure_future(run.halt.wait())
        try:
            while not run.stopping:
                if len(deliveries) <= batch // 2:
                    # A delivery in flight may write rows (a refund its notice): if one
                    # finishes while the claim is under way, the claim may not have seen
                    # them, so only a claim made with none in flight says nothing is due.
                    in_flight = bool(deliveries)
                    claimed, deadline = await self._claim(run, batch)
                    for message in claimed:
                        task = asyncio.create_task(self._deliver(run, message, deadline))
                        deliveries.add(task)
                        task.add_done_callback(deliveries.discard)
                    if once or (not claimed and not in_flight):
                        if run.released_since_claim and not run.reclaimed:
                            # The given-back row is claimable once its release is written
                            # (the recorder writes it beside this loop, not before it).
                            await run.recorded()
                            run.reclaimed = True
                            continue
                        return
                    if not claimed:  # nothing due now: wait for what is in flight
                        if deliveries:
                            await asyncio.wait(list(deliveries))
                        continue
                waiting: set[asyncio.Future[Any]] = {*deliveries, stopped}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()

    async def _claim(self, run: _Run, limit: int) -> tuple[list[OutboxMessage], float]:
        """Claim due rows; those for people known to have blocked the bot are recorded
        blocked in the same transaction, unsent. Returns the rest and the moment (on the
        pacer's clock) after which none of their calls may start."""
        run.released_since_claim = False
        deadline = self._monotonic() + (self.options.lease - self.options.lease_margin
                                        ).total_seconds()
        now = self.now()
        async with self._uow(write=True) as uow:
            claimed = await uow.outbox.claim_due(now, limit, now + self.options.lease)
            recipients = {m.recipient for m in claimed
                          if m.kind in run.people and m.recipient is not None}
            blocked = await uow.customers.blocked_among(recipients) if recipients else set()
            skipped = [m for m in claimed if m.kind in run.people and m.recipient in blocked]
            if skipped:
                await uow.outbox.record([_blocked(m) for m in skipped], now)
            await uow.commit()
        run.blocked |= blocked
        run.report.blocked += len(skipped)
        skipped_ids = {m.id for m in skipped}
        return [m for m in claimed if m.id not in skipped_ids], deadline

    async def _deliver(self, run: _Run, message: OutboxMessage, deadline: float) -> None:
        async with run.slots:
            outcome = await self._attempt(run, message, deadline)
        if outcome.status == DeliveryStatus.SENT:
            run.report.sent += 1
        elif outcome.status == DeliveryStatus.BLOCKED:
            run.report.blocked += 1
        elif outcome.status == DeliveryStatus.FAILED:
            run.report.failed += 1
        elif outcome.attempted:
            run.report.retried += 1
        else:
            run.report.released += 1
            run.released_since_claim = True
        run.add(outcome)

    async def _attempt(self, run: _Run, message: OutboxMessage,
                       deadline: float) -> OutboxOutcome:
        """Deliver one message; its outcome, which never raises."""
        if message.id is None:  # claimed rows always carry their id
            raise ValueError("an outbox message without an id")
        if run.stopping:
            return OutboxOutcome(message.id, None, attempted=False)
        if message.kind in run.people and message.recipient in run.blocked:
            return _blocked(message)
        deliverer = run.deliverers.get(message.kind)
        if deliverer is None:
            return OutboxOutcome(message.id, DeliveryStatus.FAILED.value,
                                 f"nothing delivers {message.kind!r} messages")
        ticket = DeliveryTicket(deadline, run.halt, parts_sent=message.parts_sent)
        token = current_ticket.set(ticket)
        try:
            outcome = await self._outcome(run, message, message.id, deliverer, ticket)
        finally:
            current_ticket.reset(token)
        if outcome.status is None and ticket.parts_sent > message.parts_sent:
            return replace(outcome, parts_sent=ticket.parts_sent)
        return outcome

    async def _outcome(self, run: _Run, message: OutboxMessage, message_id: int,
                       deliverer: Deliverer, ticket: DeliveryTicket) -> OutboxOutcome:
        """What one call of the deliverer came to."""
        try:
            await deliverer(message)
        except NotAttempted as refusal:
            if ticket.calls == 0:
                return OutboxOutcome(message_id, None, attempted=False)
            return self._retry(message, str(refusal), None)
        except Undeliverable as refusal:
            if refusal.blocked:
                if message.recipient is not None:
                    run.blocked.add(message.recipient)
                    run.newly_blocked.add(message.recipient)
                return OutboxOutcome(message_id, DeliveryStatus.BLOCKED.value, str(refusal))
            return OutboxOutcome(message_id, DeliveryStatus.FAILED.value, str(refusal))
        except RetryLater as failure:
            if not failure.attempted:
                due = self.now() + timedelta(seconds=failure.after or 0)
                return OutboxOutcome(message_id, None, str(failure), due, attempted=False)
            return self._retry(message, str(failure), failure.after)
        except Exception as failure:  # a bug or an outage: retried, then given up, never lost
            log.exception("delivering outbox message %s (%s) failed", message.id, message.kind)
            return self._retry(message, f"{type(failure).__name__}: {failure}", None)
        return OutboxOutcome(message_id, DeliveryStatus.SENT.value)

    def _retry(self, message: OutboxMessage, error: str, after: float | None) -> OutboxOutcome:
        if message.id is None:
            raise ValueError("an outbox message without an id")
        if message.attempts + 1 >= MAX_ATTEMPTS:
            return OutboxOutcome(message.id, DeliveryStatus.FAILED.value, error)
        wait = backoff(message.attempts + 1)
        if after is not None:
            wait = max(wait, timedelta(seconds=after))
        return OutboxOutcome(message.id, None, error, self.now() + wait)

    async def _recorder(self, run: _Run) -> None:
        """Write outcomes as they come: all that arrived while the last write was being
        committed go in the next transaction (a group commit)."""
        try:
            while True:
                await run.ready.wait()
                run.ready.clear()
                outcomes, run.outcomes = run.outcomes, []
                blocked, run.newly_blocked = run.newly_blocked, set()
                if outcomes or blocked:
                    run.writing = True
                    try:
                        await self._record(outcomes, blocked)
                    finally:
                        run.writing = False
                run.written.set()
                if run.finished and not run.outcomes and not run.newly_blocked:
                    return
        except BaseException:
            # Nothing more can be recorded: start no more deliveries. Their rows, and those
            # whose outcomes were lost here, come back when their claims lapse.
            run.halt.set()
            run.written.set()
            raise

    async def _record(self, outcomes: list[OutboxOutcome], blocked: set[int]) -> None:
        for tries in range(RECORD_RETRIES + 1):
            try:
                async with self._uow(write=True) as uow:
                    await uow.outbox.record(outcomes, self.now())
                    for customer_id in sorted(blocked):  # a fixed order: no lock cycles
                        await _mark_blocked(uow, customer_id, self.now())
                    await uow.commit()
                return
            except Exception:
                if tries == RECORD_RETRIES:
                    raise
                log.warning("recording %d outbox outcomes failed; trying again",
                            len(outcomes), exc_info=True)
                await asyncio.sleep(0.2 * 2 ** tries)


async def _relay(stop: asyncio.Event, halt: asyncio.Event) -> None:
    await stop.wait()
    halt.set()


def _blocked(message: OutboxMessage) -> OutboxOutcome:
    if message.id is None:
        raise ValueError("an outbox message without an id")
    return OutboxOutcome(message.id, DeliveryStatus.BLOCKED.value, BLOCKED_REASON, attempted=False)


async def _mark_blocked(uow: UnitOfWork, customer_id: int, now: datetime) -> None:
    """Remember that the person blocked the bot (Telegram said 403), so nothing more is
    sent to them until they come back (handlers.lifecycle unblocks them)."""
    await uow.customers.add_if_missing(Customer.new(customer_id), now)
    customer = await uow.customers.get(customer_id, lock=True)
    if customer is not None and not customer.blocked:
        await uow.customers.update(customer.with_blocked(True))
