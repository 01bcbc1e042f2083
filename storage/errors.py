"""Lock contention, however the database reports it, becomes LockTimeout: one translation."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from booking.ports import LockTimeout

# lock_not_available, deadlock_detected, serialization_failure
_PG_RETRYABLE = frozenset({"55P03", "40P01", "40001"})
_SQLITE_BUSY = ("database is locked", "database table is locked")


def lock_timeout(error: BaseException) -> LockTimeout | None:
    """The LockTimeout that ``error`` stands for, or None if it is not lock contention.

    Takes SQLAlchemy's errors (the driver's own is their ``orig``) and asyncpg's errors
    from statements sent straight to it (storage/pg_fastpath.py) alike.
    """
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if sqlstate in _PG_RETRYABLE:
        return LockTimeout(str(error))
    if isinstance(error, DBAPIError):
        message = str(driver_error).lower()
        if any(busy in message for busy in _SQLITE_BUSY):
            return LockTimeout(str(error))
    return None
