"""events without tx_id: readers fence the log with an advisory lock instead

Revision ID: journeys_2
Revises: journeys_1
Create Date: 2026-12-01 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "journeys_2"
down_revision: str | None = "journeys_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("tx_id")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tx_id", sa.BigInteger(), nullable=False, server_default="0")
        )
