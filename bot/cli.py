"""The `kassa` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from bot.settings import Settings


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from error


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def build_parser() -> argparse.ArgumentParser:
    import bot.demo  # noqa: F401  (registers `kassa demo` in EXTRA_COMMANDS)

    parser = argparse.ArgumentParser(prog="kassa", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="create or migrate the schema to the newest version")

    gtfs = commands.add_parser("import-gtfs", help="import a GTFS feed (zip or folder)")
    gtfs.add_argument("path", type=Path)
    gtfs.add_argument("--shift-to", type=_parse_date, metavar="YYYY-MM-DD",
                      help="move the feed's service days onto the calendar from this date")
    gtfs.add_argument("--days", type=_positive, default=14,
                      help="how many service days to create trips for (default 14)")

    seed = commands.add_parser("seed-demo", help="store the demo coach network")
    seed.add_argument("--days", type=_positive, default=14)

    for register in EXTRA_COMMANDS:
        register(commands)
    return parser


# Later parts of the bot (the demo, polling, webhooks) add their commands here.
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


async def db_upgrade(settings: Settings) -> int:
    from storage.migrate import upgrade

    await upgrade(settings.database_url)
    print("database is up to date")
    return 0


async def import_gtfs(settings: Settings, path: Path, shift_to: date | None, days: int) -> int:
    from booking.gtfs import FeedError, read_feed
    from storage.database import create_engine
    from storage.migrate import upgrade
    from storage.timetable import store_timetable

    started = time.perf_counter()
    try:
        timetable = read_feed(path, today=datetime.now(UTC).date(), shift_to=shift_to, days=days)
    except FeedError as error:
        print(f"feed refused: {error}", file=sys.stderr)
        return 2
    await upgrade(settings.database_url)
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


async def seed_demo(settings: Settings, days: int) -> int:
    from booking.demo_network import demo_timetable
    from storage.database import create_engine
    from storage.migrate import upgrade
    from storage.timetable import store_timetable

    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        report = await store_timetable(engine, demo_timetable(datetime.now(UTC).date(), days))
    finally:
        await engine.dispose()
    print(f"demo network: {report.stations} stations, {report.routes_added} new routes, "
          f"{report.trips_added} new trips, {report.trips_kept} kept")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    if args.command == "db":
        return asyncio.run(db_upgrade(settings))
    if args.command == "import-gtfs":
        return asyncio.run(import_gtfs(settings, args.path, args.shift_to, args.days))
    if args.command == "seed-demo":
        return asyncio.run(seed_demo(settings, args.days))
    handler = getattr(args, "handler", None)
    if handler is None:
        build_parser().error(f"unknown command {args.command}")
    return int(handler(settings, args))


if __name__ == "__main__":
    sys.exit(main())
