"""A function that takes a person's advisory lock, then reads their bot_state row: a turn's
start in one round trip (storage/bot_state.py, TurnRows). PostgreSQL only.

Why a function rather than ``SELECT pg_advisory_lock(k), (SELECT ... FROM bot_state)``: a
statement reads with the snapshot it took when it began, before the lock was granted, so
the row it returned could be older than the one the lock's last holder wrote just before
giving it back. A VOLATILE PL/pgSQL function takes a fresh snapshot for each statement it
runs (READ COMMITTED), so its read, after the lock, sees every write committed before the
lock was given back (tests/test_bot_state_turns.py shows it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# wait: pg_advisory_lock (which lock_timeout ends with an error); else pg_try_advisory_lock,
# and no read when the lock is taken. The data comes back as the json's text.
_CREATE = """
CREATE FUNCTION bot_state_lock_and_load(
    lock_key bigint, wait boolean, state_kind text, state_key text,
    OUT locked boolean, OUT data text, OUT version bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF wait THEN
        PERFORM pg_advisory_lock(lock_key);
        locked := true;
    ELSE
        locked := pg_try_advisory_lock(lock_key);
        IF NOT locked THEN
            RETURN;
        END IF;
    END IF;
    SELECT s.data::text, s.version INTO data, version
        FROM bot_state AS s WHERE s.kind = state_kind AND s.key = state_key;
END
$$
"""
_DROP = "DROP FUNCTION bot_state_lock_and_load(bigint, boolean, text, text)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
