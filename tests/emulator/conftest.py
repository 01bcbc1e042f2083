"""Fixtures: an emulator and a real PTB Application driven through it."""

from __future__ import annotations

import pytest

from bot.emulator.state import BotApiEmulator


@pytest.fixture
def emulator() -> BotApiEmulator:
    """A fresh emulated Bot API."""
    return BotApiEmulator()
