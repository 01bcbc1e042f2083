"""Making the services the handlers use, from settings and a database engine."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from booking.customers import CustomerService
from booking.service import BookingService, Clock, system_clock
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
