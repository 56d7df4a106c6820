"""outlet_url: the publisher's address an aggregator's item names (RSS <source url>)

Revision ID: 0013_outlet_url
Revises: 0012_source_note
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_outlet_url"
down_revision = "0012_source_note"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entries", sa.Column("outlet_url", sa.Text(), nullable=True))
    op.add_column("articles", sa.Column("outlet_url", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "outlet_url")
    op.drop_column("entries", "outlet_url")
