"""event grouping and alert severity

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:20:11.219540
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("group_story_id", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("severity", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_alerts_created_at"), "alerts", ["created_at"], unique=False)
    op.add_column(
        "stories",
        sa.Column(
            "key_terms", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("stories", "key_terms")
    op.drop_index(op.f("ix_alerts_created_at"), table_name="alerts")
    op.drop_column("alerts", "severity")
    op.drop_column("alerts", "group_story_id")
