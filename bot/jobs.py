"""The bot's scheduled work, on python-telegram-bot's job queue (APScheduler underneath).

Delivering the outbox, sweeping expired holds, counting held cards down, refreshing the
station list: each job asks the database for its work, so a job that runs late or on
another instance loses nothing; and every instance runs every job, so each job's work is
claimed, never done twice:
  * the outbox worker claims rows (FOR UPDATE SKIP LOCKED on PostgreSQL, with a lease),
    and reminders are outbox rows;
  * the expiry sweep takes its holds FOR UPDATE SKIP LOCKED and changes each guarded on
    its status, so two sweeps split the work and one notice is written per hold;
  * the countdown edits a card in its person's turn (see count_down_held_cards);
  * the station list is each process's own copy, and a broadcast's progress card is
    edited only by the instance that started the broadcast (its job lives there).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram.ext import Application, CallbackContext, Job, JobQueue

from booking.customers import CustomerService
from booking.outbox import Deliverer, DeliveryReport, MessageKind, OutboxService
from booking.ports import OutboxMessage
from booking.service import BookingService
from bot.logs import task_ids
from bot.metrics import Metrics
from bot.persistence import DatabasePersistence
from bot.turns import turns_of
from handlers.context import Services
from handlers.countdown import HELD_STEP, STEP_PATH, held_flow, update_held_card
from handlers.notifications import TELEGRAM_DELIVERERS, telegram_deliverers

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

OUTBOX_INTERVAL_SECONDS = 1.0
# Availability never waits for the sweep (an expired hold stops counting at once); it only
# tidies statuses and tells passengers, which a minute's delay does not hurt.
EXPIRY_INTERVAL_SECONDS = 30.0
# The held card's countdown (5 min, 1 min, expired) is shown this late at most.
COUNTDOWN_INTERVAL_SECONDS = 15.0
# How long after a hold ends its card may still need its last edit: the sweep's and the
# countdown's intervals, with room to spare.
HELD_CARD_MARGIN = timedelta(minutes=5)
# A timetable import in another process may add or rename stations; the bot's copy of the
# station list (for buttons and for reading typed names) catches up within this time, and
# the minute the storage keeps the list it reads (storage/repositories.py).
STATION_REFRESH_SECONDS = 300.0


@dataclass
class Jobs:
    """The work the bot does on its own, on the booking database."""

    outbox: OutboxService
    booking: BookingService
    customers: CustomerService
    metrics: Metrics = field(default_factory=Metrics)
    # How much earlier than the last countdown run's start a row must have been written to
    # count as unchanged since: room for the other instances' clocks, which stamp the rows.
    written_margin: timedelta = timedelta(seconds=30)
    # Set when the bot is stopping: the outbox worker starts no delivery after it.
    stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    # One worker run at a time in a process (the scheduled one, or one the expiry sweep or
    # the demo asks for): they would only split the same rows between them.
    _outbox_turn: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    # The countdown's memory: when each person's held card could next need an edit, as
    # their last turn here found it (see count_down_held_cards), and when the last run began.
    _held_cards_due: dict[int, datetime | None] = field(default_factory=dict, init=False,
                                                        repr=False)
    _countdown_started: datetime | None = field(default=None, init=False, repr=False)

    @property
    def held_card_window(self) -> timedelta:
        """A held card counts down while its hold lasts, and says "expired" once the sweep
        has marked it: the person's data was last written when the hold was placed, or
        later."""
        return timedelta(minutes=self.booking.rules.hold_minutes) + HELD_CARD_MARGIN

    def deliverers(self, application: AnyApplication, services: Services) -> dict[str, Deliverer]:
        deliverers = telegram_deliverers(application.bot, services)
        deliverers[MessageKind.SAVE_PASSENGERS.value] = self.customers.deliver_saved_passengers
        deliverers[MessageKind.REFUND.value] = self.booking.refund_payment
        tickets = MessageKind.SEND_TICKETS.value
        deliverers[tickets] = self._then_show_paid(application, deliverers[tickets])
        return {kind: _with_log_ids(deliver) for kind, deliver in deliverers.items()}

    def _then_show_paid(self, application: AnyApplication, deliver: Deliverer) -> Deliverer:
        """The tickets, then the held card in the chat edited to say paid, at once rather
        than at the countdown's next step minutes later, in the person's turn as the
        countdown edits it."""

        async def delivering(message: OutboxMessage) -> None:
            await deliver(message)
            if message.recipient is None:
                return
            try:
                async with turns_of(application).turn(message.recipient) as mine:
                    if mine:
                        await update_held_card(application, message.recipient)
            except Exception:  # the tickets went: a failure here must not send them again
                log.exception("the held card was not edited after its payment")

        return delivering

    async def deliver_outbox(self, application: AnyApplication) -> DeliveryReport:
        """Deliver what is due now, batch after batch, until nothing due is left (or the
        bot is stopping: then what was started finishes and is recorded)."""
        services: Services = application.services  # type: ignore[attr-defined]
        deliverers = self.deliverers(application, services)
        # Messages to people (what the Telegram deliverers send): none is sent to someone
        # who has blocked the bot. A refund, say, is made all the same.
        people = {kind.value for kind in TELEGRAM_DELIVERERS}
        async with self._outbox_turn:
            if self.stopping.is_set():
                return DeliveryReport()
            report = await self.outbox.run(deliverers, people=people, stop=self.stopping)
        self.metrics.observe_deliveries(report)
        if report.handled or report.released:
            log.info("outbox: %d sent, %d blocked, %d failed, %d to retry, %d given back",
                     report.sent, report.blocked, report.failed, report.retried,
                     report.released)
        return report

    async def stop_outbox(self) -> None:
        """Stop the outbox worker: no new delivery starts; returns once those in flight
        are done and every outcome is recorded."""
        self.stopping.set()
        async with self._outbox_turn:
            pass

    async def expire_holds(self) -> int:
        return await self.booking.expire_holds()

    async def count_down_held_cards(self, application: AnyApplication) -> int:
        """Edit the held cards that have crossed a step; how many.

        Each card's person is taken as a turn (bot/turns.py) without waiting: a person whose
        turn is running here or on another instance is left for the next run, and the one
        instance that takes the turn reads whether the step was shown already. So with
        several instances every card is edited once per step.

        A turn costs a lock and reads (the person's data, their order), and most runs find
        nothing due: so a person is left alone while the last look here said nothing can
        be due yet and their data has not been written since (it is in the database, so
        a write by another instance counts too).
        """
        turns = turns_of(application)
        started = datetime.now(UTC)
        people, written = await self._people_with_held_cards(application)
        now = self.booking.now()
        due = self._held_cards_due
        for gone in due.keys() - set(people):
            del due[gone]
        edited = 0
        for person in people:
            if written is not None and person not in written and person in due:
                next_due = due[person]
                if next_due is None or next_due > now:
                    continue
            async with turns.turn(person, wait=False) as mine:
                if not mine:
                    due.pop(person, None)
                    continue
                look = await update_held_card(application, person)
            due[person] = look.next_due
            edited += look.edited
        self._countdown_started = started
        return edited

    async def _people_with_held_cards(
            self, application: AnyApplication) -> tuple[list[int], set[int] | None]:
        """The people with a held card, and those of them whose data was written since the
        last run started (None: not known, so any of them may have changed)."""
        persistence = application.persistence
        if isinstance(persistence, DatabasePersistence):
            # From the database, not this process's memory: a hold placed through another
            # instance (or one that has stopped) counts down all the same.
            since = datetime.now(UTC) - self.held_card_window
            people = await persistence.users_written_since(since, STEP_PATH, HELD_STEP)
            if self._countdown_started is None or not people:
                return people, None
            # Rows are stamped by their writer's clock: the margin is for other instances'.
            since = self._countdown_started - self.written_margin
            return people, set(await persistence.users_written_since(since, STEP_PATH,
                                                                     HELD_STEP))
        # Without a database persistence (tests) what there is is this process's copy.
        return [person for person, data in list(application.user_data.items())
                if held_flow(data) is not None], None

    def schedule(self, application: AnyApplication) -> None:
        queue = application.job_queue
        if queue is None:
            raise RuntimeError("the bot needs python-telegram-bot's job-queue extra")
        queue.run_repeating(self._outbox_job, OUTBOX_INTERVAL_SECONDS, first=0,
                            name="outbox", job_kwargs={"max_instances": 1, "coalesce": True})
        queue.run_repeating(self._expiry_job, EXPIRY_INTERVAL_SECONDS, first=0,
                            name="expire-holds", job_kwargs={"max_instances": 1,
                                                             "coalesce": True})
        queue.run_repeating(self._countdown_job, COUNTDOWN_INTERVAL_SECONDS, first=0,
                            name="held-cards", job_kwargs={"max_instances": 1,
                                                           "coalesce": True})
        queue.run_repeating(self._stations_job, STATION_REFRESH_SECONDS,
                            first=STATION_REFRESH_SECONDS, name="refresh-stations")

    async def _outbox_job(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        await self.deliver_outbox(context.application)

    async def _expiry_job(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        expired = await self.expire_holds()
        if expired:
            log.info("expired %d holds", expired)
            # The notices go out now, unless the worker is already running (a broadcast,
            # say): it takes them in its next batch, and the sweep does not wait for it.
            if not self._outbox_turn.locked():
                await self.deliver_outbox(context.application)

    async def _countdown_job(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        await self.count_down_held_cards(context.application)

    async def _stations_job(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        services: Services = context.application.services  # type: ignore[attr-defined]
        if await services.load_stations():
            log.info("station list changed; reloaded")


class JobQueueOwnIds(JobQueue[Any]):
    """PTB's job queue, each run of a job logging with no ids but those it binds itself.

    APScheduler runs a job as a task of its own, but that task copies the context of
    whoever woke the scheduler last: a job scheduled while an update was handled (a
    broadcast's progress card) would log that update's ids on every run, and so would the
    outbox job the same wake-up ran."""

    @staticmethod
    async def job_callback(job_queue: JobQueue[Any], job: Job[Any]) -> None:
        task_ids()
        await JobQueue.job_callback(job_queue, job)


def _with_log_ids(deliver: Deliverer) -> Deliverer:
    """The deliverer, with the message's person and order bound for the lines logged while
    it runs and after, by the worker, about its outcome. Each delivery is a task of its
    own (booking/outbox.py), so the ids end with it."""

    async def delivering(message: OutboxMessage) -> None:
        order = message.payload.get("order")
        task_ids(user_id=message.recipient, order_id=order if isinstance(order, str) else None)
        await deliver(message)

    return delivering
