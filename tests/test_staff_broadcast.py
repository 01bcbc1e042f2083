"""/broadcast through the emulator: each audience reaches exactly its people once, previewed
and confirmed first; the progress card ends as the final report; bad texts and passengers are
refused and nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from telegram.ext import CallbackContext

from booking.broadcast_text import check_broadcast_text
from booking.broadcasts import Audience, AudienceKind
from booking.errors import BookingError, ErrorCode
from booking.providers import PaymentEventType
from handlers.broadcast import refresh_progress
from storage import tables as t
from tests.conversation_support import staff_bot
from tests.test_payments_web import held_booking

STAFF_ID = 930001


@pytest.fixture
async def bot(engine, clock):
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID]) as running:
        yield running


async def outbox_rows(engine) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(t.outbox).where(t.outbox.c.kind == "broadcast")
        return int((await conn.execute(query)).scalar_one())


async def write_to_everyone(sam, text: str) -> None:
    """Sam's /broadcast to everyone who used the bot, the message typed: at its preview."""
    await sam.send("/broadcast")
    await sam.press("Everyone who used the bot")
    await sam.send(text)


def received(user, text: str) -> int:
    return sum(1 for m in user.messages if m.text == text)


async def finish(bot, sam) -> str:
    """Deliver what is due, then refresh the progress card as its job would."""
    await bot.run_jobs()
    [job] = bot.harness.application.job_queue.get_jobs_by_name(
        next(j.name for j in bot.harness.application.job_queue.jobs()
             if (j.name or "").startswith("broadcast-")))
    done = await refresh_progress(CallbackContext(bot.harness.application), job.data)
    assert done
    job.schedule_removal()
    [card] = [m for m in sam.chat.bot_messages if m.message_id == job.data["message"]]
    assert card.edits >= 1  # edited in place, not sent anew
    return card.text


async def test_everyone_gets_it_once_blocked_people_are_counted(bot, engine):
    anna, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    olga = bot.user("Olga", language="ru")
    await olga.send("/start")
    wang = bot.user("Wang", language="zh")
    await wang.send("/start")
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/broadcast")
    await sam.press("Everyone who used the bot")
    assert "Type the message" in sam.last_message.text
    await sam.send("<b>Roadworks</b> on Friday: allow 20 minutes more.")
    preview = sam.messages[-2]
    assert preview.text == "Roadworks on Friday: allow 20 minutes more."
    assert preview.entity_texts("bold") == ["Roadworks"]
    assert sam.last_message.text == "Send it to 4 people?"  # Anna, Olga, Wang and Sam
    await sam.press("📣 Send")
    assert "Sending… 0 sent, 0 failed, 0 blocked the bot, of 4." in sam.last_message.text
    await olga.block()  # before delivery: the outbox finds out, and counts her as blocked
    report = await finish(bot, sam)
    assert report == "Broadcast done: 3 sent, 0 failed, 1 blocked the bot, of 4."
    text = "Roadworks on Friday: allow 20 minutes more."
    assert [received(u, text) for u in (anna, wang, olga)] == [1, 1, 0]
    assert await outbox_rows(engine) == 4
    # Someone who blocked the bot is not even written a row the next time.
    await write_to_everyone(sam, "Second notice.")
    assert sam.last_message.text == "Send it to 3 people?"
    bot.harness.assert_no_errors()


async def test_everyone_means_people_who_wrote_to_the_bot(engine, clock):
    # Listed as staff, and given a role by /staff add, before either has written: no chat
    # to send to (Telegram would answer "chat not found", counted as failed).
    never_wrote, added = 930002, 930003
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID, never_wrote],
                         admin_ids=[930004]) as bot:
        admin = bot.user("Ada", user_id=930004)
        await admin.send(f"/staff add {added}")
        anna = bot.user("Anna")
        await anna.send("/start")
        sam = bot.user("Sam", user_id=STAFF_ID)
        await write_to_everyone(sam, "Roadworks on Friday.")
        assert sam.last_message.text == "Send it to 3 people?"  # Ada, Anna and Sam
        await sam.press("📣 Send")
        assert await finish(bot, sam) == (
            "Broadcast done: 3 sent, 0 failed, 0 blocked the bot, of 3.")
        bot.harness.assert_no_errors()


