"""Making the services the handlers use, and the bot's scheduled jobs, from settings and a
database engine."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from booking.clock import Clock, system_clock
from booking.customers import CustomerService
from booking.outbox import OutboxService
from booking.service import BookingService
from bot.jobs import Jobs
from bot.settings import Settings
from handlers.context import Services
from storage.uow import SqlUnitOfWorkFactory


def create_services(settings: Settings, engine: AsyncEngine, *,
                    clock: Clock = system_clock) -> Services:
    """The booking and customer services on ``engine`` (stations load at Application start)."""
    uow = SqlUnitOfWorkFactory(engine)
    return Services(
        booking=BookingService(uow, rules=settings.booking_rules(), clock=clock),
        customers=CustomerService(uow, staff_ids=settings.staff_ids, clock=clock),
    )


def create_jobs(settings: Settings, engine: AsyncEngine, *, clock: Clock = system_clock) -> Jobs:
    """The outbox worker and the sweeps on ``engine``."""
    uow = SqlUnitOfWorkFactory(engine)
    rules = settings.booking_rules()
    return Jobs(
        outbox=OutboxService(uow, rules=rules, clock=clock),
        booking=BookingService(uow, rules=rules, clock=clock),
        customers=CustomerService(uow, staff_ids=settings.staff_ids, clock=clock),
    )
