"""Making the services the handlers use, and the bot's scheduled jobs, from settings and a
database engine."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncEngine

from booking.api import BookingApi, CustomersApi
from booking.broadcasts import BroadcastService
from booking.clock import Clock, system_clock
from booking.customers import CustomerService
from booking.http_client import HttpBookingClient
from booking.manifest import ManifestService
from booking.outbox import OutboxService
from booking.payments import PaymentGateway
from booking.roles import RoleService
from booking.sandbox import SandboxProvider
from booking.service import BookingService
from booking.staff_console import StaffConsole
from booking.stats import StatsService
from booking.telegram_payments import TelegramPaymentsProvider
from booking.ticketing import SignedTicketCodes
from booking.tickets.codes import TicketSigner, generate_signing_key, load_signing_key
from booking.trip_changes import TripChanges
from bot.jobs import Jobs
from bot.metrics import Metrics
from bot.observed import ObservedBookingService
from bot.settings import Settings
from handlers.context import Services
from storage.uow import SqlUnitOfWorkFactory


def secret(settings_value: object | None) -> bytes:
    """A secret from the settings, or a random one for this process (demo and tests: links
    and signatures then last as long as the process)."""
    value = getattr(settings_value, "get_secret_value", lambda: None)()
    return value.encode() if value else secrets.token_bytes(32)


def sandbox_provider(settings: Settings) -> SandboxProvider:
    return SandboxProvider(settings.public_url, secret(settings.secret_key),
                           secret(settings.payment_webhook_secret))


def ticket_codes(settings: Settings) -> SignedTicketCodes:
    """Ticket codes signed with KASSA_TICKET_SIGNING_KEY, or with a key made for this process
    (the demo and tests: its codes verify only while it runs)."""
    value = settings.ticket_signing_key
    text = value.get_secret_value() if value else generate_signing_key()
    return SignedTicketCodes(TicketSigner(load_signing_key(text)))


def payment_gateway(settings: Settings, sandbox: SandboxProvider) -> PaymentGateway:
    telegram = TelegramPaymentsProvider(settings.operator_name)
    return PaymentGateway({sandbox.name: sandbox, telegram.name: telegram},
                          default=settings.payment_provider)


def booking_service(settings: Settings, engine: AsyncEngine, *, clock: Clock = system_clock,
                    sandbox: SandboxProvider | None = None,
                    codes: SignedTicketCodes | None = None,
                    metrics: Metrics | None = None) -> BookingService:
    """The booking service in this process, on ``engine``, counting into ``metrics`` (a
    registry nobody reads, without)."""
    gateway = payment_gateway(settings, sandbox or sandbox_provider(settings))
    return ObservedBookingService(SqlUnitOfWorkFactory(engine), rules=settings.booking_rules(),
                                  clock=clock, gateway=gateway,
                                  codes=codes or ticket_codes(settings),
                                  metrics=metrics or Metrics())


def customer_service(settings: Settings, engine: AsyncEngine, *, clock: Clock = system_clock
                     ) -> CustomerService:
    return CustomerService(SqlUnitOfWorkFactory(engine), staff_ids=settings.staff_ids,
                           admin_ids=settings.admin_ids,
                           clock=clock)


def booking_client(settings: Settings, *, clock: Clock = system_clock) -> HttpBookingClient:
    """The booking service at KASSA_BOOKING_API_URL, with KASSA_BOOKING_API_TOKEN."""
    if not settings.booking_api_url:
        raise ValueError("KASSA_BOOKING_API_URL is not set")
    token = settings.booking_api_token
    if token is None or not token.get_secret_value().strip():
        raise ValueError("KASSA_BOOKING_API_TOKEN is not set (the booking API's token)")
    return HttpBookingClient(settings.booking_api_url, token.get_secret_value(), clock=clock)


def create_services(settings: Settings, engine: AsyncEngine, *,
                    clock: Clock = system_clock,
                    sandbox: SandboxProvider | None = None,
                    codes: SignedTicketCodes | None = None,
                    metrics: Metrics | None = None) -> Services:
    """The booking and customer services the handlers call: on ``engine`` in this process,
    or the separate booking service over HTTP when KASSA_BOOKING_API_URL is set (stations
    load, and the client connects, at Application start)."""
    booking: BookingApi
    customers: CustomersApi
    if settings.booking_api_url:
        booking = customers = booking_client(settings, clock=clock)
    else:
        booking = booking_service(settings, engine, clock=clock, sandbox=sandbox, codes=codes,
                                  metrics=metrics)
        customers = customer_service(settings, engine, clock=clock)
    return Services(
        booking=booking,
        customers=customers,
        console=StaffConsole(SqlUnitOfWorkFactory(engine), rules=settings.booking_rules(),
                             clock=clock),
        manifests=ManifestService(SqlUnitOfWorkFactory(engine), rules=settings.booking_rules(),
                                  clock=clock),
        broadcasts=BroadcastService(SqlUnitOfWorkFactory(engine),
                                    rules=settings.booking_rules(), clock=clock),
        trip_changes=TripChanges(SqlUnitOfWorkFactory(engine), rules=settings.booking_rules(),
                                 clock=clock),
        stats=StatsService(SqlUnitOfWorkFactory(engine), rules=settings.booking_rules(),
                           clock=clock),
        roles=RoleService(SqlUnitOfWorkFactory(engine), staff_ids=settings.staff_ids,
                          admin_ids=settings.admin_ids, clock=clock),
        telegram_payment_token=(settings.telegram_payment_token.get_secret_value()
                                if settings.telegram_payment_token else None),
        operator=settings.operator_name,
    )


def create_jobs(settings: Settings, engine: AsyncEngine, *, clock: Clock = system_clock,
                sandbox: SandboxProvider | None = None, metrics: Metrics | None = None) -> Jobs:
    """The outbox worker and the sweeps on ``engine``."""
    uow = SqlUnitOfWorkFactory(engine)
    rules = settings.booking_rules()
    gateway = payment_gateway(settings, sandbox or sandbox_provider(settings))
    metrics = metrics or Metrics()
    return Jobs(
        outbox=OutboxService(uow, rules=rules, clock=clock, options=settings.outbox_options()),
        booking=ObservedBookingService(uow, rules=rules, clock=clock, gateway=gateway,
                                       metrics=metrics),
        customers=CustomerService(uow, staff_ids=settings.staff_ids,
                                  admin_ids=settings.admin_ids, clock=clock),
        metrics=metrics,
    )
