"""Updates/s through the whole bot, in webhook mode with one and two instances.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/conversation.py [--passengers 40] [--rounds 6] [--warmup 1]
            [--repeat 3]
            [--in-process] [--event-loop uvloop|asyncio]
    KASSA_DATABASE_URL=sqlite+aiosqlite:///kassa.db .venv/bin/python bench/conversation.py

Many simulated passengers book at once, each a whole booking by buttons and typed text
(menu, origin, destination, date, trip, passengers, any seats, a name, confirm) ending in
a hold. Webhook mode, as in production: real `kassa webhook` processes on one database, the
Bot API emulator served over loopback HTTP, and the emulator POSTing each update to the
instances round robin, as a load balancer would (so one passenger's steps alternate between
instances); a step's latency is its POST, answered once the bot has handled it. Two
instances are measured on PostgreSQL only (SQLite is one process's database). The baseline
is a bare python-telegram-bot echo bot behind the same kind of webhook (bench/echo_webhook.py),
at the same concurrency, on the same event loop (--event-loop, every process of the run).
The --passengers book at once, each followed by a new one as soon as it has held, --rounds
times (an echo chat sends as many messages one after another): no round waits for its
slowest. Each run is measured after --warmup rounds that are not, so that what is measured
is an instance that has been running: its database connections open, its caches read.
Six rounds make the echo bot's run about a second: with two (0.3 s) its rate came out
anywhere from 1,800 to 2,400 updates/s from one run to the next, which moved the ratio by
a third; with six its runs agree within a few percent.
Each is run --repeat times, alternated, and the medians printed (a ratio: the median of
each run's own).
CPU time per update is read from /proc: the instances', this process's (the emulator and
the load balancer: the harness) and the whole machine's (with PostgreSQL), which tells
whether a second instance has a core to run on. With
--in-process, the bot and the echo handler run in this process on the emulator directly
(no HTTP), as this benchmark measured before webhook mode. The database the URL names is only
used to create a fresh one beside it. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database, percentile
from booking.clock import system_clock
from booking.demo_network import demo_timetable
from booking.model import OrderStatus
from booking.tickets.codes import generate_signing_key
from bot import event_loop
from bot.app import build_application, prepare
from bot.emulator import (
    BotApiEmulator,
    BotHarness,
    EmulatorRequest,
    EmulatorServer,
    SimulatedUser,
    emulated_builder,
)
from bot.emulator.webhook import WebhookDelivery
from bot.services import create_services
from bot.settings import Settings
from storage import tables as t
from storage.database import create_engine, is_sqlite
from storage.timetable import store_timetable

ROOT = Path(__file__).resolve().parent.parent
KASSA = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
SECRET = "bench-secret-key"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Pairs with several departures a day, so that concurrent passengers spread over trips.
ROUTES = [("Beijing", "Tianjin"), ("Shanghai", "Hangzhou"), ("Moscow", "Vladimir"),
          ("Berlin", "Prague"), ("Moscow", "Saint Petersburg"), ("Beijing", "Shanghai")]


def name(number: int) -> str:
    """A surname made of letters (a ticket's name has no digits): 0 -> A, 27 -> BB."""
    return "".join(chr(ord("A") + int(d)) for d in str(number))


async def book(user: SimulatedUser, rng: random.Random, latencies: list[float]) -> int:
    """One whole booking by buttons; returns the number of updates it took."""
    origin, destination = rng.choice(ROUTES)
    steps: list[tuple[str, str]] = [
        ("send", "/book"), ("press", origin), ("press", destination), ("press", "Tomorrow"),
        ("trip", ""), ("press", "1"), ("press", "Any seat"), ("send", f"Rider {name(user.id)}"),
        ("press", "✅ Confirm"),
    ]
    for kind, value in steps:
        started = time.perf_counter()
        if kind == "send":
            await user.send(value)
        elif kind == "trip":
            trips = [t for t in user.last_message.button_texts() if t[:1].isdigit()]
            await user.press(rng.choice(trips))
        else:
            await user.press(value)
        latencies.append(time.perf_counter() - started)
    return len(steps)


async def bookings(new_user: Callable[[str], SimulatedUser], prefix: str, passengers: int,
                   rounds: int, rng: random.Random, latencies: list[float]) -> int:
    """``passengers`` booking at once, ``rounds`` times each: each of them, having held, is
    followed at once by a new passenger (``new_user(name)``), as in a busy bot, rather than
    all waiting for the slowest of a round. Returns the number of updates."""

    async def one_after_another(seat: int) -> int:
        updates = 0
        for round_no in range(rounds):
            updates += await book(new_user(f"{prefix}{round_no}-{seat}"), rng, latencies)
        return updates

    return sum(await asyncio.gather(*(one_after_another(i) for i in range(passengers))))


async def held_orders(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.orders)
                                       .where(t.orders.c.status == "held"))).scalar_one())


