"""`kassa run`: long polling on Telegram plus Kassa's web server, in one process."""

from __future__ import annotations

import argparse

from bot.settings import Settings

NAME = "run"
HELP = "run the bot on Telegram (long polling) with its web server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Everything comes from KASSA_* settings (the token, the web server's host and port)."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.polling import run as run_polling

    return run_polling(settings)
