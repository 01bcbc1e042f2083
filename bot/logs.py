"""Kassa's logs: one line per event on stderr, JSON for the servers, readable for the demo.

Kassa and its libraries (python-telegram-bot, aiohttp, SQLAlchemy, APScheduler) log through
the standard library; structlog's ProcessorFormatter renders every record, so all of them
come out in one format. The ids an event concerns (update_id, user_id, order_id) are bound
in a context variable of this module where they become known: per update
(bot/observed.py), per HTTP request (bot/metrics.py), per outbox delivery (bot/jobs.py). A
line carries ids only, never a name, a message's text or a phone number: nothing Kassa logs
holds them, and a record whose arguments are a Telegram object (python-telegram-bot logs the
whole update when it cannot build a context for it) is rendered as its ids.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

LogFormat = Literal["json", "console"]

# The ids bound per update, request or delivery (update_id, user_id, order_id): one
# variable holding them all, each binding a new mapping: two bindings per update, and
# structlog's own context variables (one per key, found by copying the whole context)
# cost a few per cent of an update's CPU.
_ids: ContextVar[Mapping[str, Any]] = ContextVar("kassa_log_ids", default=MappingProxyType({}))


def configure(log_format: LogFormat, *, stream: TextIO | None = None,
              level: int | str = logging.INFO) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in ``log_format``; returns the handler,
    which replaces the one an earlier call installed (not anybody else's: pytest's)."""
    shared: list[Processor] = [
        _merge_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: list[Processor]
    if log_format == "json":
        # A traceback as one string field: the line stays one line of JSON. Not structlog's
        # dict tracebacks, which would add every frame's local variables (names, texts).
        renderer = [structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(sort_keys=False)]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False)]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _extra_fields],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_ids_for_telegram_objects)
    handler.addFilter(_bad_http_in_one_line)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx would log every Bot API URL, which holds the bot's token; Alembic's schema
    # check at start says nothing new; APScheduler tells of every job run, twice a
    # second, and warns of each run skipped while the last one still works, which the
    # jobs ask for (max_instances=1: the outbox worker runs on until nothing is due).
    # Even at KASSA_LOG_LEVEL=debug: python-telegram-bot's debug lines carry every Bot API
    # call's parameters (the texts sent, so passengers' names), its URL (the token) and
    # the webhook's secret; SQLAlchemy's and aiosqlite's carry every statement's parameters.
    for noisy, least in (("telegram", logging.INFO), ("sqlalchemy", logging.WARNING),
                         ("aiosqlite", logging.INFO),
                         ("httpx", logging.WARNING), ("alembic", logging.WARNING),
                         ("apscheduler", logging.WARNING),
                         ("apscheduler.scheduler", logging.ERROR)):
        # A floor, never lower than the level asked for: a logger's own level is all
        # that decides for its records, whatever the root's.
        logging.getLogger(noisy).setLevel(max(least, root.level))
    # Kassa's own code logs through the standard library too; this is for code that asks
    # structlog for a logger, so its events take the same way.
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler


def remove(handler: logging.Handler) -> None:
    """Undo ``configure`` (tests)."""
    logging.getLogger().removeHandler(handler)
    structlog.reset_defaults()


_HANDLER_NAME = "kassa"

# A record's own attributes; any other is a field given with ``extra=``. Not structlog's
# ExtraAdder, which takes "message" and "asctime" for such fields: another handler's
# formatter (pytest's, say) sets them, and "message" is the text before our filter
# replaced an update in it by its ids.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime"}


def _extra_fields(logger: Any, name: str, event: MutableMapping[str, Any]
                  ) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None:
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                event.setdefault(key, value)
    return event


@contextmanager
def log_ids(**ids: Any) -> Iterator[None]:
    """Bind these ids (None leaves one out) for the lines logged inside, and forget
    every id bound inside once it ends: an order noted while handling one update must not
    be on the next update's lines, which may be handled by the same task (polling)."""
    token = _ids.set(_given(ids))
    try:
        yield
    finally:
        _ids.reset(token)


def task_ids(**ids: Any) -> None:
    """Bind exactly these ids (the others dropped) for the rest of a task of its own,
    whose context ends with it."""
    _ids.set(_given(ids))


def note_ids(**ids: Any) -> None:
    """Bind ids learnt part way (the order a hold made) until the enclosing log_ids ends."""
    _ids.set({**_ids.get(), **_given(ids)})


def _given(ids: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ids.items() if v is not None}


def _merge_ids(logger: Any, name: str, event: MutableMapping[str, Any]
               ) -> MutableMapping[str, Any]:
    """The bound ids first, then the event's own fields (which win)."""
    ids = _ids.get()
    return {**ids, **event} if ids else event


def _ids_for_telegram_objects(record: logging.LogRecord) -> bool:
    """Render an Update passed as a log argument as its ids, not its content."""
    args = record.args
    if isinstance(args, tuple) and any(_is_update(a) for a in args):
        record.args = tuple(_update_ids(a) if _is_update(a) else a for a in args)
    return True


def _bad_http_in_one_line(record: logging.LogRecord) -> bool:
    """A request aiohttp could not parse as HTTP (a header too long, a control character in
    one), which it logs as an error with a traceback quoting the bytes it choked on: the
    client's Authorization header, token and all. A client's mistake, not the server's: one
    warning line naming the kind of fault, without the bytes."""
    error = record.exc_info[1] if record.exc_info else None
    http_exceptions = sys.modules.get("aiohttp.http_exceptions")
    # A body that is not what its Content-Encoding says fails as aiohttp drains it, the
    # parser's error wrapped in another ("Unhandled exception"): the cause is looked for.
    while (error is not None and http_exceptions is not None
           and not isinstance(error, http_exceptions.HttpProcessingError)):
        error = error.__cause__ or error.__context__
    if (record.name == "aiohttp.server" and http_exceptions is not None
            and isinstance(error, http_exceptions.HttpProcessingError)):
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg = "bad HTTP request from %s refused (%s)"
        record.args = (remote, type(error).__name__)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


def _is_update(value: object) -> bool:
    # Without python-telegram-bot loaded (the booking API) there can be no update.
    telegram = sys.modules.get("telegram")
    return telegram is not None and isinstance(value, telegram.Update)


def _update_ids(update: Any) -> str:
    user = update.effective_user
    return f"<update {update.update_id} of user {user.id if user else '-'}>"
