"""/stats through the emulator: the chart is a real PNG, and the numbers beside it are the
sales, refunds and load factor of the seeded bookings; bad periods and passengers refused."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, timedelta

import pytest
from PIL import Image

from booking.model import Station
from booking.providers import PaymentEventType
from booking.stats import RouteDay, SalesReport
from handlers.stats import route_lines, summary_text
from locales import texts
from tests.conversation_support import staff_bot
from tests.test_payments_web import held_booking

STAFF_ID = 920001


@pytest.fixture
async def bot(engine, clock):
    async with staff_bot(engine, clock, staff_ids=[STAFF_ID]) as running:
        yield running


async def test_stats_chart_and_numbers(bot, clock):
    _anna, kept = await held_booking(bot, passenger="Anna Lee")
    await bot.services.booking.handle_event(bot.sandbox.event(kept, PaymentEventType.SUCCEEDED))
    wang, refunded = await held_booking(bot, name="Wang", passenger="王伟")
    await bot.services.booking.handle_event(
        bot.sandbox.event(refunded, PaymentEventType.SUCCEEDED))
    cancelled = await bot.services.booking.cancel(refunded.id, wang.id)
    refund = cancelled.refund_amount or 0
    assert refund > 0
    await bot.run_jobs()
    _olga, _lapsed = await held_booking(bot, name="Olga", passenger="Ольга")  # never paid
    clock.advance(days=2)  # the trips have run: they are in the last days' figures
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/stats 3")
    photo = next(m for m in reversed(member.chat.bot_messages) if m.photo is not None)
    image = Image.open(io.BytesIO(photo.photo.data))
    assert image.format == "PNG" and image.size[0] >= 800
    caption = photo.caption or ""
    assert "Tickets sold: 2" in caption  # the refunded one was sold too; the lapsed hold not
    price = kept.amount
    assert f"Revenue: CN¥{price * 2 / 100:.2f}" in caption
    assert f"Refunds: CN¥{refund / 100:.2f}" in caption
    assert "€" not in caption  # no revenue in a currency, no line for it
    table = member.last_message.text
    route = "Beijing → Tianjin"
    [route_line] = [line for line in table.splitlines()
                    if route in line and not line.strip().startswith(f"{route}: 0 ")]
    # One seat of 19 still sold, over the whole route, on one of that day's 7 trips.
    assert route_line.strip() == (
        f"Beijing → Tianjin: 2 · CN¥{price * 2 / 100:.2f} · CN¥{refund / 100:.2f} · "
        f"{100 / (19 * 7):.1f}%")
    bot.harness.assert_no_errors()


@pytest.mark.parametrize("typed", ["/stats 0", "/stats 93", "/stats week", "/stats -1"])
async def test_a_bad_period_is_refused(bot, typed):
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send(typed)
    assert "from 1 to 92" in member.last_message.text
    bot.harness.assert_no_errors()


async def test_a_passenger_gets_no_stats(bot, clock):
    pat = bot.user("Pat")
    await pat.send("/stats")
    assert pat.last_message.text == "This is for staff only."
    with pytest.raises(Exception, match="not_staff"):
        await bot.services.stats.report(pat.id, 7, clock().date() - timedelta(days=0))


def test_a_share_is_written_the_local_way():
    assert texts("en").percent(0.0075) == "0.8%"
    assert texts("ru").percent(0.0075) == "0,8\xa0%"
    assert texts("zh").percent(0.5) == "50.0%"


def test_a_route_line_in_chinese_takes_the_full_width_colon():
    day = date(2026, 12, 4)
    row = RouteDay(route_id=1, route="BJS → TSN", day=day, trips=7, tickets=1, revenue=4800,
                   refunds=0, currency="CNY", seat_legs=1, capacity_legs=133)
    report = SalesReport(day, day, (row,), {1: ("BJS", "TSN")})
    stations = [Station("BJS", {"en": "Beijing", "zh": "北京"}, "Asia/Shanghai"),
                Station("TSN", {"en": "Tianjin", "zh": "天津"}, "Asia/Shanghai")]
    lines = route_lines(texts("zh"), report, day, stations)
    assert "  北京 → 天津：1 · ¥48.00 · ¥0.00 · 0.8%" in lines


async def test_stats_without_sales_write_their_zeros_with_a_currency(bot):
    member = bot.user("Sam", user_id=STAFF_ID)
    await member.send("/stats 3")
    photo = next(m for m in reversed(member.chat.bot_messages) if m.photo is not None)
    caption = (photo.caption or "").splitlines()
    assert "Tickets sold: 0" in caption
    # The demo network sells in yuan, euro and roubles: a zero in each, none bare.
    zeros = "CN¥0.00, €0.00, ₽0.00"
    assert f"Revenue: {zeros}" in caption and f"Refunds: {zeros}" in caption
    bot.harness.assert_no_errors()


def test_a_zero_is_written_in_the_currency_money_moved_in():
    day = date(2026, 12, 4)
    sold = RouteDay(route_id=1, route="BJS → TSN", day=day, trips=7, tickets=2, revenue=9600,
                    refunds=0, currency="CNY", seat_legs=2, capacity_legs=133)
    quiet = replace(sold, route_id=2, route="MOW → KZN", tickets=0, revenue=0, currency="RUB",
                    seat_legs=0)
    report = SalesReport(day, day, (sold, quiet), {1: ("BJS", "TSN"), 2: ("MOW", "KZN")})
    assert summary_text(texts("en"), report, 1).splitlines()[2:4] == [
        "Revenue: CN¥96.00", "Refunds: CN¥0.00"]
    assert summary_text(texts("ru"), report, 1).splitlines()[2:4] == [
        "Выручка: 96,00\xa0CN¥", "Возвраты: 0,00\xa0CN¥"]
    nothing = SalesReport(day, day, (), {})
    assert "Revenue: 0" in summary_text(texts("en"), nothing, 1).splitlines()  # no currency known
