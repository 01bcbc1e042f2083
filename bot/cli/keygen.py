"""`kassa keygen`: a new Ed25519 key for signing tickets (KASSA_TICKET_SIGNING_KEY)."""

from __future__ import annotations

import argparse

from bot.settings import Settings

NAME = "keygen"
HELP = "print a new ticket signing key for KASSA_TICKET_SIGNING_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    from booking.tickets.codes import generate_signing_key, load_signing_key, public_key_pem

    key = generate_signing_key()
    print(f"KASSA_TICKET_SIGNING_KEY={key}")
    print("# its public key, which scanners use (also served at GET /tickets/public-key):")
    print(public_key_pem(load_signing_key(key)).strip())
    return 0
