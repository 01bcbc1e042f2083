"""Telegram Payments: invoices and pre-checkout answers."""

from __future__ import annotations

import re
from typing import Any

from bot.emulator.api_messages import send
from bot.emulator.errors import QUERY_INVALID, bad_request
from bot.emulator.keyboards import parse_reply_markup
from bot.emulator.params import Params
from bot.emulator.records import Invoice
from bot.emulator.state import EmulatorState

STARS = "XTR"
_CURRENCY = re.compile(r"[A-Z]{3}")


def _length(p: Params, name: str, low: int, high: int, *, in_bytes: bool = False) -> str:
    # The emulator's own wording: Telegram's texts for these are not documented.
    value = p.get_str(name) or ""
    size = len(value.encode("utf-8")) if in_bytes else len(value)
    if not low <= size <= high:
        unit = "bytes" if in_bytes else "characters"
        raise bad_request(f"invoice {name} must be {low}-{high} {unit}")
    return value


def parse_invoice(p: Params) -> Invoice:
    """Check the invoice parameters: texts, currency, prices and provider."""
    title = _length(p, "title", 1, 32)
    description = _length(p, "description", 1, 255)
    payload = _length(p, "payload", 1, 128, in_bytes=True)
    currency = p.get_str("currency") or ""
    if not _CURRENCY.fullmatch(currency):
        raise bad_request("CURRENCY_INVALID")
    prices = p.get_json("prices", "can't parse prices JSON object")
    if not isinstance(prices, list) or not prices:
        raise bad_request("can't parse prices JSON object")
    try:
        cleaned: list[dict[str, Any]] = [
            {"label": str(x["label"]), "amount": int(x["amount"])} for x in prices
        ]
    except (KeyError, TypeError, ValueError):
        raise bad_request("can't parse prices JSON object") from None
    if sum(int(price["amount"]) for price in cleaned) <= 0:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    provider_token = p.get_str("provider_token") or ""
    # Telegram Stars need no provider and take exactly one price; money needs a provider.
    if currency == STARS and (provider_token or len(cleaned) != 1):
        raise bad_request("STARS_INVOICE_INVALID")
    if currency != STARS and not provider_token:
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    return Invoice(
        title=title,
        description=description,
        payload=payload,
        currency=currency,
        prices=cleaned,
        provider_token=provider_token,
        start_parameter=p.get_str("start_parameter") or "",
        need_name=p.get_bool("need_name"),
        need_phone_number=p.get_bool("need_phone_number"),
        need_email=p.get_bool("need_email"),
        need_shipping_address=p.get_bool("need_shipping_address"),
        is_flexible=p.get_bool("is_flexible"),
    )


async def send_invoice(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """sendInvoice."""
    invoice = parse_invoice(p)
    markup = parse_reply_markup(p, inline_only=True)
    chat = emu.find_chat(p.chat_id())
    emu.check_can_write(chat)
    return send(emu, p, chat, markup, invoice=invoice)


async def answer_pre_checkout_query(emu: EmulatorState, p: Params) -> bool:
    """answerPreCheckoutQuery; each query can be answered once."""
    query = emu.pre_checkout_queries.get(p.get_str("pre_checkout_query_id") or "")
    if query is None or query.ok is not None:
        raise bad_request(QUERY_INVALID)
    ok = p.get_bool("ok")
    error_message = p.get_str("error_message")
    if not ok and not error_message:
        raise bad_request("error_message must be non-empty when ok is false")
    query.ok = ok
    query.error_message = None if ok else error_message
    return True


METHODS = {
    "sendInvoice": send_invoice,
    "answerPreCheckoutQuery": answer_pre_checkout_query,
}
