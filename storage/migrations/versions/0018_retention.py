"""retention: what pruning needs, and the duplicate check's canonical-URL index

Revision ID: 0018_retention
Revises: 0017_source_checks
Create Date: 2026-12-10 09:00:00.000000

- `articles.canonical_url` indexed: the duplicate check of every ingest ORs on it.
- `articles (fetched_at) WHERE text <> ''`: the texts still kept, oldest first.
- `stories (first_seen_at)`: the oldest stories, for the retention job.
- `alerts (channel) WHERE status = 'dead'` and `alerts (delivered_at) WHERE payload IS NOT
  NULL`: dead letters counted and payloads dropped without reading every alert.
- band and anchor rows no longer cascade from their article: they leave by age
  (`prune_bands`), and a cascade would scan them once per article a story prune removes.
- `pruned`: how much each kind of row the retention job has removed, and when.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_retention"
down_revision = "0017_source_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_articles_canonical_url"), "articles", ["canonical_url"])
    op.create_index(
        "ix_articles_text_kept",
        "articles",
        ["fetched_at"],
        postgresql_where=sa.text("text <> ''"),
    )
    op.create_index(op.f("ix_stories_first_seen_at"), "stories", ["first_seen_at"])
    op.create_index(
        "ix_alerts_dead", "alerts", ["channel"], postgresql_where=sa.text("status = 'dead'")
    )
    op.create_index(
        "ix_alerts_payload",
        "alerts",
        ["delivered_at"],
        postgresql_where=sa.text("payload IS NOT NULL"),
    )
    op.drop_constraint(
        "fk_article_bands_article_id_articles", "article_bands", type_="foreignkey"
    )
    op.drop_constraint(
        "fk_article_anchors_article_id_articles", "article_anchors", type_="foreignkey"
    )
    op.create_table(
        "pruned",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_cutoff", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_pruned")),
    )


def downgrade() -> None:
    op.drop_table("pruned")
    op.create_foreign_key(
        "fk_article_anchors_article_id_articles",
        "article_anchors",
        "articles",
        ["article_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_article_bands_article_id_articles",
        "article_bands",
        "articles",
        ["article_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_index("ix_alerts_payload", table_name="alerts")
    op.drop_index("ix_alerts_dead", table_name="alerts")
    op.drop_index(op.f("ix_stories_first_seen_at"), table_name="stories")
    op.drop_index("ix_articles_text_kept", table_name="articles")
    op.drop_index(op.f("ix_articles_canonical_url"), table_name="articles")
