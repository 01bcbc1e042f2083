"""`kassa seed-demo`: store the demo coach network (21 cities) with trips for N days."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bot.cli.arguments import positive
from bot.settings import Settings

NAME = "seed-demo"
HELP = "store the demo coach network"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=positive, default=14,
                        help="how many service days to create trips for (default 14)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(seed_demo(settings, args.days))


async def seed_demo(settings: Settings, days: int) -> int:
    from booking.demo_network import demo_timetable
    from bot.cli.db import migrate
    from storage.database import create_engine
    from storage.timetable import store_timetable

    if await migrate(settings, "kassa seed-demo") is None:
        return 2
    engine = create_engine(settings.database_url)
    try:
        report = await store_timetable(engine, demo_timetable(datetime.now(UTC).date(), days))
    finally:
        await engine.dispose()
    print(f"demo network: {report.stations} stations, {report.routes_added} new routes, "
          f"{report.trips_added} new trips, {report.trips_kept} kept")
    return 0
