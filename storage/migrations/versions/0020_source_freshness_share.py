"""source_freshness_share: replicas poll each source about once per interval between them

`sources.fresh_until` and `fresh_by`: when a daemon takes a source for a scheduled poll it
marks the poll fresh, for the other daemons, until half the source's interval has passed (on
the database's clock). Another replica's scheduled poll of it before then is skipped: the
source was just polled. Before, each replica polled every source every interval, and the
lease only kept two polls of one source from running at once.

Revision ID: 0020_source_freshness_share
Revises: 0019_search_by_language
Create Date: 2026-12-11 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_source_freshness_share"
down_revision = "0019_search_by_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sources", sa.Column("fresh_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "fresh_by")
    op.drop_column("sources", "fresh_until")
