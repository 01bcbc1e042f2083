"""`kassa webhook`: Telegram delivers updates to Kassa's web server, which also serves the
checkout page, the payment webhook, ticket verification, /healthz and /readyz."""

from __future__ import annotations

import argparse

from bot.settings import Settings

NAME = "webhook"
HELP = "run the bot on Telegram by webhook, on Kassa's web server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Everything comes from KASSA_* settings (the token, KASSA_PUBLIC_URL, the port)."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.polling import run as run_bot

    return run_bot(settings, webhook=True)
