"""Settings from the environment (and .env), all prefixed KASSA_."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from booking.model import RefundPolicy
from booking.outbox import LEASE, LEASE_MARGIN, WorkerOptions, claim_batch
from booking.pacing import TELEGRAM_CHAT_INTERVAL_SECONDS, TELEGRAM_MESSAGES_PER_SECOND, SendLimits
from booking.reminders import parse_reminders
from booking.settings import BookingRules
from bot.event_loop import EventLoopName
from bot.logs import LogFormat

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///kassa.db"
# The URL schemes Kassa reads, each to the async driver it runs with.
ASYNC_DRIVERS = {
    "postgresql+asyncpg": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite+aiosqlite": "sqlite+aiosqlite", "sqlite": "sqlite+aiosqlite",
}
# Updates one instance handles at once (different people's; one person's wait in line). On
# PostgreSQL each holds a connection of its own for the person's advisory lock, beside the
# work's pool: two instances take 2 x (16 + 4) + 2 x 20 connections at most, within
# PostgreSQL's default max_connections of 100.
CONCURRENT_UPDATES = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KASSA_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    telegram_token: SecretStr | None = None
    staff_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    payment_provider: str = "sandbox"
    payment_webhook_secret: SecretStr | None = None
    telegram_payment_token: SecretStr | None = None
    telegram_api_url: str | None = None
    operator_name: str = "Kassa Coaches"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    secret_key: SecretStr | None = None
    ticket_signing_key: SecretStr | None = None
    scanner_token: SecretStr | None = None
    hold_minutes: int = Field(default=15, ge=1, le=24 * 60)
    max_seats: int = Field(default=9, ge=1, le=50)
    max_live_holds: int = Field(default=3, ge=0, le=1000)  # unpaid holds a customer; 0: no cap
    refund_policy: str = "24:100,2:50"
    reminders: str = "24h,2h"  # before departure; "" sends none
    booking_api_url: str | None = None
    booking_api_token: SecretStr | None = None
    # Telegram's limits, held by Kassa (booking/pacing.py): messages a second overall and
    # seconds between messages to one chat; 0 lifts a limit (benchmarks and tests only).
    send_rate: float = Field(default=TELEGRAM_MESSAGES_PER_SECOND, ge=0)
    chat_send_interval: float = Field(default=TELEGRAM_CHAT_INTERVAL_SECONDS, ge=0)
    concurrent_updates: int = Field(default=CONCURRENT_UPDATES, ge=1, le=256)
    # How long a worker owns the outbox rows it claimed; one that died gives them up then.
    outbox_lease_seconds: float = Field(default=LEASE.total_seconds(), ge=1, le=3600)
    # How log lines look on stderr: json (one object a line) or console (for a person);
    # unset, json for kassa run, webhook and booking-api, console for the demo.
    log_format: LogFormat | None = None
    # The least severe lines written: debug adds each refused hold, warning leaves out the
    # orders' events (a benchmark's service, say). The demo shows warnings and worse.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The servers' event loop (bot/event_loop.py): uvloop, or asyncio's own.
    event_loop: EventLoopName = "uvloop"

    @field_validator("staff_ids", "admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept "1,2,3" as well as a list."""
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            wrong = [part for part in parts if part and not part.isdecimal()]
            if wrong:
                raise ValueError(f"{wrong[0]!r} is not a Telegram user id: give numbers "
                                 "separated by commas, like 12345,67890")
            return [int(part) for part in parts if part]
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """The URL with the driver Kassa runs on: postgresql:// (as most hosts give it) is
        postgresql+asyncpg://, sqlite:/// is sqlite+aiosqlite:///; another database, or
        another driver, is refused here rather than by a traceback from the first query."""
        scheme, separator, rest = value.strip().partition("://")
        if not separator:
            raise ValueError(f"{value!r} is not a database URL, like "
                             "postgresql+asyncpg://user@host/db or sqlite+aiosqlite:///kassa.db")
        driver = ASYNC_DRIVERS.get(scheme.lower())
        if driver is None:
            raise ValueError(f"Kassa runs on PostgreSQL (postgresql+asyncpg://...) or SQLite "
                             f"(sqlite+aiosqlite:///...), not {scheme}://")
        return f"{driver}://{rest}"

    @field_validator("reminders")
    @classmethod
    def _check_reminders(cls, value: str) -> str:
        parse_reminders(value)
        return value

    @field_validator("refund_policy")
    @classmethod
    def _check_policy(cls, value: str) -> str:
        RefundPolicy.parse(value)
        return value

    def send_limits(self) -> SendLimits:
        return SendLimits(per_second=self.send_rate or None,
                          chat_interval=self.chat_send_interval)

    def outbox_options(self) -> WorkerOptions:
        lease = timedelta(seconds=self.outbox_lease_seconds)
        # A short lease (a test's) keeps a quarter of it as the margin no call starts in.
        return WorkerOptions(batch=claim_batch(self.send_rate or None), lease=lease,
                             lease_margin=min(LEASE_MARGIN, lease / 4))

    def booking_rules(self) -> BookingRules:
        return BookingRules(
            hold_minutes=self.hold_minutes,
            max_seats_per_order=self.max_seats,
            max_live_holds=self.max_live_holds or None,
            refund_policy=RefundPolicy.parse(self.refund_policy),
            reminders=parse_reminders(self.reminders),
        )
