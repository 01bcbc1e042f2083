"""A function that records a webhook update's id, then takes its person's advisory lock and
reads their bot_state row: in webhook mode on PostgreSQL, an update's record and its turn's
start in one round trip (bot/turns.py, storage/bot_state.py TurnRows). PostgreSQL only.

An update recorded before (a replay: Telegram delivers again what it thinks was lost) comes
back ``replayed``, without the lock taken or the row read, and is not handled. Otherwise the
lock and the read are migration 0014's function, called as a statement of its own after the
INSERT, so its read still takes its snapshot once the lock is granted (tests/test_turn_rows.py).
The whole call is one transaction: the id is committed as the call returns, before the
update's handling starts.

A lock still busy after lock_timeout ends only the inner block (a subtransaction): the id
stays recorded and ``locked`` is false, as a turn that goes ahead without its lock after the
wait did when the record was a statement before it. Otherwise the timeout's error would undo
the INSERT too, and a replay of an update handled without its lock would be handled again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = """
CREATE FUNCTION bot_state_record_lock_and_load(
    new_update_id bigint, new_received_at timestamptz,
    lock_key bigint, wait boolean, state_kind text, state_key text,
    OUT replayed boolean, OUT locked boolean, OUT data text, OUT version bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO webhook_updates (update_id, received_at)
        VALUES (new_update_id, new_received_at)
        ON CONFLICT (update_id) DO NOTHING;
    replayed := NOT FOUND;
    IF replayed THEN
        locked := false;
        RETURN;
    END IF;
    BEGIN
        SELECT l.locked, l.data, l.version INTO locked, data, version
            FROM bot_state_lock_and_load(lock_key, wait, state_kind, state_key) AS l;
    EXCEPTION WHEN lock_not_available THEN
        locked := false;  -- the wait went by; the record stays
    END;
END
$$
"""
_DROP = ("DROP FUNCTION bot_state_record_lock_and_load(bigint, timestamptz, bigint, boolean, "
         "text, text)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
