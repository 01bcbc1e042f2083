"""A Telegram Bot API emulator for tests and the terminal demo; it never contacts Telegram.

    emulator = BotApiEmulator()
    app = emulated_builder(emulator).build()      # a real telegram.ext.Application
    app.add_handler(...)
    async with BotHarness(app, emulator) as harness:
        anna = harness.user("Anna")
        await anna.send("/start")                 # returns once the bot has handled it
        assert anna.last_message.button_texts() == ["Berlin", "Munich"]
        query = await anna.press("Berlin")
        assert query.answer is not None

Over HTTP: `async with EmulatorServer(emulator) as server`, then `http_builder(server)` and
`BotHarness(app, emulator, delivery="polling")`.
"""

from bot.emulator.api import BotApiEmulator
from bot.emulator.errors import BotApiError, EmulatorUsageError
from bot.emulator.harness import BotHarness, emulated_builder, http_builder
from bot.emulator.params import Upload
from bot.emulator.records import (
    ApiCall,
    CallbackAnswer,
    CallbackQueryRecord,
    ChatRecord,
    FileRecord,
    Invoice,
    PreCheckoutRecord,
    StoredMessage,
    UserRecord,
)
from bot.emulator.request import EmulatorRequest
from bot.emulator.server import EmulatorServer
from bot.emulator.users import PaymentResult, SimulatedGroup, SimulatedUser

__all__ = [
    "ApiCall",
    "BotApiEmulator",
    "BotApiError",
    "BotHarness",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "ChatRecord",
    "EmulatorRequest",
    "EmulatorServer",
    "EmulatorUsageError",
    "FileRecord",
    "Invoice",
    "PaymentResult",
    "PreCheckoutRecord",
    "SimulatedGroup",
    "SimulatedUser",
    "StoredMessage",
    "Upload",
    "UserRecord",
    "emulated_builder",
    "http_builder",
]
