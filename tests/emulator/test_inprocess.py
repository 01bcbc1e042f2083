"""A real PTB Application talks to the in-process emulator: replies, buttons and errors."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import (
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LabeledPrice,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.emulator import BotApiEmulator, BotHarness, EmulatorUsageError, emulated_builder

Context = ContextTypes.DEFAULT_TYPE


async def echo(update: Update, context: Context) -> None:
    """Repeat the text back."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in buttons]])


@pytest.mark.parametrize("delivery", ["direct", "queue", "polling"])
async def test_echo_reply_is_recorded_when_send_returns(emulator, delivery):
    app = emulated_builder(emulator).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with BotHarness(app, emulator, delivery=delivery) as harness:
        anna = harness.user("Anna")
        await anna.send("Hello, Kassa")
        await anna.send("second")
        assert [m.text for m in anna.messages] == ["Hello, Kassa", "second"]
        assert anna.last_message.chat.id == anna.id
    assert harness.errors == []
    assert bool(emulator.calls_to("getUpdates")) == (delivery == "polling")


async def test_start_command_arrives_with_a_bot_command_entity(harness):
    seen: list[Update] = []

    async def start(update: Update, context: Context) -> None:
        seen.append(update)
        await update.effective_message.reply_text(f"args={context.args}")

    harness.application.add_handler(CommandHandler("start", start))
    anna = harness.user("Anna")
    await anna.send("/start ref_42")

    entity = seen[0].effective_message.entities[0]
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)
    assert anna.last_message.text == "args=['ref_42']"


async def test_pressing_an_inline_button_reaches_the_callback_handler(harness):
    async def offer(update: Update, context: Context) -> None:
        await update.effective_message.reply_text(
            "<b>Where to?</b>", parse_mode="HTML", reply_markup=keyboard(("Berlin", "to:BER"))
        )

    async def chosen(update: Update, context: Context) -> None:
        query = update.callback_query
        await query.answer(f"Going to {query.data}", show_alert=True)
        await query.edit_message_text(f"Destination: {query.data[3:]}")

    harness.application.add_handler(CommandHandler("start", offer))
    harness.application.add_handler(CallbackQueryHandler(chosen))
    anna = harness.user("Anna")
    await anna.send("/start")
    assert anna.last_message.buttons == [[("Berlin", "to:BER")]]
    assert anna.last_message.entity_texts("bold") == ["Where to?"]

    query = await anna.press("Berlin")

    assert query.data == "to:BER"
    assert query.answer is not None
    assert (query.answer.text, query.answer.show_alert) == ("Going to to:BER", True)
    # The edit changed the message in place and, with no reply_markup, removed the keyboard.
    assert [m.text for m in anna.messages] == ["Destination: BER"]
    assert anna.last_message.buttons == []
    assert anna.last_message.edit_date is not None


async def test_editing_with_identical_content_raises_message_not_modified(harness):
    async def offer(update: Update, context: Context) -> None:
        await update.effective_message.reply_text("Seat 4A", reply_markup=keyboard(("Keep", "k")))

    async def keep(update: Update, context: Context) -> None:
        await update.callback_query.edit_message_text(
            "Seat 4A", reply_markup=keyboard(("Keep", "k"))
        )

    harness.application.add_handler(CommandHandler("seat", offer))
    harness.application.add_handler(CallbackQueryHandler(keep))
    anna = harness.user("Anna")
    await anna.send("/seat")

    with pytest.raises(BadRequest, match="Message is not modified"):
        await anna.press("Keep")
    assert len(harness.errors) == 1


