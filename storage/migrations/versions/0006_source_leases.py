"""source leases for replicas

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 20:58:02.416364
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sources", sa.Column("leased_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "leased_by")
    op.drop_column("sources", "leased_until")
