"""alert_groups: an index on the alerts that list a story under another story's event

The timeline finds group members (`group_story_id` set) for every page: which stories are
members, and the members of the groups on a page. A partial index holds only those rows.

Revision ID: 0015_alert_groups
Revises: 0014_timeline_search
Create Date: 2026-12-11 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0015_alert_groups"
down_revision = "0014_timeline_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_alerts_grouped",
        "alerts",
        ["group_story_id", "story_id"],
        postgresql_where="group_story_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_grouped", table_name="alerts")