async def test_limits_are_enforced_with_telegrams_errors(harness):
    anna = harness.user("Anna")
    bot = harness.bot

    # PTB strips "Bad Request: " and capitalizes what is left.
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(anna.id, "x", reply_markup=keyboard(("Too long", "d" * 65)))
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(anna.id, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(anna.id, "  \n ")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(anna.id, b"%PDF", filename="t.pdf", caption="c" * 1025)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hello?")
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag"):
        await bot.send_message(anna.id, "1 < 2", parse_mode="HTML")

    await bot.send_message(anna.id, "x" * 4096, reply_markup=keyboard(("ok", "d" * 64)))
    assert len(anna.last_message.text) == 4096


async def test_unknown_and_unsupported_methods_are_errors(harness, emulator):
    with pytest.raises(EndPointNotFound):
        await harness.bot.do_api_request("sendTeleportation")
    status, body = await emulator.handle(emulator.token, "sendTeleportation", {})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    anna = harness.user("Anna")
    with pytest.raises(BadRequest, match="not supported"):
        await harness.bot.send_dice(anna.id)
    with pytest.raises(BadRequest, match="refused"):
        await harness.bot.log_out()


async def test_a_blocked_user_sends_my_chat_member_and_gets_forbidden(harness):
    changes: list[tuple[str, str]] = []

    async def membership(update: Update, context: Context) -> None:
        change = update.my_chat_member
        changes.append((change.old_chat_member.status, change.new_chat_member.status))

    harness.application.add_handler(ChatMemberHandler(membership))
    anna = harness.user("Anna")

    await anna.block()
    assert changes == [(ChatMember.MEMBER, ChatMember.BANNED)]
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await harness.bot.send_message(anna.id, "Your bus leaves in 1 hour")
    with pytest.raises(EmulatorUsageError):
        await anna.send("hi")

    await anna.unblock()
    assert changes[-1] == (ChatMember.BANNED, ChatMember.MEMBER)
    await harness.bot.send_message(anna.id, "Welcome back")
    assert anna.last_message.text == "Welcome back"


async def test_a_user_who_never_started_the_bot_cannot_be_messaged(harness, emulator):
    record = emulator.add_user("Ben", started=False)
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await harness.bot.send_message(record.id, "Hi")


async def test_injected_flood_error_becomes_retry_after(harness, emulator, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB's forward-compatible retry_after
    anna = harness.user("Anna")
    emulator.fail_next("sendMessage", chat_id=anna.id, retry_after=3)

    with pytest.raises(RetryAfter) as caught:
        await harness.bot.send_message(anna.id, "first")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    await harness.bot.send_message(anna.id, "second")
    assert [m.text for m in anna.messages] == ["second"]
    assert [c.ok for c in emulator.calls_to("sendMessage")] == [False, True]


async def test_per_chat_flood_limit_answers_429(harness, emulator, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    anna = harness.user("Anna")
    emulator.set_flood_limit(anna.id, messages=2, per_seconds=60)
    await harness.bot.send_message(anna.id, "1")
    await harness.bot.send_message(anna.id, "2")
    with pytest.raises(RetryAfter) as caught:
        await harness.bot.send_message(anna.id, "3")
    assert dtm.timedelta(seconds=1) <= caught.value.retry_after <= dtm.timedelta(seconds=60)


async def test_documents_keep_their_bytes_and_can_be_downloaded(harness):
    anna = harness.user("Anna")
    pdf = b"%PDF-1.7 ticket KASSA-7"
    sent = await harness.bot.send_document(
        anna.id, InputFile(pdf, filename="ticket.pdf"), caption="<b>Your ticket</b>",
        parse_mode="HTML",
    )

    message = anna.documents[-1]
    assert message.document is not None
    assert (message.document.file_name, message.document.data) == ("ticket.pdf", pdf)
    assert message.caption == "Your ticket"
    assert message.document.mime_type == "application/pdf"
    telegram_file = await harness.bot.get_file(sent.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == pdf


async def test_invoice_payment_runs_pre_checkout_then_successful_payment(harness):
    receipts: list[str] = []

    async def buy(update: Update, context: Context) -> None:
        await update.effective_message.reply_invoice(
            title="Berlin → Munich",
            description="Seat 4A, 08:15",
            payload="order-17",
            provider_token="TEST:provider",
            currency="EUR",
            prices=[LabeledPrice("Fare", 2990), LabeledPrice("Seat", 300)],
        )

    async def check(update: Update, context: Context) -> None:
        query = update.pre_checkout_query
        if query.invoice_payload == "order-17":
            await query.answer(ok=True)
        else:
            await query.answer(ok=False, error_message="This hold has expired")

    async def paid(update: Update, context: Context) -> None:
        payment = update.effective_message.successful_payment
        receipts.append(f"{payment.invoice_payload}:{payment.total_amount}{payment.currency}")
        await update.effective_message.reply_text("Paid, thank you!")

    harness.application.add_handler(CommandHandler("buy", buy))
    harness.application.add_handler(PreCheckoutQueryHandler(check))
    harness.application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid))
    anna = harness.user("Anna")
    await anna.send("/buy")
    invoice = anna.invoices[-1]
    assert invoice.invoice is not None
    assert invoice.invoice.total_amount == 3290

    result = await anna.pay(invoice)

    assert result.ok and result.message is not None
    assert receipts == ["order-17:3290EUR"]
    assert anna.last_message.text == "Paid, thank you!"
    with pytest.raises(EmulatorUsageError, match="already paid"):
        await anna.pay(invoice)


async def test_a_declined_pre_checkout_sends_no_payment(harness):
    async def decline(update: Update, context: Context) -> None:
        await update.pre_checkout_query.answer(ok=False, error_message="Seat was sold")

    harness.application.add_handler(PreCheckoutQueryHandler(decline))
    anna = harness.user("Anna")
    await harness.bot.send_invoice(
        anna.id, "Trip", "Seat 1", "p-1", "EUR", [LabeledPrice("Fare", 100)],
        provider_token="TEST:provider",
    )
    result = await anna.pay()
    assert (result.ok, result.answered, result.error_message) == (False, True, "Seat was sold")
    assert result.message is None


async def test_handler_errors_are_recorded_and_raised_where_the_update_was_sent(emulator):
    async def broken(update: Update, context: Context) -> None:
        raise ValueError("no trips today")

    app = emulated_builder(emulator).build()
    app.add_handler(MessageHandler(filters.TEXT, broken))
    async with BotHarness(app, emulator, raise_errors=False) as harness:
        anna = harness.user("Anna")
        await anna.send("trips?")
        assert [str(e) for e in harness.errors] == ["no trips today"]
        with pytest.raises(AssertionError, match="raised 1 error"):
            harness.assert_no_errors()
        harness.raise_errors = True
        with pytest.raises(ValueError, match="no trips today"):
            await anna.send("again?")


async def test_group_commands_use_the_bot_username_and_privacy_mode(harness):
    harness.application.add_handler(CommandHandler("trips", echo))
    harness.application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    anna, ben = harness.user("Anna"), harness.user("Ben")
    group = harness.group("Dispatch", [anna, ben])

    await anna.send("/trips@kassa_test_bot", chat=group)
    await ben.send("/trips@some_other_bot", chat=group)
    await ben.send("chatting among ourselves", chat=group)
    await ben.send("@kassa_test_bot hello", chat=group)

    assert [m.text for m in group.messages] == ["/trips@kassa_test_bot", "@kassa_test_bot hello"]
    assert anna.messages == []


async def test_reply_keyboard_contact_button_shares_the_phone_number(harness):
    phones: list[str] = []

    async def ask(update: Update, context: Context) -> None:
        button = KeyboardButton("Share my phone", request_contact=True)
        markup = ReplyKeyboardMarkup([[button]], one_time_keyboard=True)
        await update.effective_message.reply_text("We need your phone", reply_markup=markup)

    async def contact(update: Update, context: Context) -> None:
        phones.append(update.effective_message.contact.phone_number)

    harness.application.add_handler(CommandHandler("start", ask))
    harness.application.add_handler(MessageHandler(filters.CONTACT, contact))
    anna = harness.user("Anna")
    await anna.send("/start")
    assert anna.last_message.reply_keyboard == [["Share my phone"]]

    await anna.tap("Share my phone")

    assert phones == [anna.phone_number]
    with pytest.raises(EmulatorUsageError, match="no reply keyboard"):
        await anna.tap("Share my phone")  # one_time_keyboard hid it


async def test_deleted_messages_disappear_and_cannot_be_deleted_twice(harness):
    anna = harness.user("Anna")
    first = await harness.bot.send_message(anna.id, "Searching…")
    await harness.bot.send_chat_action(anna.id, "typing")
    await harness.bot.delete_message(anna.id, first.message_id)
    assert anna.messages == []
    assert anna.chat_actions == ["typing"]
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await harness.bot.delete_message(anna.id, first.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await harness.bot.edit_message_text("x", chat_id=anna.id, message_id=999)


async def test_commands_are_stored_per_scope_and_language(harness, emulator):
    await harness.bot.set_my_commands([("start", "Start"), ("trips", "My trips")])
    await harness.bot.set_my_commands([("start", "Начать")], language_code="ru")
    assert [c.command for c in await harness.bot.get_my_commands()] == ["start", "trips"]
    assert [c.description for c in await harness.bot.get_my_commands(language_code="ru")] == [
        "Начать"
    ]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await harness.bot.set_my_commands([("Book-Now", "x")])


def test_emulator_defaults_are_a_plain_bot():
    emulator = BotApiEmulator()
    assert emulator.bot.id == 123
    assert emulator.bot.is_bot
