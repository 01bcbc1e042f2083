"""Random text, button data and update kinds at every step: the bot always copes."""

from __future__ import annotations

import contextlib
import random

import pytest

from booking.model import OrderStatus
from bot.emulator import EmulatorUsageError
from tests.conversation_support import running_bot, seed
from tests.test_conversation_booking import press_data

TEXTS = ["", "Bejing", "Tianjin", "tomorrow", "завтра", "明天", "25.12", "2026-12-25", "3",
         "0", "99", "4A 4B", "ZZ9", "Anna Lee", "!!!", "/start", "/book", "/cancel", "/help",
         "/mytickets", "/language", "/nonsense", "Beijing to Tianjin tomorrow 2 seats",
         "из Москвы в Казань 25.12", "x" * 300]


def random_data(rng: random.Random, flow_ids: list[str]) -> str:
    choices = [
        "b:zzz:o:BJS", "garbage", "b::::", "m:book", "m:tickets", "m:lang", "l:xx", "l:ru",
        "t:o:nope", "t:y:" + "f" * 32, "t:c:", "x" * 64, "b:" + "0" * 61,
        *(f"b:{f}:{a}:{arg}" for f in flow_ids for a, arg in
          [("o", "BJS"), ("d", "TSN"), ("D", "2026-06-02"), ("t", "1"), ("c", "2"),
           ("s", "1A"), ("A", ""), ("n", "0"), ("y", ""), ("x", ""), ("bk", ""),
           ("M", "bad"), ("P", "-1"), ("S", "2099-01-01")]),
    ]
    return rng.choice(choices)


@pytest.mark.parametrize("seed_value", [1, 2])
async def test_random_input_never_breaks_the_bot(engine, clock, seed_value, booking_transport):
    await seed(engine, clock)
    rng = random.Random(seed_value)
    async with running_bot(engine, clock, raise_errors=False,
                           transport=booking_transport) as bot:
        users = [bot.user("Anna"), bot.user("Ivan", language="ru")]
        for _step in range(120):
            user = rng.choice(users)
            flows = [user.chat.bot_messages[-1]] if user.chat.bot_messages else []
            flow_ids = sorted({d.split(":")[1] for m in user.messages for _t, d in
                               [b for row in m.buttons for b in row]
                               if d and d.startswith("b:")})
            kind = rng.random()
            if user.blocked:
                await user.unblock()
            elif kind < 0.35 and flows and flows[0].button_texts():
                label = rng.choice(flows[0].button_texts())
                await user.press(label)
            elif kind < 0.6:
                text = rng.choice(TEXTS)
                if text:
                    await user.send(text)
            elif kind < 0.8 and user.messages:
                await press_data(bot, user, rng.choice(user.messages),
                                 random_data(rng, flow_ids))
            elif kind < 0.85:
                await user.share_contact()
            elif kind < 0.9:
                await user.block()
            else:
                await edited_message(bot, user, rng.choice(TEXTS) or "x")
        assert bot.harness.errors == []
        # No seat is held or sold twice on any trip (live holds and paid orders only).
        seen: dict[tuple[int, str], str] = {}
        for user in users:
            for view in await bot.services.booking.orders_of(user.id):
                if view.status in (OrderStatus.HELD, OrderStatus.PAID):
                    for allocation in view.seats:
                        key = (view.trip_id, allocation.seat)
                        assert key not in seen, f"seat {key} allocated twice"
                        seen[key] = view.id


async def edited_message(bot, user, text):
    message = bot.emulator.post(user.chat, user.record, text=text)
    payload = message.to_api()
    payload["edit_date"] = payload["date"]
    with contextlib.suppress(EmulatorUsageError):
        await bot.emulator.deliver("edited_message", payload)
