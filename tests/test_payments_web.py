"""Paying through the sandbox: the Pay button, the checkout page, the signed webhook, exactly
once — through the emulator and Kassa's real web server on loopback, on both databases."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from booking import sandbox
from booking.model import OrderStatus
from booking.providers import PaymentEventType, ProviderEvent
from bot.web import make_web_app
from storage import tables as t
from tests.conversation_support import Bot, running_bot, seed
from tests.test_tickets_pdf import page_image, qr_text, text_of


@asynccontextmanager
async def web_server(bot: Bot) -> AsyncIterator[str]:
    """Kassa's web app on a free loopback port; yields its base URL."""
    runner = web.AppRunner(make_web_app(bot.services, bot.sandbox, "Test Coaches"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def bot(engine, clock, booking_transport):
    await seed(engine, clock)
    async with running_bot(engine, clock, transport=booking_transport) as running:
        yield running


async def held_booking(bot: Bot, name: str = "Anna", passenger: str = "Anna Lee", *,
                       user=None, day: str = "tomorrow"):
    """``name`` (or ``user``) holding one seat on ``day``'s first trip from Beijing to
    Tianjin; the person and the hold."""
    user = user or bot.user(name)
    await user.send(f"Beijing to Tianjin {day}")
    first_trip = next(t for t in user.last_message.button_texts() if t.startswith("1."))
    await user.press(first_trip)
    await user.press("1")
    await user.press("Any seat")
    await user.send(passenger)
    await user.press("✅ Confirm")
    [view] = [v for v in await bot.services.booking.orders_of(user.id)
              if v.status is OrderStatus.HELD]
    return user, view


def pay_url(message) -> str:
    urls = [b.get("url") for row in message.inline_keyboard for b in row if b.get("url")]
    assert urls, f"no Pay button on {message.text!r}"
    return str(urls[0])


async def test_pay_on_the_checkout_page_and_get_the_tickets(bot):
    user, view = await held_booking(bot)
    card = user.last_message
    assert "Pay before then" in card.text
    url = pay_url(card)
    async with web_server(bot) as base, aiohttp.ClientSession() as http:
        page_url = base + url[url.index("/pay/"):]
        async with http.get(page_url) as response:
            page = await response.text()
        assert response.status == 200
        assert "CN¥" in page and "Anna Lee" in page and "Beijing" in page
        assert 'method="post"' in page and "Seat held for" in page
        async with http.post(page_url, data={"action": "pay"}) as response:
            after = await response.text()
        assert "Paid" in after and 'name="action"' not in after
        # A second press of Pay (the form re-posted) changes nothing.
        async with http.post(page_url, data={"action": "pay"}) as response:
            assert response.status == 200
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.PAID
    await bot.run_jobs()
    texts = [m.text for m in user.messages]
    assert any(f"Booking reference: {view.id}" in (t or "") for t in texts)
    # One PDF per passenger and the trip's calendar file, in the chat.
    files = {m.document.file_name: m.document.data for m in user.messages if m.document}
    [pdf_name] = [n for n in files if n.endswith(".pdf")]
    assert [n for n in files if n.endswith(".ics")]
    pdf = files[pdf_name]
    assert "Anna Lee" in text_of(pdf)[0] and view.id in text_of(pdf)[0].replace("\r\n", "")
    # The QR code on the page is the ticket's signed code, which checks in.
    code = qr_text(page_image(pdf))
    [ticket] = await bot.services.booking.tickets(view.id, None)
    assert code == ticket.code
    bot.harness.assert_no_errors()


async def test_decline_tells_the_passenger_and_keeps_the_hold(bot):
    user, view = await held_booking(bot)
    url = pay_url(user.last_message)
    async with web_server(bot) as base, aiohttp.ClientSession() as http:
        page_url = base + url[url.index("/pay/"):]
        async with http.post(page_url, data={"action": "decline"}) as response:
            after = await response.text()
    assert "declined" in after
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.HELD
    await bot.run_jobs()
    assert "The payment was declined" in user.last_message.text
    assert pay_url(user.last_message)


async def test_expired_and_tampered_links_offer_no_pay(bot, clock, engine):
    user, view = await held_booking(bot)
    url = pay_url(user.last_message)
    async with web_server(bot) as base, aiohttp.ClientSession() as http:
        page_url = base + url[url.index("/pay/"):]
        tampered = page_url[:-3] + ("AAA" if not page_url.endswith("AAA") else "BBB")
        async with http.get(tampered) as response:
            assert response.status == 404
            assert 'name="action"' not in await response.text()
        clock.advance(minutes=16)
        async with http.get(page_url) as response:
            page = await response.text()
        assert "no longer on hold" in page and 'name="action"' not in page
        # Pay pressed on a page left open, before the sweep has marked the hold expired:
        # nothing is charged.
        async with http.post(page_url, data={"action": "pay"}) as response:
            assert response.status == 200
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.payments))).scalar() == 0
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.EXPIRED


