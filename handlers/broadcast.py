"""/broadcast: staff choose who (a trip's passengers, a route's coming trips, a day's, or
everyone), type the message, see it exactly as it will arrive with the number of people, and
confirm; then a progress card (sent / failed / blocked of total) is edited in place every few
seconds until the outbox has delivered them all, and ends as the final report."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import CallbackContext

from booking.broadcasts import Audience, AudienceKind, BroadcastProgress
from booking.errors import BookingError
from handlers import callback_data as cb
from handlers.cards import Card, answer_query, button, show
from handlers.context import KassaContext
from handlers.errors import N_, error_text
from handlers.parsing import no_such_day, parse_date
from handlers.staff import close_step, current_step, open_step, staff_only
from handlers.staff_picker import ask_trip, staff_today
from locales import Texts, texts

TRIP_PURPOSE, ROUTE_PURPOSE = "bc_trip", "bc_route"
TRIP_TITLE = N_("Broadcast to a trip's passengers")
ROUTE_TITLE = N_("Broadcast to a route's passengers (pick one of its trips)")
DAY_STEP, TEXT_STEP, CONFIRM_STEP = "bc_day", "bc_text", "bc_confirm"
PROGRESS_SECONDS = 3.0  # how often the progress card is edited, at most


async def broadcast_command(update: Update, context: KassaContext) -> None:
    """/broadcast: who should get it?"""
    if not await staff_only(update, context):
        return
    _ = context.texts
    close_step(context)
    rows = [[button(_("Passengers of a trip"), cb.broadcast("a", AudienceKind.TRIP))],
            [button(_("Passengers of a route (coming trips)"),
                    cb.broadcast("a", AudienceKind.ROUTE))],
            [button(_("Passengers travelling on a day"), cb.broadcast("a", AudienceKind.DAY))],
            [button(_("Everyone who used the bot"), cb.broadcast("a", AudienceKind.EVERYONE))]]
    await show(update, context, Card(_("Who should get the message?"), rows), edit=False)


async def on_button(update: Update, context: KassaContext) -> None:
    """The audience buttons, Send and Cancel."""
    query = update.callback_query
    parts = (query.data or "").split(":") if query else []
    if not await staff_only(update, context):
        return
    await answer_query(update)
    _ = context.texts
    if parts[1:2] == ["a"] and len(parts) == 3:
        kind = parts[2]
        if kind == AudienceKind.TRIP:
            await ask_trip(update, context, TRIP_PURPOSE)
        elif kind == AudienceKind.ROUTE:
            await ask_trip(update, context, ROUTE_PURPOSE)
        elif kind == AudienceKind.DAY:
            open_step(context, DAY_STEP)
            await show(update, context, Card(_(
                "Which day? Type it: 24.12, tomorrow, friday. /cancel stops."), []))
        else:
            await _ask_text(update, context, Audience(AudienceKind.EVERYONE))
    elif parts[1:2] == ["send"]:
        await _send(update, context)
    else:  # Cancel, or data we never sent
        close_step(context)
        await show(update, context, Card(_("Cancelled. Nothing was sent."), []))


async def trip_chosen(update: Update, context: KassaContext, trip_id: int) -> None:
    await _ask_text(update, context, Audience(AudienceKind.TRIP, trip_id=trip_id))


async def route_chosen(update: Update, context: KassaContext, trip_id: int) -> None:
    await _ask_text(update, context, Audience(AudienceKind.ROUTE, trip_id=trip_id))


async def day_typed(update: Update, context: KassaContext, typed: str) -> None:
    _ = context.texts
    today = staff_today(context)
    day = parse_date(typed, today)
    if day is None:
        await show(update, context, Card(_(
            "There is no such day in the calendar. Try 24.12, tomorrow or friday; /cancel "
            "stops.") if no_such_day(typed, today) else _(
            "I could not read that date. Try 24.12, tomorrow or friday; /cancel stops."), []),
            edit=False)
        return
    await _ask_text(update, context, Audience(AudienceKind.DAY, day=day))


async def _ask_text(update: Update, context: KassaContext, audience: Audience) -> None:
    _ = context.texts
    user = update.effective_user
    edit = update.callback_query is not None
    try:
        # Before the message is written: an audience of nobody is said at once.
        count = await context.services.broadcasts.preview(user.id, audience) if user else 0
    except BookingError as error:
        close_step(context)
        await show(update, context, Card(error_text(_, error), []), edit=edit)
        return
    if count == 0:
        close_step(context)
        await show(update, context, Card(_("Nobody is in this audience: nothing was sent."),
                                         []), edit=edit)
        return
    open_step(context, TEXT_STEP, audience=audience.to_json())
    await show(update, context, Card(_(
        "Type the message. Formatting as in Telegram's HTML: <b>bold</b>, <i>italic</i>, "
        "<a href=\"https://example.com\">link</a>. /cancel stops."), []),
        edit=update.callback_query is not None)


async def text_typed(update: Update, context: KassaContext, typed: str) -> None:
    """The message: checked, counted, shown as it will arrive, with Send and Cancel."""
    _ = context.texts
    user, chat = update.effective_user, update.effective_chat
    step = current_step(context) or {}
    audience = Audience.from_json(step.get("audience"))
    if user is None or chat is None or audience is None:
        close_step(context)
        return
    service = context.services.broadcasts
    try:
        text = service.check_text(typed)
        count = await service.preview(user.id, audience)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []), edit=False)
        return  # the step stays open: the next text is the corrected message
    if count == 0:
        close_step(context)
        await show(update, context, Card(_("Nobody is in this audience: nothing was sent."),
                                         []), edit=False)
        return
    open_step(context, CONFIRM_STEP, audience=audience.to_json(), text=text)
    await show(update, context, Card(_("This is how it will look:"), []), edit=False)
    await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
    await show(update, context, Card(
        _.ngettext("Send it to {n} person?", "Send it to {n} people?", count, n=count),
        [[button(_("📣 Send"), cb.broadcast("send")), button(_("Cancel"), cb.broadcast("no"))]],
    ), edit=False)


async def confirm_typed(update: Update, context: KassaContext, typed: str) -> None:
    _ = context.texts
    await show(update, context, Card(_("Press Send or Cancel above (or /cancel)."), []),
               edit=False)


async def _send(update: Update, context: KassaContext) -> None:
    _ = context.texts
    user, chat = update.effective_user, update.effective_chat
    step = current_step(context) or {}
    audience = Audience.from_json(step.get("audience"))
    text = step.get("text")
    if user is None or chat is None or step.get("purpose") != CONFIRM_STEP \
            or audience is None or not isinstance(text, str):
        await show(update, context, Card(_("This button is out of date."), []))
        return
    close_step(context)  # a second press of Send finds no step: one broadcast only
    try:
        started = await context.services.broadcasts.send(user.id, audience, text)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []))
        return
    empty = BroadcastProgress(started.total, 0, 0, 0)
    card = await show(update, context, Card(progress_text(_, empty), []))
    job_queue = context.job_queue
    if job_queue is not None:
        job_queue.run_repeating(
            _progress_job, interval=PROGRESS_SECONDS, first=PROGRESS_SECONDS,
            name=f"broadcast-{started.broadcast_id}",
            data={"chat": chat.id, "message": card.message_id, "staff": user.id,
                  "broadcast": started.broadcast_id, "total": started.total,
                  "language": _.language})


def progress_text(_: Texts, progress: BroadcastProgress) -> str:
    counts = {"sent": progress.sent, "failed": progress.failed, "blocked": progress.blocked,
              "total": progress.total}
    if progress.done:
        return _("Broadcast done: {sent} sent, {failed} failed, {blocked} blocked the bot, "
                 "of {total}.", **counts)
    return _("Sending… {sent} sent, {failed} failed, {blocked} blocked the bot, of {total}.",
             **counts)


async def refresh_progress(context: CallbackContext[Any, Any, Any, Any], data: dict[str, Any]
                           ) -> bool:
    """Edit the progress card from the outbox's counts; True once the broadcast is done."""
    services = context.application.services  # type: ignore[attr-defined]
    progress = await services.broadcasts.progress(data["staff"], data["broadcast"],
                                                  data["total"])
    try:
        await context.bot.edit_message_text(progress_text(texts(data["language"]), progress),
                                            chat_id=data["chat"], message_id=data["message"])
    except BadRequest:  # unchanged since the last edit, or the card was deleted
        pass
    except (RetryAfter, NetworkError):
        # Flood control, or Telegram away for a moment: this refresh is skipped, and the
        # job stays to make the next (even the last one: the card must end as the report).
        return False
    return progress.done


async def _progress_job(context: CallbackContext[Any, Any, Any, Any]) -> None:
    job = context.job
    if job is None or not isinstance(job.data, dict):
        return
    if await refresh_progress(context, job.data):
        job.schedule_removal()


