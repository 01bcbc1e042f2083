"""What every staff command shares: the role gate, and the typed steps of a staff dialogue.

The gate answers a passenger at once ("for staff only") so the bot never shows them a staff
card; the use case behind each command checks the role again in its own transaction.

A staff dialogue that needs typed input (a delay's minutes, a broadcast's text) opens a
step: ``context.user_data["staff"] = {"purpose": ..., ...}`` (plain JSON, so it survives a
restart with the rest of the user's data). While a step is open, the staff member's next
text goes to that purpose's handler, ahead of the booking conversation; /cancel closes it.
Handler modules register their purposes once, from handlers/registry.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from booking.errors import BookingError, ErrorCode
from booking.model import Role
from booking.staff import STAFF_ROLES
from handlers.cards import Card, answer_query, show
from handlers.context import KassaContext
from handlers.errors import error_text

STEP_KEY = "staff"

TextStep = Callable[[Update, KassaContext, str], Awaitable[None]]

# purpose -> what to do with the text typed while that purpose's step is open
_TEXT_STEPS: dict[str, TextStep] = {}


class PassOn(Exception):
    """Raised by a text step for text that does not answer its question: the step is left
    and the text goes on to the booking dialogue, as if no step had been open."""


def register_text_step(purpose: str, step: TextStep) -> None:
    """Route the text typed during ``purpose``'s open step to ``step``."""
    _TEXT_STEPS[purpose] = step


async def role_of(update: Update, context: KassaContext) -> Role:
    """The sender's role, read afresh every time: a role taken away applies at once."""
    user = update.effective_user
    return await context.services.customers.role(user.id) if user else Role.PASSENGER


async def is_staff(update: Update, context: KassaContext, *, admin: bool = False) -> bool:
    """Whether the sender is staff (an admin, when ``admin``)."""
    role = await role_of(update, context)
    return role is Role.ADMIN if admin else role in STAFF_ROLES


async def staff_only(update: Update, context: KassaContext, *, admin: bool = False) -> bool:
    """True for staff (admins, when ``admin``); anyone else is told why not, nothing changes."""
    role = await role_of(update, context)
    if role is Role.ADMIN or (role in STAFF_ROLES and not admin):
        return True
    code = ErrorCode.NOT_ADMIN if role in STAFF_ROLES else ErrorCode.NOT_STAFF
    text = error_text(context.texts, BookingError(code))
    if update.callback_query is not None:
        await answer_query(update, text, alert=True)
    else:
        await show(update, context, Card(text, []), edit=False)
    return False


def open_step(context: KassaContext, purpose: str, **data: Any) -> None:
    """Wait for the staff member's next text on behalf of ``purpose`` (JSON values only)."""
    if context.user_data is not None:
        context.user_data[STEP_KEY] = {"purpose": purpose, **data}


def current_step(context: KassaContext) -> dict[str, Any] | None:
    data = context.user_data
    step = data.get(STEP_KEY) if data is not None else None
    return step if isinstance(step, dict) else None


def close_step(context: KassaContext) -> dict[str, Any] | None:
    """Close the open step (if any) and return what it held."""
    data = context.user_data
    if data is None:
        return None
    step = data.pop(STEP_KEY, None)
    return step if isinstance(step, dict) else None


async def on_staff_text(update: Update, context: KassaContext) -> None:
    """Text typed while a staff step is open goes to that step, not to the booking dialogue."""
    step = current_step(context)
    message = update.effective_message
    if step is None or message is None or message.text is None:
        return  # not ours: the booking conversation answers it
    handler = _TEXT_STEPS.get(str(step.get("purpose")))
    if handler is None:  # a step left by an older version of the bot
        close_step(context)
        return
    if await staff_only(update, context):
        try:
            await handler(update, context, message.text)
        except PassOn:
            close_step(context)
            return
    else:
        close_step(context)  # the role was taken away meanwhile
    await stop_here(update, context)


async def leave_step(update: Update, context: KassaContext) -> None:
    """Another command, or a press on anything but a staff card, leaves the open step
    without a word: the staff member has moved on (to /start, their own booking), and what
    they type next is for that, not an answer to a question asked a while ago. The update
    goes on to its own handler."""
    close_step(context)


async def cancel_step(update: Update, context: KassaContext) -> None:
    """/cancel during a staff step closes it; otherwise /cancel means the booking's."""
    if close_step(context) is None:
        return
    _ = context.texts
    await show(update, context, Card(_("Cancelled. Nothing was changed."), []), edit=False)
    await stop_here(update, context)


async def stop_here(update: Update, context: KassaContext) -> None:
    """Keep the booking conversation from seeing this update. The person's data (the step
    just opened or closed) is written at the end of their turn all the same (bot/turns.py)."""
    raise ApplicationHandlerStop