def signed(event: ProviderEvent, secret: bytes, timestamp: int) -> tuple[bytes, dict[str, str]]:
    body = sandbox.event_body(event)
    return body, {sandbox.SIGNATURE_HEADER: sandbox.signature(body, secret, timestamp),
                  "Content-Type": "application/json"}


async def test_webhook_refuses_what_it_cannot_trust(bot, engine):
    _user, view = await held_booking(bot)
    secret = bot.sandbox.webhook_secret
    now = int(bot.services.booking.now().timestamp())
    good = ProviderEvent("sandbox", "evt_1", PaymentEventType.SUCCEEDED, view.id, view.amount,
                         view.currency)
    cases = {
        "missing": (sandbox.event_body(good), {}, 401, "bad_signature"),
        "forged": (*signed(good, b"not-our-secret", now), 401, "bad_signature"),
        "stale": (*signed(good, secret, now - 301), 401, "stale_signature"),
        "unknown order": (*signed(ProviderEvent("sandbox", "evt_2", good.type, "f" * 32,
                                                good.amount, good.currency), secret, now),
                          404, "unknown_order"),
        "amount": (*signed(ProviderEvent("sandbox", "evt_3", good.type, view.id,
                                         good.amount + 1, good.currency), secret, now),
                   422, "amount_mismatch"),
        "currency": (*signed(ProviderEvent("sandbox", "evt_4", good.type, view.id,
                                           good.amount, "EUR"), secret, now),
                     422, "currency_mismatch"),
    }
    unknown_type = json.dumps({"id": "evt_5", "type": "payment.weird", "order": view.id,
                               "amount": view.amount, "currency": view.currency}).encode()
    cases["unknown type"] = (unknown_type, {sandbox.SIGNATURE_HEADER: sandbox.signature(
        unknown_type, secret, now)}, 400, "bad_payment_event")
    async with web_server(bot) as base, aiohttp.ClientSession() as http:
        for name, (body, headers, status, code) in cases.items():
            async with http.post(f"{base}/payments/sandbox/webhook", data=body,
                                 headers=headers) as response:
                answer = await response.json()
            assert (response.status, answer["error"]["code"]) == (status, code), name
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.HELD
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.payments))).scalar() == 0


async def test_fifty_deliveries_of_one_event_confirm_once(bot, engine):
    user, view = await held_booking(bot)
    event = ProviderEvent("sandbox", "evt_once", PaymentEventType.SUCCEEDED, view.id,
                          view.amount, view.currency)
    body, headers = signed(event, bot.sandbox.webhook_secret,
                           int(bot.services.booking.now().timestamp()))
    async with web_server(bot) as base, aiohttp.ClientSession() as http:

        async def deliver() -> int:
            async with http.post(f"{base}/payments/sandbox/webhook", data=body,
                                 headers=headers) as response:
                return response.status

        statuses = await asyncio.gather(*(deliver() for _ in range(50)))
    assert set(statuses) == {200}
    async with engine.connect() as conn:
        def count(table):
            return select(func.count()).select_from(table)
        assert (await conn.execute(count(t.payments))).scalar() == 1
        assert (await conn.execute(count(t.payment_events))).scalar() == 1
        assert (await conn.execute(count(t.tickets))).scalar() == 1
        sends = (await conn.execute(count(t.outbox).where(t.outbox.c.kind == "send_tickets")))
        assert sends.scalar() == 1
    await bot.run_jobs()
    references = [m for m in user.messages if re.search(r"Booking reference", m.text or "")]
    assert len(references) == 1


async def test_pay_pressed_in_two_tabs_at_once_charges_the_booking_once(bot, engine):
    # Both presses see the booking held, before either payment lands: the sandbox must not
    # make them two charges (one of them then refunded), as no real checkout would.
    user, view = await held_booking(bot)
    url = pay_url(user.last_message)
    async with web_server(bot) as base, aiohttp.ClientSession() as http:
        page_url = base + url[url.index("/pay/"):]

        async def press_pay() -> int:
            async with http.post(page_url, data={"action": "pay"}) as response:
                return response.status

        statuses = await asyncio.gather(*(press_pay() for _ in range(8)))
    assert set(statuses) == {200}
    async with engine.connect() as conn:
        payments = (await conn.execute(select(t.payments.c.status))).scalars().all()
        refunds = (await conn.execute(select(func.count()).select_from(t.outbox).where(
            t.outbox.c.kind == "refund"))).scalar()
    assert (payments, refunds) == (["succeeded"], 0)
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.PAID
    await bot.run_jobs()
    assert not [m for m in user.messages if m.text and "back to you" in m.text]
    bot.harness.assert_no_errors()


