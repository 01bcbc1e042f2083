"""A partial index of the outbox's pending rows that are not a broadcast's: the worker
claims a person's own messages (tickets, an expired hold, a reminder) before a broadcast's,
and finds them without reading past a broadcast's thousands of due rows.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("status = 'pending' AND broadcast_id IS NULL")


def upgrade() -> None:
    op.create_index("ix_outbox_pending_due_own", "outbox", ["due_at", "id"],
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_due_own", table_name="outbox")
