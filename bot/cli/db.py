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
    migrated = await migrate(settings, "kassa db upgrade")
    if migrated is None:
        return 2
    before, after = migrated
    now = ", ".join(sorted(after))
    if not before:
        print(f"created the schema (migration {now})")
    elif before != after:
        print(f"migrated the database from {', '.join(sorted(before))} to {now}")
    else:
        print(f"database is up to date (migration {now})")
    return 0


async def migrate(settings: Settings, program: str) -> tuple[set[str], set[str]] | None:
    """Bring the database to this release's schema, the migrations it was and is at; None
    once it has said in one line why it could not (the database out of reach, or migrated
    by a newer release than this one), which every command that migrates first shares."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from bot.startup import SCHEMA_AHEAD, unreachable_database
    from storage.migrate import current_revisions, upgrade

    try:
        before = await current_revisions(settings.database_url)
        await upgrade(settings.database_url)
        return before, await current_revisions(settings.database_url)
    except (OSError, SQLAlchemyError) as error:
        print(f"{program}: {unreachable_database(settings.database_url, error)}",
              file=sys.stderr)
    except CommandError as error:  # a revision this release does not know: a newer one's
        print(f"{program}: {SCHEMA_AHEAD} ({error})", file=sys.stderr)
    return None
