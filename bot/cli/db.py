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
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from bot.startup import SCHEMA_AHEAD, unreachable_database
    from storage.migrate import upgrade

    try:
        await upgrade(settings.database_url)
    except (OSError, SQLAlchemyError) as error:
        print(f"kassa db upgrade: {unreachable_database(settings.database_url, error)}",
              file=sys.stderr)
        return 2
    except CommandError as error:  # a revision this release does not know: a newer one's
        print(f"kassa db upgrade: {SCHEMA_AHEAD} ({error})", file=sys.stderr)
        return 2
    print("database is up to date")
    return 0
