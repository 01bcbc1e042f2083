"""Updates/s through the whole bot: emulator -> Application -> handlers -> booking -> database.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/conversation.py [--passengers 40] [--rounds 3]
    KASSA_DATABASE_URL=sqlite+aiosqlite:///kassa.db .venv/bin/python bench/conversation.py

Many simulated passengers book at once, each a whole booking by buttons and typed text
(menu, origin, destination, date, trip, passengers, any seats, a name, confirm) ending in
a hold. The same number of updates then goes through a bare python-telegram-bot echo
handler on the same emulator, at the same concurrency, as the baseline. The database the
URL names is only used to create a fresh one beside it. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database, percentile
from booking.clock import system_clock
from booking.demo_network import demo_timetable
from booking.model import OrderStatus
from bot.app import build_application, prepare
from bot.emulator import (
    BotApiEmulator,
    BotHarness,
    EmulatorRequest,
    SimulatedUser,
    emulated_builder,
)
from bot.services import create_services
from bot.settings import Settings
from storage.database import create_engine
from storage.timetable import store_timetable

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


async def bot_run(url: str, passengers: int, rounds: int) -> dict[str, Any]:
    engine = create_engine(url, pool_size=20)
    await store_timetable(engine, demo_timetable(system_clock().date(), days=3))
    emulator = BotApiEmulator()
    services = create_services(Settings(_env_file=None), engine)
    app = build_application(services, token=emulator.token, request=EmulatorRequest(emulator))
    latencies: list[float] = []
    rng = random.Random(2026)
    updates = 0
    async with BotHarness(app, emulator) as harness:
        await prepare(app)
        everyone: list[SimulatedUser] = []
        started = time.perf_counter()
        for round_no in range(rounds):
            users = [harness.user(f"P{round_no}-{i}") for i in range(passengers)]
            everyone += users
            done = await asyncio.gather(*(book(u, rng, latencies) for u in users))
            updates += sum(done)
        elapsed = time.perf_counter() - started
        harness.assert_no_errors()
        held = 0
        for user in everyone:  # every passenger should end with exactly one hold
            views = await services.booking.orders_of(user.id)
            held += sum(1 for v in views if v.status is OrderStatus.HELD)
    await engine.dispose()
    return {
        "updates": updates,
        "seconds": elapsed,
        "updates_per_s": updates / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "bookings_held": held,
    }


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


async def main(args: argparse.Namespace) -> dict[str, Any]:
    url = database_url_from_env()
    async with fresh_database(url, "conversation") as fresh:
        booking = await bot_run(fresh, args.passengers, args.rounds)
    per_passenger = booking["updates"] // (args.passengers * args.rounds)
    baseline = await echo_run(args.passengers, per_passenger * args.rounds)
    print(f"database: {url.split(':', 1)[0]}")
    print(f"booking conversation: {booking['updates']} updates in {booking['seconds']:.2f}s = "
          f"{booking['updates_per_s']:.0f} updates/s (p50 {booking['p50_ms']:.1f} ms, "
          f"p99 {booking['p99_ms']:.1f} ms per update), {booking['bookings_held']} holds")
    print(f"bare echo handler:    {baseline['updates']} updates in {baseline['seconds']:.2f}s = "
          f"{baseline['updates_per_s']:.0f} updates/s")
    return {
        "database": url.split(":", 1)[0].split("+")[0],
        "passengers": args.passengers * args.rounds,
        "booking_updates_per_s": round(booking["updates_per_s"], 1),
        "booking_update_p50_ms": round(booking["p50_ms"], 2),
        "booking_update_p99_ms": round(booking["p99_ms"], 2),
        "echo_updates_per_s": round(baseline["updates_per_s"], 1),
        "ratio_vs_echo": round(booking["updates_per_s"] / baseline["updates_per_s"], 3),
        "bookings_held": booking["bookings_held"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passengers", type=int, default=40, help="booking at once")
    parser.add_argument("--rounds", type=int, default=3)
    figures = asyncio.run(main(parser.parse_args()))
    print(json.dumps(figures))
