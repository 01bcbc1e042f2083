"""Kassa's web server (aiohttp, one app): the checkout page, the payment webhook, health.

The checkout page is plain server-rendered HTML: a form that posts, readable on a 360 px
phone, in the passenger's language, working without JavaScript. Pay and Decline make the
sandbox provider send its signed webhook to this same server, as a real provider would.
Programs get JSON errors: ``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

import hmac
import html
import logging
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from booking import sandbox
from booking.errors import BookingError, ErrorCode
from booking.model import OrderStatus
from booking.providers import PaymentEventType
from booking.views import OrderView
from bot.logs import note_ids
from bot.metrics import Metrics, observe_web_app
from handlers.context import Services
from handlers.times import arrival_time
from locales import Texts, texts

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
PUBLIC_KEY = web.AppKey("public_key", str)
SCANNER_TOKEN = web.AppKey("scanner_token", str)
SANDBOX = web.AppKey("sandbox", sandbox.SandboxProvider)
OPERATOR = web.AppKey("operator", str)

# How each refusal answers a program over HTTP.
HTTP_STATUS = {
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.STALE_SIGNATURE: 401,
    ErrorCode.BAD_PAYMENT_EVENT: 400,
    ErrorCode.BAD_CHECKOUT_TOKEN: 404,
    ErrorCode.UNKNOWN_ORDER: 404,
    ErrorCode.AMOUNT_MISMATCH: 422,
    ErrorCode.CURRENCY_MISMATCH: 422,
    ErrorCode.BUSY: 503,
}
MAX_WEBHOOK_BYTES = 64 * 1024


def make_web_app(services: Services, provider: sandbox.SandboxProvider | None,
                 operator: str, *, public_key_pem: str | None = None,
                 scanner_token: str | None = None,
                 metrics: Metrics | None = None) -> web.Application:
    """The app: requests timed into ``metrics`` (a registry of the app's own, without),
    which /metrics serves."""
    app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)
    observe_web_app(app, metrics or Metrics())
    app[SERVICES] = services
    app[OPERATOR] = operator
    app.router.add_get("/healthz", healthz)
    if public_key_pem is not None:
        app[PUBLIC_KEY] = public_key_pem
        app.router.add_get("/tickets/public-key", public_key)
    if scanner_token:
        app[SCANNER_TOKEN] = scanner_token
        app.router.add_post("/tickets/verify", verify_ticket)
    if provider is not None:
        app[SANDBOX] = provider
        app.router.add_get("/pay/{token}", checkout_page)
        app.router.add_post("/pay/{token}", checkout_action)
        app.router.add_post("/payments/sandbox/webhook", sandbox_webhook)
    return app


def json_error(error: BookingError) -> web.Response:
    status = HTTP_STATUS.get(error.code, 409)
    message = str(error.params.get("detail", "")) or error.code.value.replace("_", " ")
    return web.json_response({"error": {"code": error.code.value, "message": message}},
                             status=status)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


# ---- tickets, for scanner apps ------------------------------------------------------------

async def public_key(request: web.Request) -> web.Response:
    """The key ticket codes are signed with, so a scanner can verify them offline."""
    return web.Response(text=request.app[PUBLIC_KEY], content_type="application/x-pem-file")


async def verify_ticket(request: web.Request) -> web.Response:
    """Check a ticket in: {"code": "..."} with a bearer scanner token."""
    expected = f"Bearer {request.app[SCANNER_TOKEN]}"
    if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
        return web.json_response(
            {"error": {"code": "unauthorized", "message": "a valid scanner token is needed"}},
            status=401)
    try:
        data = await request.json()
        code = data["code"]
        if not isinstance(code, str):
            raise TypeError("code must be text")
    except (ValueError, KeyError, TypeError):
        return web.json_response(
            {"error": {"code": "bad_request", "message": 'send {"code": "<ticket code>"}'}},
            status=400)
    try:
        result = await request.app[SERVICES].booking.check_in(code, None)
    except BookingError as error:
        return json_error(error)
    ticket = result.ticket
    return web.json_response({
        "outcome": result.outcome.value,
        "ticket": None if ticket is None else {
            "id": ticket.id, "order": ticket.order_id, "seat": ticket.seat,
            "passenger": ticket.passenger, "status": ticket.status.value,
            "used_at": ticket.used_at.isoformat() if ticket.used_at else None,
        },
    })


# ---- the sandbox's webhook ------------------------------------------------------------------

async def sandbox_webhook(request: web.Request) -> web.Response:
    """A signed provider event: applied once; refused with 4xx and changing nothing if the
    signature is missing, forged or stale, the order unknown, or the amount wrong."""
    provider = request.app[SANDBOX]
    services = request.app[SERVICES]
    body = await request.read()
    try:
        event = sandbox.parse_webhook(request.headers.get(sandbox.SIGNATURE_HEADER), body,
                                      provider.webhook_secret, services.booking.now())
        note_ids(order_id=event.order_id)
        result = await services.booking.handle_event(event)
    except BookingError as error:
        log.warning("sandbox webhook refused: %s", error.code.value)
        return json_error(error)
    outcome = result.outcome.value if result is not None else "declined"
    duplicate = bool(result and result.duplicate)
    return web.json_response({"ok": True, "outcome": outcome, "duplicate": duplicate})


async def send_event(url: str, body: bytes, secret: bytes, now: datetime) -> int:
    """Post a signed event as the sandbox provider would; the HTTP status it got."""
    header = sandbox.signature(body, secret, int(now.timestamp()))
    async with aiohttp.ClientSession(trust_env=False) as session, session.post(
        url, data=body,
        headers={sandbox.SIGNATURE_HEADER: header, "Content-Type": "application/json"},
    ) as response:
        return response.status


# ---- the checkout page ----------------------------------------------------------------------

async def _order_of(request: web.Request) -> OrderView:
    provider = request.app[SANDBOX]
    order_id = sandbox.order_of_token(request.match_info["token"], provider.secret_key)
    note_ids(order_id=order_id)
    return await request.app[SERVICES].booking.order(order_id)


async def _texts_for(request: web.Request, view: OrderView) -> Texts:
    customer = await request.app[SERVICES].customers.customer(view.customer_id)
    return texts(customer.language if customer and customer.language else "en")


async def checkout_page(request: web.Request) -> web.Response:
    try:
        view = await _order_of(request)
    except BookingError:
        return _page(texts("en"), texts("en")("Payment"), [],
                     note=("warn", texts("en")("This payment link is not valid.")), status=404)
    _ = await _texts_for(request, view)
    return _page(_, _("Payment"), _order_lines(request, _, view), form=_form(_, view),
                 note=_status_note(request, _, view))


async def checkout_action(request: web.Request) -> web.Response:
    """Pay or Decline pressed: the sandbox sends its webhook, then the page shows the result."""
    try:
        view = await _order_of(request)
    except BookingError:
        raise web.HTTPNotFound() from None
    form = await request.post()
    action = form.get("action")
    if view.status is OrderStatus.HELD and action in ("pay", "decline"):
        provider = request.app[SANDBOX]
        kind = PaymentEventType.SUCCEEDED if action == "pay" else PaymentEventType.FAILED
        event = provider.event(view, kind)
        webhook = str(request.url.with_path("/payments/sandbox/webhook").with_query(None))
        status = await send_event(webhook, sandbox.event_body(event), provider.webhook_secret,
                                  request.app[SERVICES].booking.now())
        if status >= 400:
            log.warning("sandbox webhook for order %s answered %s", view.id, status)
    raise web.HTTPSeeOther(str(request.url.with_query({"done": str(action or "")})))


def _order_lines(request: web.Request, _: Texts, view: OrderView) -> list[Line]:
    language = _.language
    lines: list[Line] = [
        ("operator", request.app[OPERATOR]),
        ("route", f"{view.origin.name(language)} → {view.destination.name(language)}"),
        ("when", _("{day}, {departs} → {arrives}", day=_.day(view.departure.date(),
                  request.app[SERVICES].booking.now().astimezone(view.origin.tz).date()),
                   departs=_.time(view.departure),
                   arrives=arrival_time(_, view.departure, view.arrival))),
    ]
    lines.extend(("seat", f"{s.seat} — {s.passenger}") for s in view.seats)
    lines.append(("total", _("Total: {price}", price=_.price(view.amount, view.currency))))
    return lines


def _status_note(request: web.Request, _: Texts, view: OrderView) -> Line:
    """What the page says about the order now, and its kind (ok, held, warn) for its colour."""
    if view.status is OrderStatus.PAID:
        return "ok", _("Paid. Your tickets are on their way to the chat.")
    if view.status is OrderStatus.HELD and view.expires_at is not None:
        if request.query.get("done") == "decline":
            return "warn", _("Payment declined. Your seats stay held until {time}.",
                             time=_.time(view.expires_at.astimezone(view.origin.tz)))
        left = int((view.expires_at - request.app[SERVICES].booking.now()).total_seconds())
        return "held", _.ngettext("Seat held for {minutes} more min.",
                                  "Seats held for {minutes} more min.", len(view.seats),
                                  minutes=max(1, left // 60))
    return "warn", _("This booking is no longer on hold, so it cannot be paid.")


def _form(_: Texts, view: OrderView) -> str | None:
    if view.status is not OrderStatus.HELD:
        return None
    pay = html.escape(_("Pay {amount}", amount=_.price(view.amount, view.currency)))
    decline = html.escape(_("Decline"))
    return (
        '<form method="post">'
        f'<button class="pay" name="action" value="pay">{pay}</button>'
        f'<button class="decline" name="action" value="decline">{decline}</button>'
        "</form>"
    )


# Phone first: one column, 16 px text, 48 px buttons, long names wrap instead of scrolling.
_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
padding:16px;max-width:480px;color:#111;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.3em;margin:.2em 0 .6em} p{margin:.25em 0}
.order{border:1px solid #d8dee6;border-radius:12px;padding:12px 14px}
.operator{color:#555;font-size:.9em} .route{font-size:1.15em;font-weight:600}
.when{color:#333;margin-bottom:.6em}
.total{font-weight:700;font-size:1.1em;border-top:1px solid #d8dee6;margin-top:.6em;
padding-top:.6em}
.note{border-radius:10px;padding:10px 12px;margin:14px 0;background:#eef3f9}
.note.ok{background:#e6f4ea;color:#0f5323} .note.warn{background:#fdf0e0;color:#6b3a00}
button{display:block;width:100%;min-height:48px;font:inherit;font-size:1.1em;font-weight:600;
padding:12px;margin:10px 0;border-radius:10px;border:1px solid transparent;cursor:pointer}
.pay{background:#1a7f37;color:#fff} .decline{background:#fff;color:#333;border-color:#c6ccd4}
"""

Line = tuple[str, str]  # (CSS class, text)


def _page(_: Texts, title: str, lines: list[Line], *, form: str | None = None,
          note: Line | None = None, status: int = 200) -> web.Response:
    body: list[Any] = [f"<h1>{html.escape(title)}</h1>"]
    if lines:
        body.append('<div class="order">')
        body.extend(f'<p class="{kind}">{html.escape(text)}</p>' for kind, text in lines)
        body.append("</div>")
    if note:
        kind, text = note
        body.append(f'<p class="note {kind}">{html.escape(text)}</p>')
    if form:
        body.append(form)
    document = (
        f'<!doctype html><html lang="{_.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)
