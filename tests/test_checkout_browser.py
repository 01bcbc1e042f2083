"""The checkout page in a real browser: Debian's chromium, headless, on a 360x740 phone screen,
driven by Playwright. The bot runs through the emulator and Kassa's web app is served on
loopback, on both databases; the passenger opens the link the bot sent and presses the buttons.

Screenshots are kept under test-artifacts/ (git-ignored); the test prints where.
Playwright never downloads a browser here: it launches /usr/bin/chromium (`make install`
installs it as root). Without it the tests are skipped on a developer machine and fail under
CI=true.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from booking.model import OrderStatus
from locales import texts
from tests.conftest import IN_CI
from tests.conversation_support import running_bot, seed
from tests.test_payments_web import held_booking, pay_url, web_server

# Debian's chromium; KASSA_TEST_CHROMIUM points elsewhere (tests/test_ci_guard.py points it at
# nothing to see the test fail under CI=true and skip otherwise).
CHROMIUM = Path(os.environ.get("KASSA_TEST_CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
WIDTH, HEIGHT = 360, 740
MIN_TAP_HEIGHT = 44  # px: the smallest comfortable touch target
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(autouse=True)
def require_chromium() -> None:
    """Checked before anything else is set up: skip, or fail under CI=true."""
    if CHROMIUM.exists():
        return
    reason = (f"Debian's chromium is not installed ({CHROMIUM}); `make install` as root, or "
              "`apt-get install chromium`, installs it")
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh headless chromium tab with a 360x740 phone viewport."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1,
                is_mobile=True, has_touch=True, locale="en-GB")
            tab = await context.new_page()
            tab.set_default_timeout(15_000)
            yield tab
        finally:
            await browser.close()


@pytest.fixture
async def bot(engine, clock):
    await seed(engine, clock)
    async with running_bot(engine, clock) as running:
        yield running


def local_link(base: str, url: str) -> str:
    """The link the bot sent, pointed at the web app this test serves."""
    return base + url[url.index("/pay/"):]


async def screenshot(page: Page, name: str, database_url: str) -> None:
    """A full-page picture kept under test-artifacts/ (from the SQLite run only: both databases
    render the same page)."""
    if not database_url.startswith("sqlite"):
        return
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path.relative_to(ARTIFACTS.parent)}")


def pay_button(page: Page):
    return page.get_by_role("button", name=re.compile(r"^Pay\b"))


async def test_open_the_link_see_the_order_pay_and_get_the_tickets(bot, page, database_url):
    user, view = await held_booking(bot)
    _ = texts("en")
    amount = _.price(view.amount, view.currency)
    async with web_server(bot) as base:
        response = await page.goto(local_link(base, pay_url(user.last_message)))
        assert response is not None and response.status == 200
        body = page.locator("body")
        await expect(body).to_contain_text(amount)
        for seat in view.seats:
            await expect(body).to_contain_text(f"{seat.seat} — {seat.passenger}")
        await expect(body).to_contain_text("Anna Lee")
        await expect(body).to_contain_text("Beijing → Tianjin")
        await expect(body).to_contain_text("Seat held for")
        await expect(pay_button(page)).to_have_text(f"Pay {amount}")
        await screenshot(page, "checkout-360.png", database_url)
        await pay_button(page).click()
        await expect(body).to_contain_text("Paid. Your tickets are on their way to the chat.")
        await expect(page.get_by_role("button")).to_have_count(0)
        await screenshot(page, "checkout-360-paid.png", database_url)
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.PAID
    await bot.run_jobs()
    assert any(f"Booking reference: {view.id}" in (m.text or "") for m in user.messages)
    bot.harness.assert_no_errors()


async def test_decline_says_declined_keeps_the_hold_and_tells_the_passenger(bot, page,
                                                                            database_url):
    user, view = await held_booking(bot)
    async with web_server(bot) as base:
        await page.goto(local_link(base, pay_url(user.last_message)))
        await page.get_by_role("button", name="Decline").click()
        body = page.locator("body")
        await expect(body).to_contain_text("Payment declined. Your seats stay held until")
        # The hold stays, so the page still offers Pay.
        await expect(pay_button(page)).to_be_visible()
        await screenshot(page, "checkout-360-declined.png", database_url)
    assert (await bot.services.booking.order(view.id)).status is OrderStatus.HELD
    await bot.run_jobs()
    assert "The payment was declined" in user.last_message.text
    assert pay_url(user.last_message)
    bot.harness.assert_no_errors()


async def test_expired_hold_and_tampered_link_offer_no_pay(bot, page, clock, database_url):
    user, _view = await held_booking(bot)
    async with web_server(bot) as base:
        link = local_link(base, pay_url(user.last_message))
        tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        response = await page.goto(tampered)
        assert response is not None and response.status == 404
        await expect(page.locator("body")).to_contain_text("This payment link is not valid.")
        await expect(page.get_by_role("button")).to_have_count(0)
        await screenshot(page, "checkout-360-not-valid.png", database_url)

        clock.advance(minutes=16)
        response = await page.goto(link)
        assert response is not None and response.status == 200
        await expect(page.locator("body")).to_contain_text(
            "This booking is no longer on hold, so it cannot be paid.")
        await expect(page.get_by_role("button")).to_have_count(0)
        await screenshot(page, "checkout-360-expired.png", database_url)


async def assert_fits_the_phone(page: Page) -> None:
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= WIDTH, f"horizontal scroll: the page is {scroll_width}px wide"
    buttons = page.get_by_role("button")
    for index in range(await buttons.count()):
        box = await buttons.nth(index).bounding_box()
        assert box is not None
        assert box["height"] >= MIN_TAP_HEIGHT, f"button {index} is {box['height']}px tall"
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH


async def test_the_page_is_readable_on_a_360px_phone(bot, page, database_url):
    # A long unbroken passenger name (no space, no hyphen) must wrap, not widen the page.
    passenger = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessen"
    user, _view = await held_booking(bot, passenger=passenger)
    async with web_server(bot) as base:
        await page.goto(local_link(base, pay_url(user.last_message)))
        await expect(page.locator("body")).to_contain_text(passenger)
        await expect(page.get_by_role("button")).to_have_count(2)
        await assert_fits_the_phone(page)
        font_size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert font_size >= 16, f"body text is {font_size}px"
        await screenshot(page, "checkout-360-long-name.png", database_url)
        await page.get_by_role("button", name="Decline").click()
        await expect(page.locator("body")).to_contain_text("Payment declined")
        await assert_fits_the_phone(page)
