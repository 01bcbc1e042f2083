"""`kassa booking-api`: the booking service on its own, as JSON over HTTP."""

from __future__ import annotations

import argparse

from bot.cli.arguments import port_number, positive
from bot.settings import Settings

NAME = "booking-api"
HELP = "serve the booking service's HTTP API (JSON under /v1) for the bot and other channels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_number, default=8081,
                        help="the port to listen on (default 8081; 0: any free port)")
    parser.add_argument("--pool-size", type=positive, default=20,
                        help="database connections for steady load; up to twice as many "
                             "at a peak, each kept open once opened (default 20)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1, this machine only)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from bot.booking_api import run as serve

        return serve(settings, args.host, args.port, pool_size=args.pool_size)
    except KeyboardInterrupt:
        # Ctrl-C before the server listens for it (while starting): nothing was served.
        print("kassa booking-api: stopped")
        return 0
