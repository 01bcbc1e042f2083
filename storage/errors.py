"""Recognising lock contention in driver errors, so it can become LockTimeout."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# lock_not_available, deadlock_detected, serialization_failure
_PG_RETRYABLE = {"55P03", "40P01", "40001"}


def is_lock_contention(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _PG_RETRYABLE:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message