async def test_flood_control_on_the_progress_card_skips_one_refresh_not_the_report(
        bot, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB's forward-compatible retry_after
    anna = bot.user("Anna")
    await anna.send("/start")
    sam = bot.user("Sam", user_id=STAFF_ID)
    await write_to_everyone(sam, "Second notice.")
    await sam.press("📣 Send")
    await bot.run_jobs()
    job = next(j for j in bot.harness.application.job_queue.jobs()
               if (j.name or "").startswith("broadcast-"))
    context = CallbackContext(bot.harness.application)
    bot.emulator.fail_next("editMessageText", chat_id=sam.id, retry_after=5)
    assert await refresh_progress(context, job.data) is False  # not done: tried again
    assert await refresh_progress(context, job.data) is True
    job.schedule_removal()
    [card] = [m for m in sam.chat.bot_messages if m.message_id == job.data["message"]]
    assert card.text.startswith("Broadcast done: 2 sent")
    bot.harness.assert_no_errors()


async def test_a_trips_passengers_only(bot, engine):
    anna, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    bo, held = await held_booking(bot, name="Bo", passenger="Bo Chen")  # a live hold counts
    assert held.trip_id == paid.trip_id
    idle = bot.user("Idle")
    await idle.send("/start")
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/broadcast")
    await sam.press("Passengers of a trip")
    await sam.press(next(b for b in sam.last_message.button_texts()
                         if b.startswith(paid.departure.strftime("%a")) or b == "Tomorrow"))
    await sam.press(next(b for b in sam.last_message.button_texts()
                         if b.startswith("Beijing → Tianjin")))
    await sam.press(next(b for b in sam.last_message.button_texts() if b.startswith("6:00")))
    await sam.send("The 6:00 leaves from platform 3.")
    assert sam.last_message.text == "Send it to 2 people?"
    await sam.press("📣 Send")
    await finish(bot, sam)
    text = "The 6:00 leaves from platform 3."
    assert [received(u, text) for u in (anna, bo, idle)] == [1, 1, 0]
    assert await outbox_rows(engine) == 2


async def test_a_days_passengers_by_typed_date(bot):
    anna, paid = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/broadcast")
    await sam.press("Passengers travelling on a day")
    await sam.send("someday")
    assert "I could not read that date" in sam.last_message.text
    await sam.send("30 февраля")
    assert "There is no such day in the calendar" in sam.last_message.text
    # A day nobody travels on is said before the message is written, and ends the step.
    await sam.send((paid.departure.date() + timedelta(days=2)).isoformat())
    assert sam.last_message.text == "Nobody is in this audience: nothing was sent."
    await sam.send("Snow expected.")
    assert "Send it to" not in sam.last_message.text
    await sam.send("/broadcast")
    await sam.press("Passengers travelling on a day")
    await sam.send(paid.departure.date().isoformat())
    await sam.send("Snow expected.")
    assert sam.last_message.text == "Send it to 1 person?"
    await sam.send("/cancel")
    assert "Nothing was changed" in sam.last_message.text
    assert received(anna, "Snow expected.") == 0


@pytest.mark.parametrize(("typed", "answer"), [
    ("<b>bold", "Telegram would refuse this formatting (<b> not closed)"),
    ("<blink>hi</blink>", "Telegram would refuse this formatting (<blink>)"),
    ("2 < 3", "write < as &lt;"),
    ("x" * 4097, "The message is 4097 characters long; Telegram takes at most 4096."),
])
async def test_bad_texts_are_refused_and_nothing_is_written(bot, engine, typed, answer):
    olga = bot.user("Olga", language="ru")
    await olga.send("/start")
    sam = bot.user("Sam", user_id=STAFF_ID)
    await write_to_everyone(sam, typed)
    assert answer in sam.last_message.text
    await sam.send("Fixed text.")  # the step stays open for the corrected message
    assert sam.last_message.text == "Send it to 2 people?"
    assert await outbox_rows(engine) == 0


async def test_a_passenger_cannot_broadcast(bot, engine):
    pat = bot.user("Pat")
    await pat.send("/broadcast")
    assert pat.last_message.text == "This is for staff only."
    sam = bot.user("Sam", user_id=STAFF_ID)
    await sam.send("/broadcast")
    query = await pat.press("Everyone who used the bot", message=sam.last_message)
    assert query.answer is not None and "staff only" in str(query.answer)
    with pytest.raises(BookingError) as refused:
        await bot.services.broadcasts.send(pat.id, Audience(AudienceKind.EVERYONE), "hi")
    assert refused.value.code is ErrorCode.NOT_STAFF
    assert await outbox_rows(engine) == 0


@pytest.mark.parametrize("text", [
    "plain", "<b>a</b> <i>b</i> <u>c</u> <s>d</s> <code>e</code> <pre>f</pre>",
    '<a href="https://example.com">link</a>', '<span class="tg-spoiler">x</span>',
    "5 &lt; 6 &amp; 7 &gt; 3", "<b>bold <i>and italic</i></b>", "x" * 4096,
    "<b>" + "x" * 4096 + "</b>",
])
def test_texts_telegram_takes(text):
    assert check_broadcast_text(f"  {text}\n") == text


@pytest.mark.parametrize(("text", "code"), [
    ("   ", ErrorCode.BROADCAST_EMPTY), ("<b><i>x</b></i>", ErrorCode.BROADCAST_FORMATTING),
    ("<a>x</a>", ErrorCode.BROADCAST_FORMATTING), ("<span>x</span>",
                                                    ErrorCode.BROADCAST_FORMATTING),
    ("x</b>", ErrorCode.BROADCAST_FORMATTING), ("&nbsp;", ErrorCode.BROADCAST_FORMATTING),
    ("<br/>", ErrorCode.BROADCAST_FORMATTING), ("é" * 4097, ErrorCode.BROADCAST_TOO_LONG),
])
def test_texts_telegram_refuses(text, code):
    with pytest.raises(BookingError) as refused:
        check_broadcast_text(text)
    assert refused.value.code is code
