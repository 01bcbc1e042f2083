"""The outbox knows which broadcast a row belongs to, and is claimed in (due, id) order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_broadcast_id", "outbox", ["broadcast_id"])
    # A broadcast's rows share one due time: with the id in the index the worker's claim
    # (oldest due first, then by id) reads them in order instead of sorting them all.
    op.drop_index("ix_outbox_pending_due", table_name="outbox")
    op.create_index("ix_outbox_pending_due", "outbox", ["due_at", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_due", table_name="outbox")
    op.create_index("ix_outbox_pending_due", "outbox", ["due_at"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.drop_index("ix_outbox_broadcast_id", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("broadcast_id")
