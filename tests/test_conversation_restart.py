"""A passenger half-way through a booking continues after the bot restarts (or crashes)."""

from __future__ import annotations

from bot.app import build_application, database_persistence, prepare
from bot.emulator import BotApiEmulator, BotHarness, EmulatorRequest
from bot.services import create_services
from bot.settings import Settings
from tests.conversation_support import seed


def real_bot(engine, clock, emulator: BotApiEmulator):
    services = create_services(Settings(_env_file=None), engine, clock=clock)
    return build_application(services, token=emulator.token, request=EmulatorRequest(emulator),
                             persistence=database_persistence(engine), engine=engine)


async def test_booking_continues_after_a_crash(engine, clock):
    await seed(engine, clock)
    emulator = BotApiEmulator()
    first = BotHarness(real_bot(engine, clock, emulator), emulator)
    await first.start()
    await prepare(first.application)
    anna = first.user("Anna")
    await anna.send("/book")
    await anna.press("Beijing")
    await anna.press("Tianjin")
    await anna.press("Tomorrow")
    first_trip = next(t for t in anna.last_message.button_texts() if t.startswith("1."))
    # Killed: no shutdown, so nothing is saved but what each step wrote as it happened.
    emulator.sink = None
    if first.application.running:
        await first.application.stop()
    await first.application.update_processor.shutdown()  # as the OS closes its connections

    async with BotHarness(real_bot(engine, clock, emulator), emulator) as second:
        await prepare(second.application)
        await anna.press(first_trip)
        assert "How many passengers" in anna.last_message.text
        await anna.press("1")
        await anna.press("Any seat")
        await anna.send("Anna Lee")
        await anna.press("✅ Confirm")
        assert "held until" in anna.last_message.text
        second.assert_no_errors()
    services = create_services(Settings(_env_file=None), engine, clock=clock)
    [view] = await services.booking.orders_of(anna.id)
    assert [s.passenger for s in view.seats] == ["Anna Lee"]
