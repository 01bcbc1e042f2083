"""What stops a server from starting, told in one line.

A database that does not answer, a schema that is not migrated, a port another process
holds, a Telegram that refuses the token or cannot be reached: each is the operator's to
fix, so `kassa webhook`, `kassa run` and `kassa booking-api` name it on one line and exit
2, never with a traceback (a supervisor restarts the process; the line says why it
stopped).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

T = TypeVar("T")


SCHEMA_AHEAD = ("the database schema is newer than this release of Kassa; run the release "
                "that migrated it")


class CannotStart(Exception):
    """Something outside Kassa keeps it from starting; the message says what."""


def database_name(url: str) -> str:
    """The database as an operator names it, without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot read is shown by its scheme only
        return url.split(":", 1)[0]


def unreachable_database(url: str, error: BaseException) -> CannotStart:
    return CannotStart(f"cannot reach the database {database_name(url)} ({cause(error)})")


async def require_current_schema(url: str) -> None:
    """The database answers and is migrated to this release's newest revision."""
    from storage.migrate import schema_status

    try:
        status = await schema_status(url)
    except (OSError, SQLAlchemyError) as error:  # TimeoutError is an OSError
        raise unreachable_database(url, error) from None
    except ValueError as error:  # a URL SQLAlchemy parsed but the driver cannot use
        raise CannotStart(f"KASSA_DATABASE_URL cannot be used ({cause(error)})") from None
    if status == "behind":
        raise CannotStart("the database schema is not up to date; run `kassa db upgrade`")
    if status == "ahead":
        raise CannotStart(SCHEMA_AHEAD)


async def listen(site: web.TCPSite, host: str, port: int) -> None:
    try:
        await site.start()
    except OSError as error:
        raise CannotStart(f"cannot listen on {host}:{port} "
                          f"({error.strerror or cause(error)})") from None


async def reach_telegram(call: Awaitable[T], token: str) -> T:
    """A Bot API call made while starting (getMe, setWebhook, the first getUpdates). The
    bot's ``token`` is masked in what is said: the Bot API's URLs hold it, and an error
    about a URL quotes it."""
    from telegram.error import InvalidToken, NetworkError, TelegramError

    def masked(text: str) -> str:
        return text.replace(token, "<KASSA_TELEGRAM_TOKEN>") if token else text

    try:
        return await call
    except InvalidToken:
        raise CannotStart("Telegram refused the bot's token (KASSA_TELEGRAM_TOKEN)") from None
    except NetworkError as error:  # TimedOut too
        raise CannotStart(f"cannot reach Telegram's Bot API ({masked(error.message)}); "
                          "start again once it answers") from None
    except TelegramError as error:
        raise CannotStart(f"Telegram refused: {masked(error.message)}") from None


def cause(error: BaseException) -> str:
    """The innermost cause, which says what happened ("Connect call failed …"), on one
    line: SQLAlchemy wraps the driver's error, which wraps the socket's."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]
