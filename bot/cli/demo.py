"""`kassa demo`: chat with the real bot in the terminal, through the Bot API emulator.

The chat itself is bot/demo.py, a run mode like polling and webhooks; this is its command.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.settings import Settings

NAME = "demo"
HELP = "chat with the bot in the terminal (emulated)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the demo uses KASSA_DATABASE_URL like every command."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from bot.demo import chat

        return asyncio.run(chat(settings, sys.stdin, sys.stdout))
    except KeyboardInterrupt:
        # Ctrl-C before the chat listens for it (while loading) or where signals cannot
        # be caught by the event loop (Windows): nothing was changed half-way.
        print("\nbye")
        return 0
