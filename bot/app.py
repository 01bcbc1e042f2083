"""The Application factory: one place that wires settings, services, persistence and handlers."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import (
    Application,
    BasePersistence,
    ContextTypes,
    PersistenceInput,
)
from telegram.request import BaseRequest

from booking.pacing import Pacer, SendLimits
from booking.tickets.fonts import printable
from bot.jobs import JobQueueOwnIds
from bot.metrics import CountingRequest, Metrics
from bot.observed import ObservedApplication
from bot.persistence import DatabasePersistence
from bot.settings import CONCURRENT_UPDATES
from bot.telegram_request import AiohttpRequest, EditAnswersUnread
from bot.turns import TurnProcessor, Turns
from bot.webhook_reply import CarryingRequest
from handlers.command_menu import publish_default_menus, publish_menu
from handlers.context import KassaContext, Services
from handlers.rate_limiter import KassaRateLimiter
from handlers.registry import register_handlers
from storage.shared_locks import SharedLocks

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

def database_persistence(engine: AsyncEngine) -> BasePersistence[Any, Any, Any]:
    """Each person's data (their language, the booking flow) in the database, so a restart
    loses nothing. Kassa keeps nothing in chat_data or bot_data and sends no arbitrary
    callback data, so those are not stored (each would cost a read per update). The data
    is written at the end of each of the person's turns (bot/turns.py)."""
    return DatabasePersistence(
        engine,
        store_data=PersistenceInput(bot_data=False, chat_data=False, callback_data=False),
        user_data_in_turns=True,
    )


# Connections to the Bot API at once: several calls per update in flight, and the outbox.
BOT_API_CONNECTIONS = 64


def build_application(
    services: Services,
    *,
    token: str,
    persistence: BasePersistence[Any, Any, Any] | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    base_url: str | None = None,
    base_file_url: str | None = None,
    limits: SendLimits | None = None,
    metrics: Metrics | None = None,
    engine: AsyncEngine | None = None,
    concurrent_updates: int = CONCURRENT_UPDATES,
) -> AnyApplication:
    """The full bot. Tests and benchmarks pass an EmulatorRequest; production passes nothing.

    With ``limits`` the outbox's calls to Telegram are paced within them (Kassa's rate
    limiter, handlers/rate_limiter.py); without, nothing is paced (the demo, most tests).
    Updates and the messages sent are counted into ``metrics`` (a registry nobody reads,
    without). Updates are handled as their senders' turns (bot/turns.py),
    ``concurrent_updates`` people at once; on a PostgreSQL ``engine`` a person's turns are
    one at a time across every instance on that database, otherwise within this process.
    """
    metrics = metrics or Metrics()
    url = engine.url.render_as_string(hide_password=False) if engine is not None else None
    turns = Turns(SharedLocks(url, connections=concurrent_updates))
    builder = (
        Application.builder()
        .application_class(ObservedApplication,
                           kwargs={"services": services, "metrics": metrics})
        .context_types(ContextTypes(context=KassaContext))
        .token(token)
        .post_init(_post_init)
        .concurrent_updates(TurnProcessor(turns, concurrent_updates))
        .job_queue(JobQueueOwnIds())
    )
    if request is None:
        # PTB's default is httpx with one connection: every Bot API call of every update in
        # flight would queue behind the one before (see bot/telegram_request.py).
        request, updates_request = AiohttpRequest(BOT_API_CONNECTIONS), AiohttpRequest()
    # A pressed button's answer may ride in the webhook's answer (bot/webhook_reply.py);
    # an edit's answer is not parsed (bot/telegram_request.py).
    calls = CountingRequest(CarryingRequest(EditAnswersUnread(request)), metrics)
    builder = builder.request(calls).get_updates_request(updates_request or request)
    if base_url is not None:
        builder = builder.base_url(base_url)
    if base_file_url is not None:
        builder = builder.base_file_url(base_file_url)
    if persistence is not None:
        builder = builder.persistence(persistence)
    if limits is not None:
        builder = builder.rate_limiter(KassaRateLimiter(Pacer(limits)))
    application = builder.build()
    turns.bind(application)
    register_handlers(application)
    return application


async def _post_init(application: AnyApplication) -> None:
    await prepare(application)


async def prepare(application: AnyApplication) -> None:
    """Connect to the booking service, load the station catalogue and publish the command
    menu in every language.

    Run by polling and webhooks as post_init; the demo and tests call it themselves.
    """
    services: Services = application.services  # type: ignore[attr-defined]
    await services.open()
    await services.load_stations()
    # The ticket's fonts, read now off the event loop: the first name typed in Chinese asks
    # them whether it can be printed (booking/names.py), and reading them takes ~0.1 s.
    await asyncio.to_thread(printable, "中")
    await publish_default_menus(application.bot)
    for customer in await services.roles.settle_listed_roles():
        await publish_menu(application.bot, customer)