def run_figures(updates: int, elapsed: float, latencies: list[float],
                held: int) -> dict[str, Any]:
    """A booking run's figures, in process or through webhooks alike."""
    return {
        "updates": updates,
        "seconds": elapsed,
        "updates_per_s": updates / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "bookings_held": held,
    }


async def bot_run(url: str, passengers: int, rounds: int) -> dict[str, Any]:
    engine = create_engine(url, pool_size=20)
    await store_timetable(engine, demo_timetable(system_clock().date(), days=3))
    emulator = BotApiEmulator()
    services = create_services(Settings(_env_file=None), engine)
    app = build_application(services, token=emulator.token, request=EmulatorRequest(emulator))
    latencies: list[float] = []
    rng = random.Random(2026)
    async with BotHarness(app, emulator) as harness:
        await prepare(app)
        everyone: list[SimulatedUser] = []

        def new_user(name: str) -> SimulatedUser:
            everyone.append(harness.user(name))
            return everyone[-1]

        started = time.perf_counter()
        updates = await bookings(new_user, "P", passengers, rounds, rng, latencies)
        elapsed = time.perf_counter() - started
        harness.assert_no_errors()
        held = 0
        for user in everyone:  # every passenger should end with exactly one hold
            views = await services.booking.orders_of(user.id)
            held += sum(1 for v in views if v.status is OrderStatus.HELD)
    await engine.dispose()
    return run_figures(updates, elapsed, latencies, held)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say back what was said: the cheapest handler there is."""
    if update.effective_message is not None and update.effective_message.text:
        await update.effective_message.reply_text(update.effective_message.text)


async def echo_run(passengers: int, updates_each: int) -> dict[str, Any]:
    emulator = BotApiEmulator()
    app = emulated_builder(emulator).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with BotHarness(app, emulator) as harness:
        users = [harness.user(f"E{i}") for i in range(passengers)]

        async def chat(user: SimulatedUser) -> None:
            for n in range(updates_each):
                await user.send(f"hello {n}")

        started = time.perf_counter()
        await asyncio.gather(*(chat(u) for u in users))
        elapsed = time.perf_counter() - started
        harness.assert_no_errors()
    total = passengers * updates_each
    return {"updates": total, "seconds": elapsed, "updates_per_s": total / elapsed}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_file(folder: Path, port: int) -> BinaryIO:
    """Where an instance's log goes (a pipe nobody reads would fill and stop it)."""
    return (folder / f"{port}.log").open("wb")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def stop_processes(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        if await asyncio.wait_for(process.wait(), 30) != 0:
            raise RuntimeError(f"process {process.pid} exited with {process.returncode}")


def machine_busy_seconds() -> float:
    """CPU time all processes have used so far, every core (Linux /proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


Meter = Callable[[list[int]], None]


def no_meter(pids: list[int]) -> None:
    """What a run calls at the start and end of its measured part with the bot's process ids
    (bench/instructions.py counts instructions in between)."""


async def webhook_run(url: str, passengers: int, rounds: int, instances: int,
                      loop_name: str, *, warmup: int = 0, under: Sequence[str] = (),
                      start_seconds: float = 60, begin: Meter = no_meter,
                      end: Meter = no_meter) -> dict[str, Any]:
    """The booking conversation through ``instances`` `kassa webhook` processes (each run
    under the command ``under``, if given), measured after ``warmup`` rounds that are not."""
    engine = create_engine(url, pool_size=5)
    await store_timetable(engine, demo_timetable(system_clock().date(), days=3))
    emulator = BotApiEmulator()
    logs = tempfile.TemporaryDirectory(prefix="kassa-bench-")
    processes: list[asyncio.subprocess.Process] = []
    latencies: list[float] = []
    rng = random.Random(2026)
    try:
        async with EmulatorServer(emulator) as server:
            ports = [free_port() for _ in range(instances)]
            base = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
            base.update(KASSA_DATABASE_URL=url, KASSA_TELEGRAM_TOKEN=emulator.token,
                        KASSA_TELEGRAM_API_URL=server.base_url.removesuffix("/bot"),
                        KASSA_SECRET_KEY=SECRET, KASSA_PAYMENT_WEBHOOK_SECRET=SECRET,
                        KASSA_TICKET_SIGNING_KEY=generate_signing_key(),
                        KASSA_EVENT_LOOP=loop_name)
            for port in ports:
                env = {**base, "KASSA_HTTP_PORT": str(port),
                       "KASSA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
                with log_file(Path(logs.name), port) as log:
                    processes.append(await asyncio.create_subprocess_exec(
                        *under, *KASSA, "webhook", env=env, cwd=ROOT,
                        stdout=asyncio.subprocess.DEVNULL, stderr=log))
            await emulator.wait_until(
                lambda: sum(c.method == "setWebhook" for c in emulator.calls) >= instances
                or any(p.returncode is not None for p in processes), start_seconds)
            if any(p.returncode is not None for p in processes):
                raise RuntimeError(f"an instance did not start; see {logs.name}")
            path = urlsplit(emulator.webhook_url).path
            targets = [f"http://127.0.0.1:{port}{path}" for port in ports]
            def new_user(name: str) -> SimulatedUser:
                return SimulatedUser(emulator, emulator.add_user(name))

            async with WebhookDelivery(emulator, targets):
                await bookings(new_user, "W", passengers, warmup, rng, [])
                held_before = await held_orders(engine)
                begin([p.pid for p in processes])
                cpu_before = sum(cpu_seconds(p.pid) for p in processes)
                harness_before, machine_before = time.process_time(), machine_busy_seconds()
                started = time.perf_counter()
                updates = await bookings(new_user, "P", passengers, rounds, rng, latencies)
                elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
            end([p.pid for p in processes])
            harness = time.process_time() - harness_before
            machine = machine_busy_seconds() - machine_before
            await stop_processes(processes)
        held = await held_orders(engine) - held_before
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
        await engine.dispose()
        logs.cleanup()
    return {**run_figures(updates, elapsed, latencies, held),
            "cpu_ms_per_update": cpu / updates * 1000,
            "harness_cpu_ms_per_update": harness / updates * 1000,
            "machine_cpu_ms_per_update": machine / updates * 1000}


async def echo_webhook_run(passengers: int, updates_each: int, loop_name: str, *,
                           warmup_each: int = 0, under: Sequence[str] = (),
                           start_seconds: float = 60, begin: Meter = no_meter,
                           end: Meter = no_meter) -> dict[str, Any]:
    """The bare echo bot (bench/echo_webhook.py) behind a webhook, at the same concurrency,
    measured after ``warmup_each`` messages per passenger that are not."""
    emulator = BotApiEmulator()
    port = free_port()
    async with EmulatorServer(emulator) as server:
        process = await asyncio.create_subprocess_exec(
            *under, sys.executable, str(ROOT / "bench" / "echo_webhook.py"), "--port", str(port),
            "--token", emulator.token, "--api-url", server.base_url.removesuffix("/bot"),
            "--secret", SECRET, "--event-loop", loop_name, stdout=asyncio.subprocess.PIPE,
            cwd=ROOT)
        try:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readline(), start_seconds)
            if ready.strip() != b"ready":
                raise RuntimeError("the echo bot did not start")
            emulator.webhook_secret_token = SECRET
            users = [SimulatedUser(emulator, emulator.add_user(f"E{i}"))
                     for i in range(passengers)]

            async def chat(user: SimulatedUser, messages: int) -> None:
                for n in range(messages):
                    await user.send(f"hello {n}")

            async with WebhookDelivery(emulator, [f"http://127.0.0.1:{port}/webhook"]):
                await asyncio.gather(*(chat(u, warmup_each) for u in users))
                begin([process.pid])
                cpu_before = cpu_seconds(process.pid)
                started = time.perf_counter()
                await asyncio.gather(*(chat(u, updates_each) for u in users))
                elapsed = time.perf_counter() - started
            cpu = cpu_seconds(process.pid) - cpu_before
            end([process.pid])
        finally:
            await stop_processes([process])
    total = passengers * updates_each
    return {"updates": total, "seconds": elapsed, "updates_per_s": total / elapsed,
            "cpu_ms_per_update": cpu / total * 1000}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs."""
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def describe(label: str, run: dict[str, Any]) -> str:
    line = (f"{label}: {run['updates']} updates in {run['seconds']:.2f}s = "
            f"{run['updates_per_s']:.0f} updates/s")
    if "p50_ms" in run:
        line += f" (p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms per update)"
    if "cpu_ms_per_update" in run:
        line += f", {run['cpu_ms_per_update']:.2f} ms of the bot's CPU per update"
    if "machine_cpu_ms_per_update" in run:
        line += (f" ({run['harness_cpu_ms_per_update']:.2f} the emulator's, "
                 f"{run['machine_cpu_ms_per_update']:.2f} the whole machine's)")
    if "bookings_held" in run:
        line += f", {run['bookings_held']} holds"
    return line


async def in_process(url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with fresh_database(url, "conversation") as fresh:
        booking = await bot_run(fresh, args.passengers, args.rounds)
    per_passenger = booking["updates"] // (args.passengers * args.rounds)
    baseline = await echo_run(args.passengers, per_passenger * args.rounds)
    print(describe("booking conversation (in process)", booking))
    print(describe("bare echo handler (in process)", baseline))
    return {
        "mode": "in_process",
        "booking_updates_per_s": round(booking["updates_per_s"], 1),
        "booking_update_p50_ms": round(booking["p50_ms"], 2),
        "booking_update_p99_ms": round(booking["p99_ms"], 2),
        "echo_updates_per_s": round(baseline["updates_per_s"], 1),
        "ratio_vs_echo": round(booking["updates_per_s"] / baseline["updates_per_s"], 3),
        "bookings_held": booking["bookings_held"],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    url = database_url_from_env()
    kind = url.split(":", 1)[0].split("+")[0]
    print(f"database: {kind}")
    if args.in_process:
        return {"database": kind, "passengers": args.passengers * args.rounds,
                **await in_process(url, args)}
    # Each measurement --repeat times, alternated (one instance, two, echo, then again), and
    # the median of each kept: on a shared machine one run can differ from the next by half.
    repeats: dict[str, list[dict[str, Any]]] = {"1": [], "2": [], "echo": []}
    for repeat in range(args.repeat):
        for instances in (1,) if is_sqlite(url) else (1, 2):
            async with fresh_database(url, f"conversation{instances}") as fresh:
                run = await webhook_run(fresh, args.passengers, args.rounds, instances,
                                        args.event_loop, warmup=args.warmup)
            repeats[str(instances)].append(run)
            print(describe(f"booking, webhook, {instances} instance(s), run {repeat + 1}",
                           run))
        per_passenger = repeats["1"][-1]["updates"] // (args.passengers * args.rounds)
        echo_run_figures = await echo_webhook_run(args.passengers, per_passenger * args.rounds,
                                                  args.event_loop,
                                                  warmup_each=per_passenger * args.warmup)
        repeats["echo"].append(echo_run_figures)
        print(describe(f"bare echo bot, webhook, run {repeat + 1}", echo_run_figures))
    runs = {int(k): median_run(v) for k, v in repeats.items() if v and k != "echo"}
    echo_figures = median_run(repeats["echo"])
    pair_ratios = [one["updates_per_s"] / echo["updates_per_s"]
                   for one, echo in zip(repeats["1"], repeats["echo"], strict=True)]
    one = runs[1]
    figures: dict[str, Any] = {
        "database": kind,
        "mode": "webhook",
        "event_loop": args.event_loop,
        "passengers": args.passengers * args.rounds,
        "one_instance_updates_per_s": round(one["updates_per_s"], 1),
        "one_instance_p50_ms": round(one["p50_ms"], 2),
        "one_instance_p99_ms": round(one["p99_ms"], 2),
        "one_instance_cpu_ms_per_update": round(one["cpu_ms_per_update"], 2),
        "one_instance_harness_cpu_ms_per_update": round(one["harness_cpu_ms_per_update"], 2),
        "one_instance_machine_cpu_ms_per_update": round(one["machine_cpu_ms_per_update"], 2),
        "echo_updates_per_s": round(echo_figures["updates_per_s"], 1),
        "echo_cpu_ms_per_update": round(echo_figures["cpu_ms_per_update"], 2),
        "ratio_one_vs_echo": round(statistics.median(pair_ratios), 3),
        "ratio_one_vs_echo_runs": [round(r, 3) for r in pair_ratios],
        "runs": args.repeat,
        "bookings_held": sum(r["bookings_held"] for k, v in repeats.items() if k != "echo"
                             for r in v),
    }
    if 2 in runs:
        two = runs[2]
        figures.update(
            two_instances_updates_per_s=round(two["updates_per_s"], 1),
            two_instances_p99_ms=round(two["p99_ms"], 2),
            two_instances_cpu_ms_per_update=round(two["cpu_ms_per_update"], 2),
            two_instances_machine_cpu_ms_per_update=round(two["machine_cpu_ms_per_update"], 2),
            ratio_two_vs_one=round(statistics.median(
                b["updates_per_s"] / a["updates_per_s"]
                for a, b in zip(repeats["1"], repeats["2"], strict=True)), 2),
        )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passengers", type=int, default=40, help="booking at once")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=1,
                        help="rounds of --passengers each webhook run makes before it measures "
                             "(the echo bot as many messages): pools filled, caches read, as "
                             "in an instance that has been running")
    parser.add_argument("--repeat", type=int, default=3,
                        help="each webhook measurement this many times; medians are printed "
                             "(--in-process runs once)")
    parser.add_argument("--in-process", action="store_true",
                        help="the bot in this process on the emulator, without HTTP")
    parser.add_argument("--event-loop", choices=event_loop.EVENT_LOOPS, default="uvloop",
                        help="every process's loop: the instances, the echo bot, this one")
    arguments = parser.parse_args()
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    figures = event_loop.run(main(arguments), arguments.event_loop)
    print(json.dumps(figures))
