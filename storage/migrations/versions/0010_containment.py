"""containment anchors: winnowed shingle hashes of recent articles

Revision ID: 0010_containment
Revises: 0009_source_ownership
Create Date: 2026-12-02 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_containment"
down_revision = "0009_source_ownership"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_anchors",
        sa.Column("anchor", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("story_id", sa.BigInteger(), nullable=False),
        sa.Column("anchor_count", sa.SmallInteger(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_anchors_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("anchor", "article_id", name=op.f("pk_article_anchors")),
    )
    op.create_index(
        op.f("ix_article_anchors_seen_at"), "article_anchors", ["seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_article_anchors_seen_at"), table_name="article_anchors")
    op.drop_table("article_anchors")
