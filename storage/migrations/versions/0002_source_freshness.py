"""source freshness and seen-url retention

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:51:37.628320
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_seen_urls_seen_at"), "seen_urls", ["seen_at"], unique=False)
    op.add_column("sources", sa.Column("last_new_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sources", sa.Column("expect_every_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "expect_every_seconds")
    op.drop_column("sources", "last_new_at")
    op.drop_index(op.f("ix_seen_urls_seen_at"), table_name="seen_urls")
