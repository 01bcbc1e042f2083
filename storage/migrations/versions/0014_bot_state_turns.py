"""A function that takes a person's advisory lock, then reads their bot_state row: a turn's
start in one round trip; and a procedure that writes the row, commits, then gives the locks
back: its end in one (storage/bot_state.py, TurnRows). PostgreSQL only.

Why a function rather than ``SELECT pg_advisory_lock(k), (SELECT ... FROM bot_state)``: a
statement reads with the snapshot it took when it began, before the lock was granted, so
the row it returned could be older than the one the lock's last holder wrote just before
giving it back. A VOLATILE PL/pgSQL function takes a fresh snapshot for each statement it
runs (READ COMMITTED), so its read, after the lock, sees every write committed before the
lock was given back (tests/test_turn_rows.py shows it).

Why a procedure for the end: the unlock must come after the write has committed, or the
next holder could read the row before the write; a statement runs in one transaction, but
a procedure (CALLed outside a transaction block) may COMMIT between its statements.

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
# and no read when the lock is busy. The data comes back as the json's text.
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
# expected NULL: a first version, only if there is no row; else only if the row is still at
# version ``expected``. ``written``: whether it was.
_CREATE_SAVE = """
CREATE PROCEDURE bot_state_save_and_unlock(
    state_kind text, state_key text, new_data text, at timestamptz, new_version bigint,
    expected bigint, INOUT written boolean DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
BEGIN
    IF expected IS NULL THEN
        INSERT INTO bot_state (kind, key, data, updated_at, version)
            VALUES (state_kind, state_key, new_data::json, at, new_version)
            ON CONFLICT (kind, key) DO NOTHING;
    ELSE
        UPDATE bot_state SET data = new_data::json, updated_at = at, version = new_version
            WHERE kind = state_kind AND key = state_key AND version = expected;
    END IF;
    GET DIAGNOSTICS changed = ROW_COUNT;
    written := changed = 1;
    COMMIT;  -- before the unlock: the lock's next holder reads what was written
    PERFORM pg_advisory_unlock_all();
END
$$
"""
_DROP = "DROP FUNCTION bot_state_lock_and_load(bigint, boolean, text, text)"
_DROP_SAVE = ("DROP PROCEDURE bot_state_save_and_unlock(text, text, text, timestamptz, bigint, "
              "bigint, boolean)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)
        op.execute(_CREATE_SAVE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP_SAVE)
        op.execute(_DROP)
