"""test sends without a member: a test filled with the built-in sample member names none

Revision ID: preview_1
Revises: analytics_2
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "preview_1"
down_revision: str | None = "analytics_2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("member_id", existing_type=ID, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE member_id IS NULL")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("member_id", existing_type=ID, nullable=False)
