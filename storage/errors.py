"""Driver errors, however the database reports them, in the domain's terms: lock contention
becomes LockTimeout (one translation), and an idempotency-key race is recognised so the
loser can retry and find the winner's row."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from booking.ports import LockTimeout

# lock_not_available, deadlock_detected, serialization_failure
_PG_RETRYABLE = frozenset({"55P03", "40P01", "40001"})
_SQLITE_BUSY = ("database is locked", "database table is locked")
_PG_UNIQUE_VIOLATION = "23505"
# The unique keys two concurrent requests may both claim, the loser then retrying to find
# the winner's row: a hold's request key, a payment's provider reference, a provider event's
# id (written in one statement with its payment, either may be the one found taken first).
# Another unique violation is a bug and stays one.
IDEMPOTENCY_KEYS = frozenset({"uq_orders_customer_request", "uq_payments_provider_reference",
                              "uq_payment_events_provider_event"})


def is_duplicate_key(error: BaseException) -> bool:
    """A unique violation of one of the IDEMPOTENCY_KEYS, raised by asyncpg itself (the hold
    path's statements) or through SQLAlchemy. Only PostgreSQL can raise one: SQLite's
    writers take turns, so the later one always finds the earlier one's row first."""
    cause: BaseException | None = error.orig if isinstance(error, DBAPIError) else error
    while cause is not None:  # SQLAlchemy's adapter keeps asyncpg's error as its cause
        sqlstate = getattr(cause, "sqlstate", None)
        constraint = getattr(cause, "constraint_name", None)
        if sqlstate == _PG_UNIQUE_VIOLATION and constraint is not None:
            return constraint in IDEMPOTENCY_KEYS
        cause = cause.__cause__
    return False


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
