"""The `kassa` command line: one module per command in this package, listed in COMMANDS.

Each command module has NAME, HELP, ``add_arguments(parser)`` and ``run(settings, args) ->
int`` (the exit status). Modules import their heavy dependencies inside ``run``, so
`kassa --help` loads neither the database nor the bot. A new command (`kassa run`,
`kassa webhook`, `kassa booking-api`) is a new module here and one line in COMMANDS.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Protocol

from pydantic import ValidationError

from bot.cli import booking_api, db, demo, import_gtfs, keygen, run, seed_demo, webhook
from bot.settings import Settings


class Command(Protocol):
    """What the CLI needs of a command module."""

    NAME: str
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, settings: Settings, args: argparse.Namespace) -> int: ...


# In the order `kassa --help` lists them.
COMMANDS: tuple[Command, ...] = (
    demo,
    run,
    webhook,
    booking_api,
    db,
    import_gtfs,
    seed_demo,
    keygen,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kassa", description="Kassa, the ticketing bot.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(
            subparsers.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {command.NAME: command for command in COMMANDS}[args.command]
    try:
        settings = Settings()
    except ValidationError as error:
        # One line naming the setting, never a traceback.
        problem = error.errors()[0]
        name = "KASSA_" + str(problem["loc"][0]).upper() if problem["loc"] else "a setting"
        message = str(problem["msg"]).removeprefix("Value error, ")  # pydantic's wording
        print(f"kassa: {name}: {message}", file=sys.stderr)
        return 2
    try:
        return command.run(settings, args)
    except BrokenPipeError:
        # The reader stopped reading (`kassa keygen | head -1`): nothing is wrong here. The
        # rest of the output goes nowhere, so that flushing it at exit raises nothing more,
        # and the status is a Unix tool's that a closed pipe ended (128 + SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
