"""Signed payment webhooks per second, beside the hold rate measured in the same run.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/tickets.py

(a) ``clients`` concurrent clients place holds (BookingService.hold, 1-2 passengers, random
    segment) for ``seconds``: holds/s, as bench/holds.py part (a) measures it.
(b) every order held in (a) is paid by the sandbox's signed webhook, POSTed over loopback
    HTTP to Kassa's web server by ``clients`` concurrent clients of another process (as a
    provider calls from its own machines; bench/webhook_sender.py): each confirmation checks
    the signature, locks the trip, records the payment and its event, moves the order to
    paid, issues its tickets and writes their delivery, in one transaction. Confirmations/s,
    p50/p99, and the ratio to (a) (target >= 0.5).
Works on a throwaway database beside the one named (bench/common.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import database_url_from_env, fresh_database, percentile
from bench.holds import NAMES, build_network, random_segment
from booking import sandbox
from booking.broadcasts import BroadcastService
from booking.customers import CustomerService
from booking.errors import BookingError
from booking.manifest import ManifestService
from booking.payments import PaymentGateway
from booking.providers import PaymentEventType
from booking.roles import RoleService
from booking.sandbox import SandboxProvider
from booking.service import BookingService
from booking.staff_console import StaffConsole
from booking.stats import StatsService
from booking.ticketing import SignedTicketCodes
from booking.tickets.codes import TicketSigner, generate_signing_key, load_signing_key
from booking.trip_changes import TripChanges
from booking.views import OrderView
from bot.web import make_web_app
from handlers.context import Services
from storage.database import create_engine, is_sqlite
from storage.uow import SqlUnitOfWorkFactory

WEBHOOK_RATIO_TARGET = 0.5


async def webhook_figures(clients: int = 32, seconds: float = 8.0) -> dict[str, Any]:
    url = database_url_from_env()
    if is_sqlite(url):
        print("webhooks: skipped (the figure is for PostgreSQL; set KASSA_DATABASE_URL)")
        return {}
    async with fresh_database(url, "webhooks") as fresh:
        engine = create_engine(fresh, pool_size=clients + 8)
        try:
            return await _measure(engine, clients, seconds)
        finally:
            await engine.dispose()


async def _measure(engine: Any, clients: int, seconds: float) -> dict[str, Any]:
    network = await build_network(engine, trips=600)
    uow = SqlUnitOfWorkFactory(engine)
    provider = SandboxProvider("http://127.0.0.1", b"bench-secret", b"bench-webhook-secret")
    codes = SignedTicketCodes(TicketSigner(load_signing_key(generate_signing_key())))
    booking = BookingService(uow, gateway=PaymentGateway({provider.name: provider}, "sandbox"),
                             codes=codes)
    services = Services(booking=booking, customers=CustomerService(uow),
                        console=StaffConsole(uow), roles=RoleService(uow),
                        manifests=ManifestService(uow), stats=StatsService(uow),
                        broadcasts=BroadcastService(uow),
                        trip_changes=TripChanges(uow))

    held: list[OrderView] = []

    async def hold_client(n: int, deadline: float) -> None:
        rng = random.Random(n)
        while time.perf_counter() < deadline:
            origin, destination = random_segment(rng)
            with contextlib.suppress(BookingError):
                held.append(await booking.hold(10_000 + n, rng.choice(network.trips), origin,
                                               destination, NAMES[: rng.choice((1, 2))]))

    warm = time.perf_counter() + 1.0
    await asyncio.gather(*(hold_client(n, warm) for n in range(clients)))
    warmed = len(held)
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(hold_client(n, started + seconds) for n in range(clients)))
    hold_seconds = time.perf_counter() - started
    hold_cpu = time.process_time() - cpu_started
    holds_per_s = (len(held) - warmed) / hold_seconds

    runner = web.AppRunner(make_web_app(services, provider, "Bench"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    webhook = f"http://127.0.0.1:{runner.addresses[0][1]}/payments/sandbox/webhook"
    # Signed here, before the clock starts; sent by another process (bench/webhook_sender.py).
    requests = []
    for order in held:
        body = sandbox.event_body(provider.event(order, PaymentEventType.SUCCEEDED))
        requests.append({"body": body.decode(), "signature": sandbox.signature(
            body, provider.webhook_secret, int(time.time()))})
    with tempfile.TemporaryDirectory(prefix="kassa-webhooks-") as folder:
        request_file = Path(folder) / "requests.json"
        request_file.write_text(json.dumps(requests))
        try:
            cpu_started = time.process_time()
            sender = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).with_name("webhook_sender.py")),
                str(request_file), webhook, str(clients), stdout=asyncio.subprocess.PIPE)
            out, _ = await sender.communicate()
            pay_cpu = time.process_time() - cpu_started
        finally:
            await runner.cleanup()
    if sender.returncode != 0:
        raise RuntimeError("bench/webhook_sender.py failed")
    sent = json.loads(out)
    latencies: list[float] = sent["latencies"]
    statuses = {int(status): n for status, n in sent["statuses"].items()}
    pay_seconds = sent["seconds"]
    confirms_per_s = len(latencies) / pay_seconds
    figures = {
        "holds_per_s_same_run": round(holds_per_s),
        "webhook_confirms_per_s": round(confirms_per_s),
        "webhook_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "webhook_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "webhook_ratio_vs_holds": round(confirms_per_s / holds_per_s, 2),
        "webhook_not_ok": sum(n for status, n in statuses.items() if status != 200),
        # This process's CPU per operation: unlike the rates, hardly moved by other work
        # on the machine (the database's CPU is not in it).
        "cpu_ms_per_hold": round(hold_cpu / max(1, len(held) - warmed) * 1000, 3),
        "cpu_ms_per_confirmation": round(pay_cpu / max(1, len(latencies)) * 1000, 3),
    }
    print(f"holds in the same run: {figures['holds_per_s_same_run']}/s; signed webhook "
          f"confirmations: {figures['webhook_confirms_per_s']}/s (p50 "
          f"{figures['webhook_p50_ms']} ms, p99 {figures['webhook_p99_ms']} ms), "
          f"ratio {figures['webhook_ratio_vs_holds']} (target >= {WEBHOOK_RATIO_TARGET}); "
          f"{len(latencies)} orders paid, {figures['webhook_not_ok']} not 200; this process's "
          f"CPU: {figures['cpu_ms_per_hold']} ms a hold, {figures['cpu_ms_per_confirmation']} "
          "ms a confirmation")
    return figures
