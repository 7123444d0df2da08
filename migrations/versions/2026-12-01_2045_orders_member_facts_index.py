"""orders: a covering index for per-member reads of paid orders

Revision ID: analytics_2
Revises: analytics_1
Create Date: 2026-12-01 20:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "analytics_2"
down_revision: str | None = "analytics_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_member_id_paid_at"))
        batch_op.create_index(
            "ix_orders_member_facts",
            ["member_id", "paid_at", "status", "total", "refund_total", "discount_total", "source"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_member_facts")
        batch_op.create_index(
            batch_op.f("ix_orders_member_id_paid_at"), ["member_id", "paid_at"], unique=False
        )
