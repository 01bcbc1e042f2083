"""A version on each bot_state row, so an older write never replaces a newer one; and an
index to find the rows of one kind written lately (the held-card countdown's candidates).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bot_state") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False,
                                   server_default="0"))
    op.create_index("ix_bot_state_kind_updated_at", "bot_state", ["kind", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_bot_state_kind_updated_at", table_name="bot_state")
    with op.batch_alter_table("bot_state") as batch:
        batch.drop_column("version")
