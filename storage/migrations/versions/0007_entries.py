"""durable entries replace seen_urls; articles say which text they were judged on

Revision ID: 0007
Revises: 0006

Every URL the old `seen_urls` table remembered, and every stored article's URL, becomes a
finished entry, so nothing decided before is fetched again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("published_at", TIMESTAMP, nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("outlet", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, server_default=sa.text("now()"), nullable=False),
        sa.Column("leased_until", TIMESTAMP, nullable=True),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("judged_on", sa.String(length=8), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("story_id", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_at", TIMESTAMP, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint("url", name=op.f("uq_entries_url")),
    )
    op.create_index(
        "ix_entries_due",
        "entries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'retrying')"),
    )
    op.create_index(op.f("ix_entries_updated_at"), "entries", ["updated_at"], unique=False)
    op.create_index(
        op.f("ix_entries_source_status"), "entries", ["source", "status"], unique=False
    )
    op.add_column(
        "articles",
        sa.Column("text_source", sa.String(length=8), server_default="page", nullable=False),
    )
    op.add_column("articles", sa.Column("text_reason", sa.Text(), nullable=True))
    op.execute(
        """
        INSERT INTO entries (source, url, title, published_at, language, outlet, status,
                             judged_on, verdict, story_id, first_seen_at, updated_at)
        SELECT source, url, title, published_at, language, outlet, 'done',
               'page', 'stored', story_id, fetched_at, fetched_at
        FROM articles
        ON CONFLICT (url) DO NOTHING
        """
    )
    op.execute(
        """
        INSERT INTO entries (source, url, status, verdict, reason, first_seen_at, updated_at)
        SELECT source, url, 'done', verdict, 'decided before entries were kept', seen_at, seen_at
        FROM seen_urls
        ON CONFLICT (url) DO NOTHING
        """
    )
    op.drop_table("seen_urls")


def downgrade() -> None:
    op.create_table(
        "seen_urls",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_seen_urls")),
    )
    op.create_index(op.f("ix_seen_urls_seen_at"), "seen_urls", ["seen_at"], unique=False)
    op.execute(
        """
        INSERT INTO seen_urls (url, source, verdict, seen_at)
        SELECT url, source, coalesce(verdict, 'unusable'), updated_at FROM entries
        WHERE status IN ('done', 'feed') AND coalesce(verdict, '') <> 'stored'
        """
    )
    op.drop_column("articles", "text_reason")
    op.drop_column("articles", "text_source")
    op.drop_table("entries")
