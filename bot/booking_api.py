"""`kassa booking-api`: the booking service on its own, as JSON over HTTP (booking/http_api.py).

It owns the database: the bot then talks to it with KASSA_BOOKING_API_URL and
KASSA_BOOKING_API_TOKEN. It listens on loopback unless told otherwise, since the token is
its only guard: put TLS in front of it before it leaves the machine. SIGTERM or Ctrl-C
stops taking requests, lets those in flight finish, and exits 0 with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TextIO

from booking.clock import Clock
from booking.idempotency import KEPT_FOR, IdempotencyStore
from booking.tickets.fonts import printable
from bot import event_loop, heap
from bot.settings import Settings

log = logging.getLogger(__name__)

# How long a request in flight may take to finish after a stop.
SHUTDOWN_SECONDS = 5.0
# How often answers kept for Idempotency-Key replays are swept.
PURGE_EVERY_SECONDS = 3600.0


def api_token(settings: Settings) -> str | None:
    token = settings.booking_api_token
    value = token.get_secret_value().strip() if token is not None else ""
    return value or None


async def serve(settings: Settings, host: str, port: int, out: TextIO = sys.stdout,
                *, pool_size: int = 20) -> int:
    from aiohttp import web

    from booking.http_api import make_booking_api
    from bot.metrics import Metrics, observe_web_app, watch_outbox
    from bot.polling import SettingsProblem, check_secrets, secret_problem
    from bot.services import booking_service, customer_service
    from bot.startup import CannotStart, listen, require_current_schema
    from storage.database import create_engine
    from storage.idempotency import SqlIdempotencyStore

    token = api_token(settings)
    problem = secret_problem("KASSA_BOOKING_API_TOKEN", settings.booking_api_token,
                             "any long random text; the bot is given the same")
    if token is None or problem:
        print(f"kassa booking-api: {problem}", file=sys.stderr)
        return 2
    try:
        # Its payment links, payment events and ticket codes must be the bot's: a key made
        # for this process would leave every ticket "forged" after a restart.
        check_secrets(settings)
    except SettingsProblem as problem:
        print(f"kassa booking-api: {problem}", file=sys.stderr)
        return 2
    try:
        await require_current_schema(settings.database_url)
    except CannotStart as failure:
        print(f"kassa booking-api: {failure}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url, pool_size=pool_size)
    store = SqlIdempotencyStore(engine)
    metrics = Metrics()
    # The outbox is the database's, whichever process scrapes it: its gauges would read a
    # constant 0 here otherwise.
    watch_outbox(metrics, engine)
    booking = booking_service(settings, engine, metrics=metrics)
    # One worker per database connection the engine may open (storage/database.py).
    app = make_booking_api(booking, customer_service(settings, engine), token=token,
                           idempotency=store, workers=2 * pool_size)
    # /metrics sits behind the API's bearer token like every operation but the document:
    # the token is this service's only guard (Prometheus sends it with `authorization`).
    observe_web_app(app, metrics)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    purging: asyncio.Task[None] | None = None
    try:
        # The ticket's fonts, read before the first request: a name in Chinese asks them
        # whether it can be printed (booking/names.py), and reading them takes ~0.1 s.
        await asyncio.to_thread(printable, "中")
        await runner.setup()
        await listen(web.TCPSite(runner, host, port), host, port)
        heap.settle()
        bound = runner.addresses[0][1]
        print(f"kassa booking-api: listening on http://{host}:{bound}/v1", file=out, flush=True)
        purging = asyncio.create_task(_purge_kept_answers(store, booking.now))
        await stop.wait()
    except CannotStart as failure:
        print(f"kassa booking-api: {failure}", file=sys.stderr)
        return 2
    finally:
        if purging is not None:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
        # Stops listening, then waits for the requests in flight.
        await runner.cleanup()
        await engine.dispose()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print("kassa booking-api: stopped", file=out, flush=True)
    return 0


async def _purge_kept_answers(store: IdempotencyStore, now: Clock) -> None:
    while True:
        try:
            purged = await store.purge(now() - KEPT_FOR)
            if purged:
                log.info("forgot %d idempotency keys", purged)
        except Exception:  # the database away for a moment: the next sweep catches up
            log.exception("purging idempotency keys failed")
        await asyncio.sleep(PURGE_EVERY_SECONDS)


def run(settings: Settings, host: str, port: int, out: TextIO = sys.stdout, *,
        pool_size: int = 20) -> int:
    from bot.logs import configure

    configure(settings.log_format or "json", level=settings.log_level.upper())
    try:
        return event_loop.run(serve(settings, host, port, out, pool_size=pool_size),
                              settings.event_loop)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before the server took them over
        print("kassa booking-api: stopped", file=out, flush=True)
        return 0
