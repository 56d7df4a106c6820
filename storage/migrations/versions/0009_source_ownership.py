"""sources claimed by the configurations that name them

Revision ID: 0009_source_ownership
Revises: 0008_lossless_grouping
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_source_ownership"
down_revision = "0008_lossless_grouping"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows already there count as configured from now: the next run's claim takes over.
    op.add_column(
        "sources",
        sa.Column(
            "configured_until",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("sources", "configured_until")
