"""Reminders before departure: when an order is paid, one outbox row per reminder still ahead
(KASSA_REMINDERS, default 24 h and 2 h before), written in the payment's transaction.

Whether a reminder still applies is decided when it is due, from the order and trip as they
are then: a cancelled order or trip gets none, and a delayed trip's reminder waits for the
new time (its row is put back, unsent and uncounted, until then).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from booking.model import Order
from booking.outbox import MessageKind
from booking.ports import OutboxMessage, UnitOfWork

DEFAULT_REMINDERS = (timedelta(hours=24), timedelta(hours=2))
_PART = re.compile(r"(\d{1,4})\s*([dhm])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_reminders(text: str) -> tuple[timedelta, ...]:
    """ "24h,2h" -> (24 h, 2 h), longest first; "" -> none. ValueError says what is wrong."""
    found = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        match = _PART.fullmatch(part)
        if match is None:
            raise ValueError(f"{part!r} is not a time before departure like 24h, 90m or 2d")
        before = int(match.group(1)) * _UNITS[match.group(2)]
        if not timedelta(minutes=1) <= before <= timedelta(days=30):
            raise ValueError(f"{part!r} is outside 1 minute to 30 days")
        found.append(before)
    return tuple(sorted(set(found), reverse=True))


def reminder_messages(order: Order, departure: datetime, reminders: Sequence[timedelta],
                      now: datetime) -> list[OutboxMessage]:
    """The reminders of a just-paid order that are still ahead of ``now``."""
    return [
        OutboxMessage(MessageKind.REMINDER, order.customer_id,
                      {"order": order.id, "before_s": int(before.total_seconds())},
                      departure - before,
                      dedupe_key=f"reminder:{order.id}:{int(before.total_seconds())}")
        for before in reminders if departure - before > now
    ]


async def schedule_reminders(uow: UnitOfWork, order: Order, departure: datetime,
                             reminders: Sequence[timedelta], now: datetime) -> None:
    messages = reminder_messages(order, departure, reminders, now)
    if messages:
        await uow.outbox.add_many(messages, now)
