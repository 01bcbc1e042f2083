"""The held card counts down: edited when 5 and 1 minutes are left to pay, and when the hold
has run out (with a button to book again); and once paid, it says so, without its Pay link.

Run by a job every few seconds (bot/jobs.py), for each person with a held card, as that
person's turn: their data read afresh, the card edited if due, the step shown recorded in
their data, which the turn writes back. So with several instances one edits a card and the
others find the step already shown. A card is edited at most once per step, so a chat gets
at most three edits per hold, minutes apart: well under Telegram's limit of about one edit
per minute per chat that this keeps to.

Each look also says when the card could next need an edit, for as long as the person's data
stays as it was read: a hold's end never moves and its status only moves away from "held",
so until then nothing can fall due. The job takes the person's turn again only then (or
when their data has been written since).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram.error import TelegramError
from telegram.ext import Application

from booking.errors import BookingError
from booking.model import OrderStatus
from handlers.booking_cards import render
from handlers.context import KassaContext
from handlers.flow import FLOW_KEY, Flow, Step

# Minutes left at which the card is edited; 0 is "expired".
STEPS_MINUTES = (5, 1, 0)
PAID_SHOWN = -1  # the step recorded once the card shows its order paid: the last there is
COUNTDOWN_KEY = "countdown"  # in user_data: the last step shown for the flow's order
# Where in a person's data the flow's step is, and the step a held card is at: how the
# people with a held card are found in the stored data.
STEP_PATH = (FLOW_KEY, "step")
HELD_STEP = int(Step.HELD)


@dataclass(frozen=True)
class CardLook:
    """What one look at a person's held card did, and when the next could matter."""

    edited: bool = False
    # When the card could next need an edit while the person's data stays as read; None
    # when it never will (no held card, or its order paid, cancelled or shown expired).
    next_due: datetime | None = None


def held_flow(data: dict[str, Any]) -> Flow | None:
    """The person's flow if it is at a held card that could still count down."""
    flow = Flow.from_data(data.get(FLOW_KEY))
    if flow is None or flow.step is not Step.HELD or not flow.order or flow.card is None:
        return None
    return flow


async def update_held_card(application: Application[Any, Any, Any, Any, Any, Any],
                           user_id: int) -> CardLook:
    """Edit this person's held card if it has crossed a step since it was last shown
    (their data, read in their turn, records which)."""
    data = application.user_data[user_id]
    flow = held_flow(data)
    if flow is None:
        return CardLook()
    context = KassaContext(application, chat_id=user_id, user_id=user_id)
    return await _update_card(context, user_id, data, flow)


async def _update_card(context: KassaContext, chat_id: int, data: dict[str, Any],
                       flow: Flow) -> CardLook:
    services = context.services
    now = services.booking.now()
    try:
        view = await services.booking.order(flow.order or "")
    except BookingError:
        return CardLook(next_due=now)  # not read: look again next time
    shown = data.get(COUNTDOWN_KEY)
    last = int(shown[1]) if isinstance(shown, list) and shown[:1] == [flow.order] else None
    if view.status is OrderStatus.HELD and view.expires_at is not None:
        left = view.expires_at - now
        due = [m for m in STEPS_MINUTES if m and left <= timedelta(minutes=m)]
    elif view.status is OrderStatus.EXPIRED:
        due = [0]
    elif view.status is OrderStatus.PAID and last != PAID_SHOWN:
        # Paid on the checkout page, outside the chat: the card's Pay link and countdown
        # would go on asking for the money.
        await _edit(context, chat_id, flow, None)
        data[COUNTDOWN_KEY] = [flow.order, PAID_SHOWN]
        return CardLook(edited=True)
    else:
        return CardLook()  # cancelled in this chat, which showed it; or paid and shown
    if not due or (last is not None and min(due) >= last):
        return CardLook(next_due=_next_due(view.expires_at, last))
    step = min(due)
    _ = context.texts
    if step:
        # The step's minutes, or fewer for a hold shorter than the step (a 2-minute hold
        # crosses "5 minutes" at once, with 2 left).
        minutes = min(step, _whole_minutes(left))
        notice = _.ngettext("⏳ {n} minute left to pay.", "⏳ {n} minutes left to pay.",
                            minutes)
    else:
        notice = _.ngettext("⌛ The hold has run out and the seat was released.",
                            "⌛ The hold has run out and the seats were released.",
                            len(view.seats))
    await _edit(context, chat_id, flow, notice)
    data[COUNTDOWN_KEY] = [flow.order, step]
    return CardLook(edited=True, next_due=_next_due(view.expires_at, step))


async def _edit(context: KassaContext, chat_id: int, flow: Flow, notice: str | None) -> None:
    card = await render(context, flow, notice, warning=False)
    with contextlib.suppress(TelegramError):  # the card was deleted, or is unchanged
        await context.bot.edit_message_text(card.text, chat_id=chat_id,
                                            message_id=flow.card, reply_markup=card.markup)


def _whole_minutes(left: timedelta) -> int:
    """Minutes left, a started minute counted whole (4:30 left is "5 minutes")."""
    return max(1, -(-int(left.total_seconds()) // 60))


def _next_due(expires_at: datetime | None, last: int | None) -> datetime | None:
    """When the step after ``last`` falls due: ``expires_at`` less its minutes (a hold reads
    expired from its end on). None once the expiry was shown, or the hold is over."""
    later = [m for m in STEPS_MINUTES if last is None or m < last]
    if expires_at is None or not later:
        return None
    return expires_at - timedelta(minutes=max(later))
