"""timeline_search: indexes for the web timeline's order and its search in three languages

English and Russian full-text search over each copy's title and text (expression GIN
indexes on `to_tsvector`), a `pg_trgm` GIN index on the same text for Japanese substring
search, and the timeline's order (stories with an event, by publication else first sight).

Revision ID: 0014_timeline_search
Revises: 0013_outlet_url
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014_timeline_search"
down_revision = "0013_outlet_url"
branch_labels = None
depends_on = None

DOCUMENT = "(COALESCE(title, ''::text) || ' '::text) || COALESCE(text, ''::text)"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for config in ("english", "russian"):
        op.execute(
            f"CREATE INDEX ix_articles_search_{config[:2]} ON articles "
            f"USING gin (to_tsvector('{config}'::regconfig, {DOCUMENT}))"
        )
    op.execute(
        f"CREATE INDEX ix_articles_search_trgm ON articles USING gin (({DOCUMENT}) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_stories_timeline ON stories "
        "((coalesce(published_at, first_seen_at)) DESC, id DESC) WHERE events <> '{}'::text[]"
    )


def downgrade() -> None:
    for name in (
        "ix_stories_timeline",
        "ix_articles_search_trgm",
        "ix_articles_search_ru",
        "ix_articles_search_en",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
