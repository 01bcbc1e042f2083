"""Telegram Payments through the emulator: the invoice, pre-checkout answered only for a live
hold and its amount, the successful payment applied once, then the tickets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from booking.model import OrderStatus
from bot.settings import Settings
from storage import tables as t
from tests.conversation_support import running_bot, seed
from tests.test_payments_web import held_booking


@pytest.fixture
async def bot(engine, clock, booking_transport):
    await seed(engine, clock)
    settings = Settings(_env_file=None, payment_provider="telegram",
                        telegram_payment_token="284685063:TEST:provider")
    async with running_bot(engine, clock, settings=settings,
                           transport=booking_transport) as running:
        yield running


async def test_pay_with_an_invoice_in_the_chat(bot, engine):
    user, view = await held_booking(bot)
    label = next(t for t in user.last_message.button_texts() if t.startswith("💳 Pay"))
    await user.press(label)
    invoice = user.last_message.invoice
    assert invoice is not None and invoice.total_amount == view.amount
    assert invoice.currency == view.currency and invoice.payload == view.id
    result = await user.pay()
    assert result.ok
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.PAID
    await bot.run_jobs()
    assert any("Booking reference" in (m.text or "") for m in user.messages)
    async with engine.connect() as conn:
        events = (await conn.execute(select(func.count()).select_from(t.payment_events)))
        assert events.scalar() == 1
    bot.harness.assert_no_errors()


async def test_pre_checkout_refused_once_the_hold_has_run_out(bot, clock):
    user, view = await held_booking(bot)
    label = next(t for t in user.last_message.button_texts() if t.startswith("💳 Pay"))
    await user.press(label)
    clock.advance(minutes=16)
    result = await user.pay()
    assert not result.ok and result.answered
    assert "expired" in (result.error_message or "")
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.EXPIRED


ADMIN_ID = 900


@pytest.fixture
async def paid_with_an_admin(engine, clock, booking_transport):
    """A booking paid by invoice, on a bot with an admin who has written to it."""
    await seed(engine, clock)
    settings = Settings(_env_file=None, payment_provider="telegram",
                        telegram_payment_token="284685063:TEST:provider", admin_ids=[ADMIN_ID])
    async with running_bot(engine, clock, settings=settings,
                           transport=booking_transport) as bot:
        admin = bot.user("Ada", user_id=ADMIN_ID)
        await admin.send("/start")
        user, view = await held_booking(bot)
        await user.press(next(t for t in user.last_message.button_texts()
                              if t.startswith("💳 Pay")))
        assert (await user.pay()).ok
        await bot.run_jobs()
        yield bot, admin, user, view


async def test_a_refund_telegram_cannot_make_is_asked_of_an_admin_and_promised(
        paid_with_an_admin, engine):
    bot, admin, user, view = paid_with_an_admin
    await bot.services.booking.cancel(view.id, user.id)
    await bot.run_jobs()
    await bot.run_jobs()  # nothing is asked or said twice
    asked = [m.text for m in admin.messages if "by hand" in (m.text or "")]
    assert len(asked) == 1 and view.id in asked[0]
    assert "payment provider's dashboard" in asked[0]
    told = [m.text for m in user.messages if "will be refunded to you" in (m.text or "")]
    assert len(told) == 1 and "on its way" not in told[0]
    async with engine.connect() as conn:
        refund = (await conn.execute(select(t.outbox.c.status, t.outbox.c.last_error)
                                     .where(t.outbox.c.kind == "refund"))).one()
        payment = (await conn.execute(select(t.payments.c.status))).scalar_one()
    # The refund is not pretended: the row records it is still to be made by hand.
    assert refund.status == "failed" and "dashboard" in refund.last_error
    assert payment == "succeeded"
    bot.harness.assert_no_errors()


async def test_a_cancelled_trips_refund_by_hand_is_promised_not_said_to_be_on_its_way(
        paid_with_an_admin):
    bot, admin, user, view = paid_with_an_admin
    await bot.services.trip_changes.cancel(ADMIN_ID, view.trip_id, "Coach broke down")
    await bot.run_jobs()
    await bot.run_jobs()
    [notice] = [m.text for m in user.messages if "is cancelled" in (m.text or "")]
    assert "will be refunded to you" in notice and "on its way" not in notice
    # The cancellation's notice said it: no second notice of the same refund.
    assert sum("will be refunded" in (m.text or "") for m in user.messages) == 1
    assert [m for m in admin.messages if "by hand" in (m.text or "")]
    bot.harness.assert_no_errors()
