"""The held card counts down: edited when 5 and 1 minutes are left to pay, and when the hold
has run out (with a button to book again).

Run by a job every few seconds over the people this instance knows. A card is edited at
most once per step, so a chat gets at most three edits per hold, minutes apart: well under
Telegram's limit of about one edit per minute per chat that this keeps to.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
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
COUNTDOWN_KEY = "countdown"  # in user_data: the last step shown for the flow's order


async def update_held_cards(application: Application[Any, Any, Any, Any, Any, Any]) -> int:
    """Edit every held card that has crossed a step since it was last shown; how many."""
    edited = 0
    for user_id, data in list(application.user_data.items()):
        flow = Flow.from_data(data.get(FLOW_KEY))
        if flow is None or flow.step is not Step.HELD or not flow.order or flow.card is None:
            continue
        context = KassaContext(application, chat_id=user_id, user_id=user_id)
        if await _update_card(context, user_id, data, flow):
            application.mark_data_for_update_persistence(user_ids=user_id)
            edited += 1
    return edited


async def _update_card(context: KassaContext, chat_id: int, data: dict[str, Any],
                       flow: Flow) -> bool:
    services = context.services
    try:
        view = await services.booking.order(flow.order or "")
    except BookingError:
        return False
    shown = data.get(COUNTDOWN_KEY)
    last = int(shown[1]) if isinstance(shown, list) and shown[:1] == [flow.order] else None
    if view.status is OrderStatus.HELD and view.expires_at is not None:
        left = view.expires_at - services.booking.now()
        due = [m for m in STEPS_MINUTES if m and left <= timedelta(minutes=m)]
    elif view.status is OrderStatus.EXPIRED:
        due = [0]
    else:
        return False  # paid or cancelled: the card says so when next shown
    if not due or (last is not None and min(due) >= last):
        return False
    step = min(due)
    _ = context.texts
    notice = (_.ngettext("⏳ {n} minute left to pay.", "⏳ {n} minutes left to pay.", step)
              if step else _("⌛ The hold has run out and the seats were released."))
    card = await render(context, flow, notice)
    with contextlib.suppress(TelegramError):  # the card was deleted, or is unchanged
        await context.bot.edit_message_text(card.text, chat_id=chat_id,
                                            message_id=flow.card, reply_markup=card.markup)
    data[COUNTDOWN_KEY] = [flow.order, step]
    return True
