"""near-duplicate band index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 20:03:37.124525
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_bands",
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("story_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_bands_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band", "article_id", name=op.f("pk_article_bands")),
    )
    op.create_index(op.f("ix_article_bands_seen_at"), "article_bands", ["seen_at"], unique=False)
    op.add_column("articles", sa.Column("near_signature", sa.LargeBinary(), nullable=True))
    op.add_column("articles", sa.Column("canonical_url", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "canonical_url")
    op.drop_column("articles", "near_signature")
    op.drop_index(op.f("ix_article_bands_seen_at"), table_name="article_bands")
    op.drop_table("article_bands")
