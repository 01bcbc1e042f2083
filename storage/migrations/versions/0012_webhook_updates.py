"""Telegram updates taken in webhook mode, so a replayed update is handled once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_webhook_updates")),
    )
    op.create_index("ix_webhook_updates_received_at", "webhook_updates", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_updates_received_at", table_name="webhook_updates")
    op.drop_table("webhook_updates")
