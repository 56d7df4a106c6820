"""timeline_indexes: indexes for the timeline's groups and for its filters' choices

The timeline finds group members (alerts with `group_story_id` set) for every page: which
stories are members, and the members of the groups on a page; a partial index holds only
those rows. The filters offer the events and languages of the stories with an event: read
by skipping through two partial indexes (a few distinct values), not by reading every story.

Revision ID: 0016_timeline_indexes
Revises: 0015_alert_owner
Create Date: 2026-12-11 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0016_timeline_indexes"
down_revision = "0015_alert_owner"
branch_labels = None
depends_on = None

WITH_EVENT = "events <> '{}'::text[]"


def upgrade() -> None:
    op.create_index(
        "ix_alerts_grouped",
        "alerts",
        ["group_story_id", "story_id"],
        postgresql_where="group_story_id IS NOT NULL",
    )
    op.create_index("ix_stories_events", "stories", ["events"], postgresql_where=WITH_EVENT)
    op.create_index("ix_stories_language", "stories", ["language"], postgresql_where=WITH_EVENT)


def downgrade() -> None:
    op.drop_index("ix_stories_language", table_name="stories")
    op.drop_index("ix_stories_events", table_name="stories")
    op.drop_index("ix_alerts_grouped", table_name="alerts")
