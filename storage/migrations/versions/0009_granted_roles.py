"""The role an admin granted in the bot, kept apart from the role in force.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("granted_role", sa.String(length=16),
                                         nullable=False, server_default="passenger"))
    # Admins so far were made by hand in the database: they keep their rights as a grant.
    op.execute("UPDATE customers SET granted_role = 'admin' WHERE role = 'admin'")


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("granted_role")
