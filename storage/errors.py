"""Recognising lock contention and idempotency-key races in driver errors, so that they can
become LockTimeout and DuplicateKey."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# lock_not_available, deadlock_detected, serialization_failure
_PG_RETRYABLE = {"55P03", "40P01", "40001"}
_PG_UNIQUE_VIOLATION = "23505"
# The unique keys two concurrent requests may both claim, the loser then retrying to find
# the winner's row: a hold's request key, a payment's provider reference. Another unique
# violation is a bug and stays one.
IDEMPOTENCY_KEYS = frozenset({"uq_orders_customer_request", "uq_payments_provider_reference"})


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


def is_lock_contention(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _PG_RETRYABLE:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message
