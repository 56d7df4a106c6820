"""sources: a note on the last poll that read the index (why an ok poll kept nothing)

Revision ID: 0012_source_note
Revises: 0011_labels
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_source_note"
down_revision = "0011_labels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("last_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "last_note")
