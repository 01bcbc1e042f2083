"""The last resort when handling an update fails unexpectedly (the database out of
connections for a moment, a bug): the person is told, in their language, to try again, and
the failure is logged with its traceback.

Without it python-telegram-bot only logs the error and the passenger, who pressed a button
or typed an answer, hears nothing at all. A refusal the booking service explains (a seat
taken, a trip gone) never comes here: the steps answer those themselves. One update may
fail in more than one handler group; its person is told once. A failure of Telegram's own
(flood control, the network) is only logged: another message then would fare no better.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections import OrderedDict
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from booking.errors import BookingError, ErrorCode
from handlers.cards import answer_query
from handlers.context import KassaContext
from handlers.errors import error_text

log = logging.getLogger(__name__)

_TOLD_KEPT = 1024  # per bot, the update ids whose person was told, newest kept
_told: weakref.WeakKeyDictionary[Any, OrderedDict[int, None]] = weakref.WeakKeyDictionary()


async def on_failure(update: object, context: KassaContext) -> None:
    log.error("handling failed", exc_info=context.error)
    if isinstance(context.error, TelegramError):
        return  # Telegram itself refused (flood control, the network): no more messages now
    if not isinstance(update, Update) or update.effective_user is None \
            or update.effective_chat is None \
            or not _first_time(context.application, update.update_id):
        return
    text = error_text(context.texts, BookingError(ErrorCode.BUSY))
    with contextlib.suppress(TelegramError):
        # A pressed button: the notice on the button; else, or if it was answered already,
        # in the chat.
        if not await answer_query(update, text, alert=True):
            await context.bot.send_message(update.effective_chat.id, text)


def _first_time(application: Any, update_id: int) -> bool:
    told = _told.setdefault(application, OrderedDict())
    if update_id in told:
        return False
    told[update_id] = None
    if len(told) > _TOLD_KEPT:
        told.popitem(last=False)
    return True
