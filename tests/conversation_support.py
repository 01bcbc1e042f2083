"""Helpers for the conversation tests: a running bot on a seeded database, and small readers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import BasePersistence

from booking.demo_network import demo_timetable
from booking.pacing import SendLimits
from booking.sandbox import SandboxProvider
from bot.app import build_application, prepare
from bot.emulator import BotApiEmulator, BotHarness, EmulatorRequest, SimulatedUser
from bot.jobs import Jobs
from bot.metrics import Metrics
from bot.services import create_jobs, create_services, sandbox_provider
from bot.settings import Settings
from handlers.context import Services, StationDirectory
from storage.timetable import store_timetable
from tests.booking_api_support import served_api

# How the bot reaches the booking service (the booking_transport fixture).
IN_PROCESS = "in-process"
HTTP = "http"


@dataclass
class Bot:
    harness: BotHarness
    services: Services  # what the handlers call: in-process, or the booking API's client
    emulator: BotApiEmulator
    jobs: Jobs
    sandbox: SandboxProvider
    backend: Services  # the in-process services on the database, behind the API if any

    async def run_jobs(self) -> None:
        """What the scheduler would do next: sweep expired holds, deliver the outbox."""
        await self.jobs.expire_holds()
        await self.jobs.deliver_outbox(self.harness.application)
        await self.jobs.count_down_held_cards(self.harness.application)

    def user(self, name: str = "Anna", language: str = "en", **kw: Any) -> SimulatedUser:
        return self.harness.user(name, language_code=language, **kw)


async def seed(engine: AsyncEngine, clock) -> None:
    await store_timetable(engine, demo_timetable(clock().date(), days=10))


@asynccontextmanager
async def running_bot(engine: AsyncEngine, clock, *, emulator: BotApiEmulator | None = None,
                      persistence: BasePersistence | None = None,
                      raise_errors: bool = True,
                      settings: Settings | None = None,
                      limits: SendLimits | None = None,
                      transport: str = IN_PROCESS,
                      metrics: Metrics | None = None) -> AsyncIterator[Bot]:
    """The whole bot on ``engine``; with ``transport="http"`` its handlers reach the booking
    service through the HTTP API (served on loopback) and its client. Everything counts
    into ``metrics`` when given."""
    emulator = emulator or BotApiEmulator()
    settings = settings or Settings(_env_file=None)
    sandbox = sandbox_provider(settings)
    backend = create_services(settings, engine, clock=clock, sandbox=sandbox, metrics=metrics)
    jobs = create_jobs(settings, engine, clock=clock, sandbox=sandbox, metrics=metrics)
    async with AsyncExitStack() as stack:
        services = backend
        if transport == HTTP:
            api = await stack.enter_async_context(
                served_api(engine, backend.booking, backend.customers))
            client = api.connect(clock)
            services = replace(backend, booking=client, customers=client,
                               directory=StationDirectory())
            stack.push_async_callback(services.close)
        elif transport != IN_PROCESS:
            raise ValueError(f"no transport {transport!r}")
        app = build_application(services, token=emulator.token,
                                request=EmulatorRequest(emulator), persistence=persistence,
                                limits=limits, metrics=metrics, engine=engine)
        harness = await stack.enter_async_context(
            BotHarness(app, emulator, raise_errors=raise_errors))
        await prepare(app)
        yield Bot(harness, services, emulator, jobs, sandbox, backend)


def texts_of(user: SimulatedUser) -> list[str]:
    return [m.visible_text for m in user.messages]


@asynccontextmanager
async def staff_bot(engine: AsyncEngine, clock, **settings: Any) -> AsyncIterator[Bot]:
    """The demo network seeded and the whole bot running, with settings such as
    ``staff_ids=[...]``, ``admin_ids=[...]`` or ``reminders="2h"``."""
    await seed(engine, clock)
    async with running_bot(engine, clock, settings=Settings(_env_file=None, **settings)) as bot:
        yield bot


async def pick_trip(member: SimulatedUser, command: str, day: date, route: str,
                    departure: datetime) -> None:
    """A staff command's trip picked as staff do it: ``/command <day>``, the route whose
    label starts with ``route``, the trip leaving at ``departure``."""
    await member.send(f"{command} {day.isoformat()}")
    await member.press(next(b for b in member.last_message.button_texts()
                            if b.startswith(f"{route} → ") or b.startswith(route)))
    await member.press(next(b for b in member.last_message.button_texts()
                            if b.startswith(f"{departure.hour}:{departure:%M}")))
