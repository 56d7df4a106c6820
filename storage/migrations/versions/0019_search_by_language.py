"""search_by_language: each copy's text in the search index of its own language only

The three search indexes of 0014_timeline_search covered every copy: each stored article
paid for an English and a Russian `to_tsvector` and for every trigram of its text, three
GIN insertions that made most of an ingest's time. Now each copy goes where its language
is searched: the English configuration for every copy not in Russian (English, Japanese,
unknown: the words in Latin letters of a Japanese copy stay searchable as before), the
Russian one for Russian copies, trigrams for copies neither English nor Russian (Japanese
substring search). The predicates are `storage.tables.SEARCH_EN`, `SEARCH_RU` and
`SEARCH_TRGM`; `storage.timeline.search_clause` states the same ones, so the planner can
use the indexes.

Revision ID: 0019_search_by_language
Revises: 0018_retention
Create Date: 2026-12-11 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0019_search_by_language"
down_revision = "0018_retention"
branch_labels = None
depends_on = None

DOCUMENT = "(COALESCE(title, ''::text) || ' '::text) || COALESCE(text, ''::text)"
EN = "COALESCE(language, '') <> 'ru'"
RU = "language = 'ru'"
TRGM = "COALESCE(language, '') NOT IN ('en', 'ru')"


def upgrade() -> None:
    for name in ("ix_articles_search_en", "ix_articles_search_ru", "ix_articles_search_trgm"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute(
        "CREATE INDEX ix_articles_search_en ON articles "
        f"USING gin (to_tsvector('english'::regconfig, {DOCUMENT})) WHERE {EN}"
    )
    op.execute(
        "CREATE INDEX ix_articles_search_ru ON articles "
        f"USING gin (to_tsvector('russian'::regconfig, {DOCUMENT})) WHERE {RU}"
    )
    op.execute(
        "CREATE INDEX ix_articles_search_trgm ON articles "
        f"USING gin (({DOCUMENT}) gin_trgm_ops) WHERE {TRGM}"
    )


def downgrade() -> None:
    for name in ("ix_articles_search_en", "ix_articles_search_ru", "ix_articles_search_trgm"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for config in ("english", "russian"):
        op.execute(
            f"CREATE INDEX ix_articles_search_{config[:2]} ON articles "
            f"USING gin (to_tsvector('{config}'::regconfig, {DOCUMENT}))"
        )
    op.execute(
        f"CREATE INDEX ix_articles_search_trgm ON articles USING gin (({DOCUMENT}) gin_trgm_ops)"
    )
