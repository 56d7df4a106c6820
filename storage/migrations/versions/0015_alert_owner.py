"""alerts: who holds an outbox row's lease (`leased_by`), so a late write-back is refused

Revision ID: 0015_alert_owner
Revises: 0014_timeline_search
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_alert_owner"
down_revision = "0014_timeline_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("leased_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "leased_by")
