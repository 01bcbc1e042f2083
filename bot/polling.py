"""`kassa run` and `kassa webhook`: the bot on Telegram (by long polling, or taking updates
at a secret path of the web server) and Kassa's web server, in one process.

Start-up checks the settings first and names exactly the one that is missing or wrong.
SIGTERM or Ctrl-C stops taking updates, lets the ones in flight finish, stops the web
server and the jobs, and exits 0 with one line.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from typing import TextIO

from pydantic import SecretStr

from bot import event_loop, heap
from bot.settings import Settings

log = logging.getLogger(__name__)

# How long the web server gives a request in flight to finish after a stop.
WEB_SHUTDOWN_SECONDS = 5.0


class SettingsProblem(Exception):
    """A setting that stops Kassa from starting; the message names it."""


@dataclass(frozen=True)
class RunSettings:
    token: str
    api_url: str | None


def check_settings(settings: Settings) -> RunSettings:
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    if not token.strip():
        raise SettingsProblem("KASSA_TELEGRAM_TOKEN is not set (the bot's token from @BotFather)")
    if ":" not in token or any(c.isspace() for c in token):
        raise SettingsProblem("KASSA_TELEGRAM_TOKEN does not look like a bot token "
                              "(<digits>:<letters>)")
    if not settings.public_url.startswith(("http://", "https://")):
        raise SettingsProblem("KASSA_PUBLIC_URL must start with http:// or https://")
    api_url = settings.telegram_api_url
    if api_url is not None and not api_url.startswith(("http://", "https://")):
        raise SettingsProblem("KASSA_TELEGRAM_API_URL must start with http:// or https://")
    booking_api = settings.booking_api_url
    if booking_api is not None:
        if not booking_api.startswith(("http://", "https://")):
            raise SettingsProblem("KASSA_BOOKING_API_URL must start with http:// or https://")
        problem = secret_problem("KASSA_BOOKING_API_TOKEN", settings.booking_api_token,
                                 "the token the booking API was started with")
        if problem:
            raise SettingsProblem(problem)
    if settings.payment_provider not in ("sandbox", "telegram"):
        raise SettingsProblem(f"KASSA_PAYMENT_PROVIDER={settings.payment_provider!r}: use "
                              "sandbox or telegram")
    payment_token = settings.telegram_payment_token
    if settings.payment_provider == "telegram" and (
            payment_token is None or not payment_token.get_secret_value().strip()):
        raise SettingsProblem("KASSA_TELEGRAM_PAYMENT_TOKEN is not set (the provider token "
                              "from @BotFather, needed with KASSA_PAYMENT_PROVIDER=telegram)")
    check_secrets(settings)
    return RunSettings(token, api_url.rstrip("/") if api_url else None)


# A shared secret shorter than this is a password someone chose, not a random text.
MIN_SECRET_CHARACTERS = 16


def secret_problem(env_name: str, value: SecretStr | None, hint: str) -> str | None:
    """What is wrong with a shared secret (unset, or too short to be random), if anything."""
    text = value.get_secret_value().strip() if value is not None else ""
    if not text:
        return f"{env_name} is not set ({hint})"
    if len(text) < MIN_SECRET_CHARACTERS:
        return (f"{env_name} is too short: use at least {MIN_SECRET_CHARACTERS} random "
                "characters (openssl rand -hex 32 makes one)")
    return None


def check_secrets(settings: Settings) -> None:
    """The secrets every process that signs or checks links, payments and tickets needs: the
    same in every instance and in the booking API, so that what one signed another accepts
    (the demo and the tests alone make throwaway ones, bot/services.py)."""
    for name in ("secret_key", "payment_webhook_secret"):
        problem = secret_problem(f"KASSA_{name.upper()}", getattr(settings, name),
                                 "any long random text")
        if problem:
            raise SettingsProblem(problem)
    key = settings.ticket_signing_key
    if key is None or not key.get_secret_value().strip():
        raise SettingsProblem("KASSA_TICKET_SIGNING_KEY is not set (make one with "
                              "`kassa keygen`)")
    from booking.tickets.codes import SigningKeyError, load_signing_key

    try:
        load_signing_key(key.get_secret_value())
    except SigningKeyError as error:
        raise SettingsProblem(str(error)) from None


async def serve(settings: Settings, run: RunSettings, out: TextIO, *,
                webhook: bool = False) -> int:
    from aiohttp import web
    from sqlalchemy.exc import SQLAlchemyError
    from telegram import Update

    from booking.errors import BookingError
    from booking.tickets.codes import public_key_pem
    from bot.app import BOT_API_CONNECTIONS, build_application, database_persistence, prepare
    from bot.metrics import Metrics, watch_outbox
    from bot.services import create_jobs, create_services, sandbox_provider, ticket_codes
    from bot.startup import (
        CannotStart,
        listen,
        reach_telegram,
        require_current_schema,
        unreachable_database,
    )
    from bot.telegram_request import AiohttpRequest
    from bot.web import make_web_app
    from storage.database import create_engine

    command = "kassa webhook" if webhook else "kassa run"
    try:
        await require_current_schema(settings.database_url)
    except CannotStart as failure:
        print(f"{command}: {failure}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    metrics = Metrics()
    watch_outbox(metrics, engine)
    sandbox = sandbox_provider(settings)
    codes = ticket_codes(settings)
    services = create_services(settings, engine, sandbox=sandbox, codes=codes, metrics=metrics)
    jobs = create_jobs(settings, engine, sandbox=sandbox, metrics=metrics)
    base_url = f"{run.api_url}/bot" if run.api_url else None
    file_url = f"{run.api_url}/file/bot" if run.api_url else None
    # Made here, not by build_application, to be closed even when the Bot never started.
    request, updates_request = AiohttpRequest(BOT_API_CONNECTIONS), AiohttpRequest()
    application = build_application(services, token=run.token, base_url=base_url,
                                    request=request, updates_request=updates_request,
                                    base_file_url=file_url,
                                    persistence=database_persistence(engine),
                                    limits=settings.send_limits(), metrics=metrics,
                                    engine=engine,
                                    concurrent_updates=settings.concurrent_updates)
    scanner = settings.scanner_token.get_secret_value() if settings.scanner_token else None
    web_app = make_web_app(services, sandbox, settings.operator_name,
                           public_key_pem=public_key_pem(codes.signer.public_key),
                           scanner_token=scanner, metrics=metrics)
    receiver = None
    if webhook:
        from bot.services import secret
        from bot.webhook import UpdateReceiver, readiness_route

        receiver = UpdateReceiver(application, engine, secret(settings.secret_key))
        receiver.add_routes(web_app)
        readiness_route(web_app, settings.database_url)
    web_runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=WEB_SHUTDOWN_SECONDS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def start() -> str:
        await reach_telegram(application.initialize(), run.token)
        try:
            await reach_telegram(prepare(application), run.token)
        except BookingError as error:  # only the booking service over HTTP says so here
            raise CannotStart(f"the booking service at {settings.booking_api_url} does not "
                              f"answer ({error.code.value})") from None
        jobs.schedule(application)
        await web_runner.setup()
        await listen(web.TCPSite(web_runner, settings.http_host, settings.http_port),
                     settings.http_host, settings.http_port)
        await application.start()
        if receiver is not None:
            await reach_telegram(application.bot.set_webhook(
                settings.public_url.rstrip("/") + receiver.path,
                secret_token=receiver.secret_token, allowed_updates=Update.ALL_TYPES),
                run.token)
            if application.job_queue is not None:
                application.job_queue.run_repeating(receiver.prune, interval=3600, first=60)
            return "webhook"
        if application.updater is None:
            raise RuntimeError("polling needs an Updater")
        await reach_telegram(application.updater.start_polling(drop_pending_updates=False),
                             run.token)
        return "polling"

    try:
        try:
            mode = await start()
        except (OSError, SQLAlchemyError) as error:
            raise unreachable_database(settings.database_url, error) from None
        heap.settle()
        print(f"kassa: {mode}; web server on http://{settings.http_host}:"
              f"{settings.http_port}", file=out, flush=True)
        await stop.wait()
    except CannotStart as failure:
        print(f"{command}: {failure}", file=sys.stderr)
        return 2
    finally:
        # Stop taking updates first (in webhook mode the path answers 503, and the web
        # server lets the requests in flight finish); the Application then finishes those
        # in flight. The outbox worker finishes the deliveries it started and records every
        # outcome (the rows it claimed but did not start are given back), so a stop
        # repeats nothing.
        if receiver is not None:
            receiver.stopping = True
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        await jobs.stop_outbox()
        if application.running:
            await application.stop()
        await web_runner.cleanup()
        await application.shutdown()
        for made in (request, updates_request):  # the Bot closes them only if it started
            await made.shutdown()
        await services.close()
        await engine.dispose()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print("kassa: stopped", file=out, flush=True)
    return 0


def run(settings: Settings, out: TextIO = sys.stdout, *, webhook: bool = False) -> int:
    command = "kassa webhook" if webhook else "kassa run"
    try:
        checked = check_settings(settings)
        if webhook and not settings.public_url.startswith("https://") \
                and checked.api_url is None:
            raise SettingsProblem("KASSA_PUBLIC_URL must be https:// for Telegram to deliver "
                                  "updates to it")
    except SettingsProblem as problem:
        print(f"{command}: {problem}", file=sys.stderr)
        return 2
    from bot.logs import configure

    configure(settings.log_format or "json", level=settings.log_level.upper())
    try:
        return event_loop.run(serve(settings, checked, out, webhook=webhook),
                              settings.event_loop)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before the server took them over
        print("kassa: stopped", file=out, flush=True)
        return 0
