"""`kassa import-gtfs PATH`: import a GTFS feed (zip or folder) as dated trips."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bot.cli.arguments import iso_date, positive
from bot.settings import Settings

NAME = "import-gtfs"
HELP = "import a GTFS feed (zip or folder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path)
    parser.add_argument("--shift-to", type=iso_date, metavar="YYYY-MM-DD",
                        help="move the feed's service days onto the calendar from this date")
    parser.add_argument("--days", type=positive, default=14,
                        help="how many service days to create trips for (default 14)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(import_gtfs(settings, args.path, args.shift_to, args.days))


async def import_gtfs(settings: Settings, path: Path, shift_to: date | None, days: int) -> int:
    from booking.gtfs import FeedError, read_feed
    from bot.cli.db import migrate
    from storage.database import create_engine
    from storage.timetable import store_timetable

    started = time.perf_counter()
    try:
        timetable = read_feed(path, today=datetime.now(UTC).date(), shift_to=shift_to, days=days)
    except FeedError as error:
        print(f"feed refused: {error}", file=sys.stderr)
        return 2
    if await migrate(settings, "kassa import-gtfs") is None:
        return 2
    engine = create_engine(settings.database_url)
    try:
        report = await store_timetable(engine, timetable)
    finally:
        await engine.dispose()
    print(
        f"imported {path}: {report.stations} stations, {report.routes_added} new routes, "
        f"{report.trips_added} new trips, {report.trips_kept} kept "
        f"({time.perf_counter() - started:.1f}s)"
    )
    return 0
