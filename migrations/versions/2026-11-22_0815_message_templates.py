"""message_templates: versioned copy, loaded from message_templates/ and edited by API

Revision ID: msgcore_1
Revises: 0001
Create Date: 2026-11-22 08:15:34.048323
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "msgcore_1"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("sms", "email", name="channel", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "purpose",
            sa.Enum("marketing", "transactional", name="purpose", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column(
            "locales", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_message_templates_name_version")),
    )


def downgrade() -> None:
    op.drop_table("message_templates")
