"""Check-in: staff by code or QR photo in the chat, scanners over HTTP; passengers refused."""

from __future__ import annotations

import io

import aiohttp
import pytest
import segno
from aiohttp import web
from sqlalchemy import select

from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus, TicketStatus
from booking.providers import PaymentEventType
from booking.ticketing import SCANNER_APP
from booking.tickets.codes import public_key_pem
from bot.settings import Settings
from bot.web import make_web_app
from storage import tables as t
from tests.conversation_support import Bot, running_bot, seed
from tests.test_payments_web import held_booking

STAFF_ID = 777001


@pytest.fixture
async def bot(engine, clock, booking_transport):
    await seed(engine, clock)
    settings = Settings(_env_file=None, staff_ids=[STAFF_ID])
    async with running_bot(engine, clock, settings=settings,
                           transport=booking_transport) as running:
        yield running


async def paid_ticket(bot: Bot):
    _user, view = await held_booking(bot)
    await bot.services.booking.handle_event(bot.sandbox.event(view, PaymentEventType.SUCCEEDED))
    [ticket] = await bot.services.booking.tickets(view.id, None)
    return ticket.code, view


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(text).save(out, kind="png", scale=8, border=4)
    return out.getvalue()


async def check_in_rows(engine) -> list[tuple[int, str, dict]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(t.staff_actions.c.staff_id, t.staff_actions.c.target,
                                         t.staff_actions.c.detail)
                                  .where(t.staff_actions.c.action == "check_in"))
        return [tuple(row) for row in rows]


async def test_staff_check_in_by_code_then_again(bot, clock, engine):
    code, _view = await paid_ticket(bot)
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    await staff.send(f"/checkin {code}")
    assert "✅ Valid. Checked in now." in staff.last_message.text
    assert "Anna Lee" in staff.last_message.text
    checked_in = clock().astimezone(_view.departure.tzinfo)
    await staff.send(f"/checkin {code}")
    text = staff.last_message.text
    assert "Already used" in text and "(checked in by Sam)" in text
    # At the trip's wall clock (Beijing's), not the server's, dated as it is not the day
    # of the trip.
    assert f"Already used at Jun 1 {checked_in:%-I:%M %p}" in text.replace("\u202f", " ")
    # Audited once, as every staff action is: who, which trip, which ticket.
    [(staff_id, trip, detail)] = await check_in_rows(engine)
    assert (staff_id, trip) == (STAFF_ID, str(_view.trip_id))
    assert detail["order"] == _view.id and detail["seat"] == _view.seats[0].seat
    bot.harness.assert_no_errors()


async def test_staff_check_in_by_photo_of_the_qr_code(bot):
    code, _view = await paid_ticket(bot)
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    await staff.send_photo(qr_png(code))
    assert "✅ Valid. Checked in now." in staff.last_message.text
    await staff.send_photo(qr_png("hello, no ticket here"))
    assert "Not a valid ticket" in staff.last_message.text


async def test_forged_and_void_tickets(bot):
    code, view = await paid_ticket(bot)
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    changed = code[:-5] + ("A" if code[-5] != "A" else "B") + code[-4:]
    await staff.send(f"/checkin {changed}")
    assert "Not a valid ticket" in staff.last_message.text
    await bot.services.booking.cancel(view.id, view.customer_id)
    await staff.send(f"/checkin {code}")
    assert "Void" in staff.last_message.text


async def test_a_ticket_used_then_refunded_with_its_cancelled_trip_is_void(bot):
    code, view = await paid_ticket(bot)
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    await staff.send(f"/checkin {code}")
    assert "✅ Valid. Checked in now." in staff.last_message.text
    await bot.services.trip_changes.cancel(STAFF_ID, view.trip_id, "Snow")
    assert (await bot.services.booking.order(view.id, None)).status is OrderStatus.REFUNDED
    await staff.send(f"/checkin {code}")
    assert "Void" in staff.last_message.text and "Already used" not in staff.last_message.text
    bot.harness.assert_no_errors()


