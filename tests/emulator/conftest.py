"""Fixtures: an emulator and a real PTB Application driven through it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.emulator import BotApiEmulator, BotHarness, emulated_builder


@pytest.fixture
def emulator() -> BotApiEmulator:
    """A fresh emulated Bot API."""
    return BotApiEmulator()


@pytest.fixture
async def harness(emulator: BotApiEmulator) -> AsyncIterator[BotHarness]:
    """An initialized Application (no handlers yet) fed directly by the emulator."""
    async with BotHarness(emulated_builder(emulator).build(), emulator) as running:
        yield running
