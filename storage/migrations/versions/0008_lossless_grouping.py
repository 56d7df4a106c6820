"""lossless grouping: the kind of each outbox row, and the batch that names it

Revision ID: 0008_lossless_grouping
Revises: 0007
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_lossless_grouping"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "alerts", sa.Column("kind", sa.String(length=16), server_default="alert", nullable=False)
    )
    op.add_column("alerts", sa.Column("batch_id", sa.String(length=64), nullable=True))
    op.add_column("alerts", sa.Column("batched_at", sa.DateTime(timezone=True), nullable=True))
    # rows written before: an "also reported" row was a group member (is_update, group set)
    op.execute(
        "UPDATE alerts SET kind = CASE"
        " WHEN is_update AND seq = 0 AND group_story_id IS NOT NULL THEN 'also_reported'"
        " WHEN is_update THEN 'update' ELSE 'alert' END"
    )
    op.create_index(
        "ix_alerts_waiting",
        "alerts",
        ["channel", "group_story_id"],
        unique=False,
        postgresql_where=sa.text(
            "status = 'pending' AND kind = 'also_reported' AND batch_id IS NULL"
        ),
    )
    op.create_index("ix_alerts_batch_id", "alerts", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_batch_id", table_name="alerts")
    op.drop_index(
        "ix_alerts_waiting",
        table_name="alerts",
        postgresql_where=sa.text(
            "status = 'pending' AND kind = 'also_reported' AND batch_id IS NULL"
        ),
    )
    op.drop_column("alerts", "batched_at")
    op.drop_column("alerts", "batch_id")
    op.drop_column("alerts", "kind")