async def test_a_second_payment_is_refunded_as_such_and_the_tickets_stand(bot):
    # Two tabs, or a retried form: two payments of one booking, each with its own id.
    user, view = await held_booking(bot)
    for event_id in ("evt_first", "evt_second"):
        await bot.services.booking.handle_event(ProviderEvent(
            "sandbox", event_id, PaymentEventType.SUCCEEDED, view.id, view.amount,
            view.currency))
    await bot.run_jobs()
    await bot.run_jobs()
    [notice] = [m for m in user.messages if m.text and "back to you" in m.text]
    assert "was paid twice; your tickets stand" in notice.text
    assert "no longer available" not in notice.text
    assert notice.button_texts() == ["🎫 My tickets"]
    assert (await bot.services.booking.order(view.id)).status.value == "paid"
    bot.harness.assert_no_errors()


async def test_late_payment_after_resale_is_refunded_with_an_apology(bot, clock, engine):
    user, view = await held_booking(bot)
    clock.advance(minutes=16)
    # Someone else takes the seat meanwhile.
    seat = view.seats[0].seat
    await bot.services.customers.ensure(999, "Other Person")
    await bot.services.booking.hold(999, view.trip_id, view.origin.code, view.destination.code,
                                    ["Other Person"], [seat])
    event = ProviderEvent("sandbox", "evt_late", PaymentEventType.SUCCEEDED, view.id,
                          view.amount, view.currency)
    result = await bot.services.booking.handle_event(event)
    assert result is not None and result.outcome.value == "refund_needed"
    await bot.run_jobs()
    # The held card's own "expired" update may come after the apology: find the apology.
    apology = next(m for m in reversed(user.messages)
                   if m.text and "is on its way back to you" in m.text)
    async with engine.connect() as conn:
        status = (await conn.execute(select(t.payments.c.status))).scalar()
    assert status == "refunded"
    # The nearest trips with a seat are offered; one tap books the same stretch again.
    alternatives = [b for b in apology.button_texts() if "·" in b]
    assert alternatives
    await user.press(alternatives[0])
    assert "Pick 1 seat" in user.last_message.text
    await user.press("Any seat")
    assert "Please check your booking" in user.last_message.text  # the names are kept
    bot.harness.assert_no_errors()


async def test_my_tickets_sends_a_paid_orders_tickets_again(bot):
    user, view = await held_booking(bot)
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    await bot.run_jobs()
    await user.send("/mytickets")
    await user.press(next(t for t in user.last_message.button_texts() if "Beijing" in t))
    assert "Status: paid" in user.last_message.text
    assert f"Booking reference: {view.id}" in user.last_message.text
    await user.press("📄 Send my ticket again")
    references = [m for m in user.messages if "Paid. Booking reference" in (m.text or "")]
    assert len(references) == 2
    bot.harness.assert_no_errors()


async def test_a_trip_under_way_stays_listed_above_many_later_cancelled_bookings(bot, clock):
    user, paid = await held_booking(bot)
    await bot.services.booking.handle_event(bot.sandbox.event(paid, PaymentEventType.SUCCEEDED))
    for _ in range(11):  # holds on later trips, each cancelled
        await held_booking(bot, user=user, day="day after tomorrow")
        await user.press("Cancel this hold")
        await user.press("Yes, cancel it")
    clock.now = paid.departure + timedelta(minutes=10)  # on board, ticket in hand
    await user.send("/mytickets")
    listing = user.last_message
    assert "Upcoming: 1" in listing.text
    assert "Past and cancelled: 11, the latest 10 shown" in listing.text
    labels = [t for t in listing.button_texts() if "→" in t]
    assert labels[0].endswith("paid") and len(labels) == 11
    bot.harness.assert_no_errors()


async def test_the_held_card_counts_down_then_says_expired(bot, clock):
    user, _view = await held_booking(bot)
    card = user.last_message
    edits = card.edits
    await bot.run_jobs()
    assert card.edits == edits  # 15 minutes left: nothing to say yet
    clock.advance(minutes=10, seconds=30)
    await bot.run_jobs()
    assert "4 minutes left to pay" not in card.text and "5 minutes left to pay" in card.text
    await bot.run_jobs()
    assert card.edits == edits + 1  # shown once
    clock.advance(minutes=3, seconds=40)
    await bot.run_jobs()
    assert "1 minute left to pay" in card.text
    clock.advance(minutes=1)
    await bot.run_jobs()
    assert "⌛ The hold has run out and the seat was released." in card.text
    assert "expired" in card.text
    assert "🚌 Book another trip" in card.button_texts()
    assert not any(b.get("url") for r in card.inline_keyboard for b in r)
    assert card.edits == edits + 3
    # The passenger is also told in a message of its own (the outbox, from the sweep).
    assert "has expired and the seat was released." in user.last_message.text