async def test_a_passenger_is_told_it_is_for_staff(bot):
    code, view = await paid_ticket(bot)
    passenger = bot.user("Pat")
    await passenger.send("/start")
    await passenger.send(f"/checkin {code}")
    assert "staff only" in passenger.last_message.text
    [ticket] = await bot.services.booking.tickets(view.id, None)
    assert ticket.status is TicketStatus.VALID


async def test_scanner_api_verifies_with_its_token(bot, engine):
    code, _view = await paid_ticket(bot)
    codes = bot.backend.booking.codes  # type: ignore[attr-defined]
    app = make_web_app(bot.services, bot.sandbox, "Test Coaches",
                       public_key_pem=public_key_pem(codes.signer.public_key),
                       scanner_token="scan-secret")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/tickets/public-key") as response:
                assert "BEGIN PUBLIC KEY" in await response.text()
            async with http.post(f"{base}/tickets/verify", json={"code": code}) as response:
                assert response.status == 401
            auth = {"Authorization": "Bearer scan-secret"}
            async with http.post(f"{base}/tickets/verify", json={"code": code},
                                 headers=auth) as response:
                assert (await response.json())["outcome"] == "checked_in"
            async with http.post(f"{base}/tickets/verify", json={"code": code},
                                 headers=auth) as response:
                assert (await response.json())["outcome"] == "already_used"
            async with http.post(f"{base}/tickets/verify", data=b"not json",
                                 headers=auth) as response:
                assert response.status == 400
            async with http.post(f"{base}/tickets/verify", json={"code": "K1.XYZ"},
                                 headers=auth) as response:
                assert (await response.json())["outcome"] == "forged"
        [(staff_id, _trip, _detail)] = await check_in_rows(engine)
        assert staff_id == SCANNER_APP
    finally:
        await runner.cleanup()


async def test_a_booking_with_a_ticket_checked_in_is_not_refunded(bot):
    code, view = await paid_ticket(bot)
    booking = bot.services.booking
    assert (await booking.order(view.id, view.customer_id)).cancellable
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    await staff.send(f"/checkin {code}")
    assert "✅ Valid. Checked in now." in staff.last_message.text
    after = await booking.order(view.id, view.customer_id)
    assert not after.cancellable  # the seat has been used
    with pytest.raises(BookingError) as quoted:
        await booking.cancellation_quote(view.id, view.customer_id)
    assert quoted.value.code is ErrorCode.NOT_CANCELLABLE
    assert quoted.value.params == {"status": "checked_in"}
    with pytest.raises(BookingError):
        await booking.cancel(view.id, view.customer_id)
    unchanged = await booking.order(view.id, view.customer_id)
    assert unchanged.status is OrderStatus.PAID and unchanged.refund_amount is None
    [ticket] = await booking.tickets(view.id, None)
    assert ticket.status is TicketStatus.USED
    bot.harness.assert_no_errors()


async def test_codes_sent_after_checkin_on_its_own_are_each_checked(bot):
    first, _view = await paid_ticket(bot)
    second, _other = await paid_ticket(bot)
    staff = bot.user("Sam", user_id=STAFF_ID)
    await staff.send("/start")
    await staff.send("/checkin")
    assert "Send the ticket code (K1.…)" in staff.last_message.text
    await staff.send(first)
    assert "✅ Valid. Checked in now." in staff.last_message.text
    await staff.send(f" {second.lower()} ")  # as typed: the case and spaces do not matter
    assert "✅ Valid. Checked in now." in staff.last_message.text
    await staff.send(first)
    assert "Already used" in staff.last_message.text
    # Not a code: the booking dialogue answers it, and the codes' turn is over.
    await staff.send("Beijing to Tianjin tomorrow")
    assert "Valid" not in staff.last_message.text and "ticket" not in staff.last_message.text
    bot.harness.assert_no_errors()
