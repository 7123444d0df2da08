"""dispatch attempts: when a message was first and last handed to a gateway; copy index

Revision ID: dispatcher_1
Revises: 0002
Create Date: 2026-12-01 20:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dispatcher_1"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_copy_fingerprint"), ["copy_fingerprint"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_copy_fingerprint"))
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("first_attempt_at")
