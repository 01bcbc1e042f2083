"""`kassa db upgrade`: create the schema or migrate it to the newest version."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.settings import Settings

NAME = "db"
HELP = "database schema"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="create or migrate the schema to the newest version")


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(upgrade(settings))  # "upgrade" is the one action so far


async def upgrade(settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.startup import unreachable_database
    from storage.migrate import upgrade

    try:
        await upgrade(settings.database_url)
    except (OSError, SQLAlchemyError) as error:
        print(f"kassa db upgrade: {unreachable_database(settings.database_url, error)}",
              file=sys.stderr)
        return 2
    print("database is up to date")
    return 0
