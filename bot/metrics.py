"""Kassa's Prometheus metrics: every one defined here, on a registry of the process's own.

Each process object (``kassa run``, ``kassa webhook``, ``kassa booking-api``, the demo, a
test) makes one ``Metrics`` and hands it to what it builds. A registry of its own rather
than prometheus-client's global one: tests build many bots in one process, and with the
global registry the second definition of a metric would fail and counts would mix.

Counting happens at the edges of booking/ (bot/observed.py wraps the in-process booking
service, the outbox worker's reports, python-telegram-bot's requests and updates), so
booking/ itself stays free of Prometheus (DESIGN.md's layers). The outbox backlog is read
from the database when /metrics is scraped, so it is right whichever instance's worker
moved the rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import choose_encoder
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.request import BaseRequest, RequestData

from booking.clock import Clock, system_clock
from booking.outbox import DeliveryReport
from bot.logs import log_ids
from bot.telegram_request import Send, WrappedRequest
from handlers.rate_limiter import counts_as_message
from storage.outbox import backlog

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# Requests no route matched (scanners, typos): one label, so a crawler cannot add series.
UNMATCHED = "unmatched"

Refresher = Callable[[], Awaitable[None]]


class Metrics:
    """The metrics one Kassa process exports (names in the README's "Metrics and logs")."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # CPU seconds, resident memory, open files
        # ---- the bot
        self.updates = Counter(
            "kassa_updates", "Telegram updates handled, by kind (the update's field: "
            "message, callback_query, ...) and outcome (ok, or error: a handler raised)",
            ["kind", "outcome"], registry=r)
        self.update_seconds = Histogram(
            "kassa_update_duration_seconds", "Time from taking an update to having handled "
            "it (every handler group, the state written)", ["kind"], registry=r)
        # ---- bookings
        self.holds_placed = Counter(
            "kassa_holds_placed", "Holds placed (a repeated request key's replay is not "
            "counted)", registry=r)
        self.holds_refused = Counter(
            "kassa_holds_refused", "Holds refused, by refusal code (booking/errors.py)",
            ["reason"], registry=r)
        self.holds_expired = Counter(
            "kassa_holds_expired", "Holds the expiry sweep marked expired", registry=r)
        self.payments_confirmed = Counter(
            "kassa_payments_confirmed", "Provider confirmations recorded, by outcome: paid, "
            "refund_needed (money that cannot buy the seats), duplicate (a confirmation "
            "seen before, which changed nothing)", ["outcome"], registry=r)
        self.payments_refunded = Counter(
            "kassa_payments_refunded", "Refunds made through the provider that took the "
            "money, by reason (cancelled, trip_cancelled, seat_taken, ...)", ["reason"],
            registry=r)
        # ---- the outbox and Telegram
        self.outbox_backlog = Gauge(
            "kassa_outbox_backlog", "Outbox messages not yet delivered, read at scrape time: "
            "pending (due, no worker has them), claimed (a worker's lease on them runs), "
            "scheduled (due later, such as reminders)", ["state"], registry=r)
        self.outbox_oldest_due = Gauge(
            "kassa_outbox_oldest_due_seconds", "How long the oldest due message nobody has "
            "claimed has been waiting (0 when none)", registry=r)
        self.outbox_deliveries = Counter(
            "kassa_outbox_deliveries", "Outbox deliveries this process finished, by outcome: "
            "sent, blocked, failed (given up), retried (due again later), released (claimed, "
            "given back unstarted at a stop)", ["outcome"], registry=r)
        self.messages_sent = Counter(
            "kassa_telegram_messages_sent", "Bot API calls that put a message in a chat or "
            "changed one (send*, edit*, copy*, forward*) and succeeded, by method", ["method"],
            registry=r)
        self.telegram_rate_limited = Counter(
            "kassa_telegram_rate_limited", "Bot API calls answered 429 Too Many Requests, by "
            "method", ["method"], registry=r)
        # ---- HTTP
        self.http_seconds = Histogram(
            "kassa_http_request_duration_seconds", "HTTP requests served, by route pattern "
            "(never the raw path), method and status", ["route", "method", "status"],
            registry=r)
        # The per-update series, each looked up once: prometheus-client checks and locks on
        # every labels() call, four of them per update. Their label values are few.
        self.update_count = cache(self.updates.labels)
        self.update_timer = cache(self.update_seconds.labels)
        self.http_timer = cache(self.http_seconds.labels)
        self.sent_count = cache(self.messages_sent.labels)
        self._refreshers: list[Refresher] = []

    def on_scrape(self, refresher: Refresher) -> None:
        """Run ``refresher`` before each scrape: for values read from somewhere else."""
        self._refreshers.append(refresher)

    async def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The text a scrape gets, in the format its Accept header asks for, and its type."""
        for refresh in self._refreshers:
            await refresh()
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    # ---- what the edges report ------------------------------------------------------------

    def observe_update(self, kind: str, failed: bool, seconds: float) -> None:
        self.update_count(kind, "error" if failed else "ok").inc()
        self.update_timer(kind).observe(seconds)

    def observe_deliveries(self, report: DeliveryReport) -> None:
        for outcome, count in (("sent", report.sent), ("blocked", report.blocked),
                               ("failed", report.failed), ("retried", report.retried),
                               ("released", report.released)):
            if count:
                self.outbox_deliveries.labels(outcome).inc(count)

    def value(self, name: str, **labels: str) -> float:
        """One sample's value now (0 if it has none yet): for tests and the demo."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


# ---- the outbox backlog --------------------------------------------------------------------

def watch_outbox(metrics: Metrics, engine: AsyncEngine, *, clock: Clock = system_clock
                 ) -> None:
    """Read the outbox backlog from the database at every scrape."""

    async def refresh() -> None:
        now = clock()
        try:
            counts = await backlog(engine, now)
        except Exception:  # the database away: no numbers rather than stale ones
            log.warning("reading the outbox backlog failed", exc_info=True)
            metrics.outbox_backlog.clear()
            return
        for state in ("pending", "claimed", "scheduled"):
            metrics.outbox_backlog.labels(state).set(getattr(counts, state))
        oldest = counts.oldest_due
        metrics.outbox_oldest_due.set(max(0.0, (now - oldest).total_seconds()) if oldest
                                      else 0.0)

    metrics.on_scrape(refresh)


# ---- python-telegram-bot's calls to the Bot API ----------------------------------------------

class CountingRequest(WrappedRequest):
    """Another request class (aiohttp in production, the emulator in tests) whose calls to
    the Bot API are counted: messages sent, and 429s.

    Counted here, at the HTTP answer, rather than in the rate limiter: every call passes
    here, paced or not, with or without a rate limiter, and a 429 is seen as Telegram sent
    it, before python-telegram-bot turns it into RetryAfter.
    """

    def __init__(self, inner: BaseRequest, metrics: Metrics) -> None:
        super().__init__(inner)
        self._metrics = metrics

    async def around(self, endpoint: str, request_data: RequestData | None,
                     send: Send) -> tuple[int, bytes]:
        status, body = await send()
        if status == 429:
            self._metrics.telegram_rate_limited.labels(endpoint).inc()
        elif 200 <= status < 300 and counts_as_message(endpoint):
            self._metrics.sent_count(endpoint).inc()
        return status, body


# ---- HTTP: a middleware, and the /metrics route ---------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def observe_web_app(app: web.Application, metrics: Metrics) -> None:
    """Time every request of ``app`` (outermost, so refusals and errors count too), give each
    its own log context, and serve the metrics at GET /metrics."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500  # unless the handler answers: an exception aiohttp turns into a 500
        try:
            with log_ids(**request_ids(request)):
                response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as answer:  # raised answers (redirects, 404s) are answers
            status = answer.status
            raise
        except asyncio.CancelledError:  # the client went away first: nginx's 499, not a 500
            status = 499
            raise
        finally:
            method = request.method if request.method in _METHODS else "other"
            metrics.http_timer(route_of(request), method,
                               str(status)).observe(time.perf_counter() - started)

    async def serve_metrics(request: web.Request) -> web.Response:
        body, content_type = await metrics.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.middlewares.insert(0, observe)
    app.router.add_get(METRICS_PATH, serve_metrics)


# Any token is a method to aiohttp; a label holds only these, so a client cannot add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: web.Request) -> str:
    """The pattern of the route that took the request ("/pay/{token}"), never the path
    itself: paths carry tokens and ids, and each distinct one would be a new series."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


# Path and query parameters that name an order or a person, under the names logs use.
_ID_PARAMETERS = {"order_id": "order_id", "customer_id": "user_id"}


def request_ids(request: web.Request) -> dict[str, Any]:
    """The ids a request names in its path or query (the booking API's
    /v1/orders/{order_id}, ?customer_id=...), for its log lines."""
    ids: dict[str, Any] = {}
    for source in (request.query, request.match_info):
        for parameter, name in _ID_PARAMETERS.items():
            value = source.get(parameter)
            if not value:
                continue
            if name == "user_id":
                if value.isdigit():
                    ids[name] = int(value)
            else:  # as the caller wrote it, within an order id's length
                ids[name] = value[:32]
    return ids
