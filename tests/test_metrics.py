"""Prometheus metrics: /metrics on Kassa's web app and on the booking API answers the text
exposition, and the counters move by exactly what happened (holds placed, refused and
expired; payments confirmed, repeated and refunded; updates; messages sent and 429s; HTTP
requests by route pattern) and the outbox backlog is what the table holds. Through the
emulator and the real web apps, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from booking.errors import BookingError
from booking.http_api import make_booking_api
from booking.providers import PaymentEventType
from bot.metrics import Metrics, observe_web_app, watch_outbox
from bot.services import booking_service, customer_service
from bot.settings import Settings
from bot.telegram_request import bot_api_method
from bot.web import make_web_app
from bot.webhook import SECRET_HEADER, UpdateReceiver
from storage import tables as t
from storage.idempotency import SqlIdempotencyStore
from storage.outbox import OutboxBacklog, backlog
from tests.booking_api_support import AUTH, TOKEN
from tests.conversation_support import Bot, running_bot, seed
from tests.factories import build_network
from tests.test_booking_http_api import hold_body
from tests.test_payments_web import held_booking, pay_url
from tests.test_webhook_mode import start_update

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: aiohttp.ClientSession, url: str, **kw) -> Samples:
    async with http.get(url, **kw) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(await answer.text())


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free loopback port (the checkout page posts to its own URL)."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def observed(engine, clock) -> AsyncIterator[tuple[Bot, Metrics]]:
    """The seeded bot, in-process, counting into one Metrics with the outbox watched."""
    await seed(engine, clock)
    metrics = Metrics()
    watch_outbox(metrics, engine, clock=clock)
    async with running_bot(engine, clock, metrics=metrics, raise_errors=False) as bot:
        yield bot, metrics


def web_app(bot: Bot, metrics: Metrics) -> web.Application:
    return make_web_app(bot.services, bot.sandbox, "Test Coaches", metrics=metrics)


async def test_a_booking_paid_on_the_page_moves_each_counter_by_what_happened(observed):
    bot, metrics = observed
    user, view = await held_booking(bot)
    # Two texts (the route, the name) and four taps (trip, count, seat, confirm).
    assert metrics.value("kassa_updates_total", kind="message", outcome="ok") == 2
    assert metrics.value("kassa_updates_total", kind="callback_query", outcome="ok") == 4
    assert metrics.value("kassa_update_duration_seconds_count", kind="callback_query") == 4
    assert metrics.value("kassa_holds_placed_total") == 1
    # The seat again, for someone else: refused with its code, and not placed.
    with pytest.raises(BookingError):
        await bot.services.booking.hold(user.id + 1, view.trip_id, view.origin.code,
                                        view.destination.code, ["Bo Li"], [view.seats[0].seat])
    assert metrics.value("kassa_holds_refused_total", reason="seat_taken") == 1
    assert metrics.value("kassa_holds_placed_total") == 1

    url = pay_url(user.last_message)
    async with serving(web_app(bot, metrics)) as base, aiohttp.ClientSession() as http:
        before = await scrape(http, base + "/metrics")
        # The hold wrote one outbox row (remember the passengers), due now, unclaimed.
        assert at(before, "kassa_outbox_backlog", state="pending") == 1
        assert at(before, "kassa_outbox_backlog", state="claimed") == 0
        page = base + url[url.index("/pay/"):]
        async with http.get(page) as answer:
            assert answer.status == 200
        async with http.post(page, data={"action": "pay"}) as answer:
            assert answer.status == 200  # after the 303 to the page again
        await bot.run_jobs()
        after = await scrape(http, base + "/metrics")

    assert at(after, "kassa_holds_placed_total") == 1
    assert at(after, "kassa_holds_refused_total", reason="seat_taken") == 1
    assert at(after, "kassa_payments_confirmed_total", outcome="paid") == 1
    # Each request by its route's pattern: the page's token is in no label.
    seconds = "kassa_http_request_duration_seconds_count"
    assert at(after, seconds, route="/pay/{token}", method="GET", status="200") == 2
    assert at(after, seconds, route="/pay/{token}", method="POST", status="303") == 1
    assert at(after, seconds, route="/payments/sandbox/webhook", method="POST",
              status="200") == 1
    assert at(after, seconds, route="/metrics", method="GET", status="200") == 1
    assert url.rsplit("/", 1)[-1] not in str(after)
    # The jobs delivered the passengers' note and the tickets: a card, a PDF and an .ics.
    documents = [m for m in user.messages if m.document is not None]
    assert len(documents) == 2
    assert at(after, "kassa_telegram_messages_sent_total", method="sendDocument") == 2
    assert at(after, "kassa_outbox_deliveries_total", outcome="sent") == 2
    assert at(after, "kassa_outbox_backlog", state="pending") == 0
    assert at(after, "kassa_outbox_oldest_due_seconds") == 0
    # Every method: as many as the Bot API answered, and nothing that is not a message.
    sent = {dict(labels)["method"]: value for (name, labels), value in after.items()
            if name == "kassa_telegram_messages_sent_total"}
    assert {"sendMessage", "editMessageText", "sendDocument"} <= set(sent)
    for method, count in sent.items():
        assert count == len([c for c in bot.emulator.calls_to(method) if c.error is None])
    assert not {"answerCallbackQuery", "setMyCommands"} & set(sent)
    assert at(after, "kassa_telegram_rate_limited_total", method="sendMessage") == 0


async def test_expiry_a_repeated_confirmation_and_a_refund_are_counted(observed, clock):
    bot, metrics = observed
    _late, _expiring = await held_booking(bot, "Ben", "Ben Ode")
    clock.advance(minutes=16)
    await bot.run_jobs()
    assert metrics.value("kassa_holds_expired_total") == 1

    user, view = await held_booking(bot, "Cai", "Cai Wen")
    event = bot.sandbox.event(view, PaymentEventType.SUCCEEDED)
    for _ in range(2):  # the provider sending its webhook again
        await bot.services.booking.handle_event(event)
    assert metrics.value("kassa_payments_confirmed_total", outcome="paid") == 1
    assert metrics.value("kassa_payments_confirmed_total", outcome="duplicate") == 1
    await bot.services.booking.cancel(view.id, user.id)
    assert metrics.value("kassa_payments_refunded_total", reason="cancelled") == 0
    await bot.run_jobs()  # the refund goes out through the outbox
    assert metrics.value("kassa_payments_refunded_total", reason="cancelled") == 1
    assert metrics.value("kassa_holds_placed_total") == 2


async def test_a_429_and_a_failed_update_are_counted(observed, monkeypatch):
    # PTB's RetryAfter warns of its retry_after's future type as it is made, which the
    # tests turn into an error of another kind: opted in, it is the RetryAfter it is in
    # production (whose failure the person is not told of: handlers/failures.py).
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    bot, metrics = observed
    user = bot.user("Dana")
    bot.emulator.fail_next("sendMessage", retry_after=3)
    await user.send("/start")  # its answer is refused: the handler raises RetryAfter
    assert user.messages == []
    assert metrics.value("kassa_telegram_rate_limited_total", method="sendMessage") == 1
    assert metrics.value("kassa_updates_total", kind="message", outcome="error") == 1
    assert metrics.value("kassa_telegram_messages_sent_total", method="sendMessage") == 0
    await user.send("/start")
    assert len(user.messages) == 1
    assert metrics.value("kassa_updates_total", kind="message", outcome="ok") == 1
    assert metrics.value("kassa_telegram_messages_sent_total", method="sendMessage") == 1


async def test_the_webhook_path_is_a_pattern_in_the_metrics_never_its_secret(observed, engine):
    bot, metrics = observed
    app = web_app(bot, metrics)
    receiver = UpdateReceiver(bot.harness.application, engine, b"test-secret-key")
    receiver.add_routes(app)
    user = bot.user("Emil")
    async with serving(app) as base, aiohttp.ClientSession() as http:
        good = {SECRET_HEADER: receiver.secret_token}
        async with http.post(base + receiver.path, json=start_update(user, 7),
                             headers=good) as answer:
            assert answer.status == 200
        async with http.post(base + "/telegram/guessed", json=start_update(user, 8),
                             headers=good) as answer:
            assert answer.status == 404
        async with http.get(base + "/nowhere/42") as answer:
            assert answer.status == 404
        async with http.get(base + "/metrics") as answer:
            text = await answer.text()
    found = parse(text)
    seconds = "kassa_http_request_duration_seconds_count"
    assert at(found, seconds, route="/telegram/{secret}", method="POST", status="200") == 1
    assert at(found, seconds, route="/telegram/{secret}", method="POST", status="404") == 1
    assert at(found, seconds, route="unmatched", method="GET", status="404") == 1
    assert receiver.path.rsplit("/", 1)[-1] not in text and "nowhere" not in text
    assert at(found, "kassa_updates_total", kind="message", outcome="ok") == 1
    assert len(user.messages) == 1


async def test_the_booking_api_serves_its_metrics_behind_its_token(engine, clock):
    network = await build_network(engine, days=3)
    trip = network.trips[min(network.trips)]
    metrics = Metrics()
    settings = Settings(_env_file=None)
    app = make_booking_api(booking_service(settings, engine, clock=clock, metrics=metrics),
                           customer_service(settings, engine, clock=clock), token=TOKEN,
                           idempotency=SqlIdempotencyStore(engine))
    observe_web_app(app, metrics)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for customer in (1, 2):
            assert (await client.put(f"/v1/customers/{customer}", headers=AUTH,
                                     json={"name": "Anna", "language": "en"})).status == 200
        assert (await client.post("/v1/holds", json=hold_body(trip), headers=AUTH)).status == 201
        taken = await client.post("/v1/holds", json=hold_body(trip, customer=2), headers=AUTH)
        assert taken.status == 409
        assert (await client.get("/metrics")).status == 401
        answer = await client.get("/metrics", headers=AUTH)
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        found = parse(await answer.text())
    assert at(found, "kassa_holds_placed_total") == 1
    assert at(found, "kassa_holds_refused_total", reason="seat_taken") == 1
    seconds = "kassa_http_request_duration_seconds_count"
    assert at(found, seconds, route="/v1/holds", method="POST", status="201") == 1
    assert at(found, seconds, route="/v1/holds", method="POST", status="409") == 1
    assert at(found, seconds, route="/metrics", method="GET", status="401") == 1
    # A histogram: the requests fall in its buckets, the slowest in +Inf.
    assert at(found, "kassa_http_request_duration_seconds_bucket", route="/v1/holds",
              method="POST", status="201", le="+Inf") == 1


async def test_the_outbox_backlog_is_read_from_the_table_at_each_scrape(engine, clock):
    now = clock()

    def row(n: int, *, due: timedelta, claimed: timedelta | None = None,
            status: str = "pending") -> dict:
        return {"kind": "reminder", "recipient": n, "payload": {}, "dedupe_key": f"k{n}",
                "due_at": now + due, "status": status, "attempts": 0, "created_at": now,
                "claimed_until": None if claimed is None else now + claimed}

    async with engine.begin() as conn:
        await conn.execute(insert(t.outbox), [
            row(1, due=timedelta(minutes=-5)),  # waiting five minutes
            row(2, due=timedelta(seconds=-30)),
            row(3, due=timedelta(minutes=-1), claimed=timedelta(seconds=-1)),  # lease ran out
            row(4, due=timedelta(minutes=-2), claimed=timedelta(seconds=30)),  # a worker's
            row(5, due=timedelta(hours=2)),  # a reminder for later
            row(6, due=timedelta(hours=-1), status="sent"),
            row(7, due=timedelta(hours=-1), status="failed"),
        ])
    assert await backlog(engine, now) == OutboxBacklog(
        pending=3, claimed=1, scheduled=1, oldest_due=now - timedelta(minutes=5))
    metrics = Metrics()
    watch_outbox(metrics, engine, clock=clock)
    found = parse((await metrics.exposition())[0].decode())
    assert at(found, "kassa_outbox_backlog", state="pending") == 3
    assert at(found, "kassa_outbox_backlog", state="claimed") == 1
    assert at(found, "kassa_outbox_backlog", state="scheduled") == 1
    assert at(found, "kassa_outbox_oldest_due_seconds") == 300
    clock.advance(hours=3)  # the reminder is due now, and the lease has run out
    found = parse((await metrics.exposition())[0].decode())
    assert at(found, "kassa_outbox_backlog", state="pending") == 5
    assert at(found, "kassa_outbox_backlog", state="claimed") == 0


def test_each_process_object_counts_on_its_own_registry():
    one, two = Metrics(), Metrics()
    one.holds_placed.inc()
    assert one.value("kassa_holds_placed_total") == 1
    assert two.value("kassa_holds_placed_total") == 0


def test_bot_api_methods_are_labels_and_file_paths_are_not():
    base = "https://api.telegram.org/bot123:ABC"
    assert bot_api_method(f"{base}/sendMessage") == "sendMessage"
    assert bot_api_method(f"{base}/editMessageText") == "editMessageText"
    assert bot_api_method("https://api.telegram.org/file/bot123:ABC/documents/file_7.pdf") \
        == "file"