async def test_a_two_seat_holds_expiry_says_the_seats_were_released(bot, clock):
    user = bot.user("Boris")
    await user.send("Beijing to Tianjin tomorrow 2 seats")
    await user.press(next(t for t in user.last_message.button_texts() if t.startswith("1.")))
    await user.press("Any seats")
    await user.send("Anna Lee")
    await user.send("Boris Lee")
    await user.press("✅ Confirm")
    card = user.last_message
    clock.advance(minutes=16)
    await bot.run_jobs()
    assert "⌛ The hold has run out and the seats were released." in card.text
    assert "has expired and the seats were released." in user.last_message.text
    # The same trip again, from the notice: the two names are kept, the seats picked anew.
    assert "🔁 Same trip again" in card.button_texts()
    await user.press("🔁 Same trip again")
    assert "Pick 2 seats" in user.last_message.text
    await user.press("Any seats")
    assert "Anna Lee" in user.last_message.text and "Boris Lee" in user.last_message.text
    await user.press("✅ Confirm")
    assert "Your seats are held until" in user.last_message.text
    bot.harness.assert_no_errors()


async def test_no_same_trip_again_once_the_trip_has_left(bot, clock):
    user, _view = await held_booking(bot)
    card = user.last_message
    clock.advance(days=2)
    await bot.run_jobs()
    assert "expired" in card.text
    assert "🔁 Same trip again" not in card.button_texts()
    assert "🔁 Same trip again" not in user.last_message.button_texts()
    bot.harness.assert_no_errors()


async def test_tickets_not_yet_sent_are_sent_after_a_restart(engine, clock):
    await seed(engine, clock)
    emulator = None
    async with running_bot(engine, clock) as first:
        emulator = first.emulator
        user, view = await held_booking(first)
        await first.services.booking.handle_event(
            first.sandbox.event(view, PaymentEventType.SUCCEEDED))
        # The bot stops before its outbox worker ran: the tickets are owed, not lost.
    async with running_bot(engine, clock, emulator=emulator) as second:
        await second.run_jobs()
        assert any(f"Booking reference: {view.id}" in (m.text or "") for m in user.messages)
        assert [m for m in user.messages if m.document and m.document.file_name.endswith(".pdf")]
        second.harness.assert_no_errors()


async def test_a_held_booking_can_be_paid_from_my_tickets(bot):
    user, _view = await held_booking(bot)
    await user.send("/book")  # a new booking: the held card loses its buttons
    await user.send("/mytickets")
    await user.press(next(t for t in user.last_message.button_texts() if "Beijing" in t))
    assert pay_url(user.last_message)


async def test_a_holds_cancel_button_pressed_after_paying_cancels_nothing(bot):
    """The held card keeps its buttons until it is next shown: pressed after the payment
    came, "Cancel this hold" must not cancel (and refund by the policy) the paid booking."""
    user, view = await held_booking(bot)
    held_card = user.last_message
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    await user.press("Cancel this hold", message=held_card)
    [card] = [m for m in user.messages if m.message_id == held_card.message_id]
    assert "This booking is not on hold any more." in card.text
    assert "Cancel this hold" not in card.button_texts()
    order = await bot.services.booking.order(view.id, user.id)
    assert order.status is OrderStatus.PAID and order.refund_amount is None
    bot.harness.assert_no_errors()


async def test_a_ticket_set_that_fails_part_way_sends_only_the_rest_again(bot, clock, engine):
    user, view = await held_booking(bot)
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    # The card goes; the PDF after it meets a Telegram outage, so the .ics is not reached.
    bot.emulator.fail_next("sendDocument", chat_id=user.id, error_code=502,
                           description="Bad Gateway")
    await bot.jobs.deliver_outbox(bot.harness.application)
    cards = [m for m in user.messages if f"Booking reference: {view.id}" in (m.text or "")]
    assert len(cards) == 1 and not [m for m in user.messages if m.document]
    async with engine.connect() as conn:
        parts, status = (await conn.execute(
            select(t.outbox.c.parts_sent, t.outbox.c.status)
            .where(t.outbox.c.kind == "send_tickets"))).one()
    assert (parts, status) == (1, "pending")
    clock.advance(minutes=10)  # past the retry's back-off
    await bot.jobs.deliver_outbox(bot.harness.application)
    cards = [m for m in user.messages if f"Booking reference: {view.id}" in (m.text or "")]
    names = [m.document.file_name for m in user.messages if m.document]
    assert len(cards) == 1  # not sent twice
    assert [n.rsplit(".", 1)[1] for n in names] == ["pdf", "ics"]  # each once, in order
    bot.harness.assert_no_errors()
