"""The table definitions; Alembic migrations in `storage/migrations` must match them.

sources   one row per source some configuration names: validators for conditional GET, its
          health, and until when a running configuration claims it (`configured_until`)
stories   one row per real-world story; `content_hash` of its first copy
articles  every stored copy of a story (unique canonical URL, unique GUID per source),
          (indexed for search: English and Russian full text, trigrams for Japanese); its
          text is dropped (set to '') after `retention.article_text`, the row is kept
article_bands  MinHash band hashes of recent articles, to find near-duplicate copies (no
          foreign key: they leave by age, within the window, before any article does)
article_anchors  winnowed shingle hashes of recent articles, to find texts one contains
entries   every entry an index yielded: its own text, and the work of reading its page
          (status, attempts, next attempt, lease on the database's clock, verdict)
alerts    the outbox: one row per story, channel and revision, with delivery state (lease
          and its holder on the database's clock); rows of one event's "also reported"
          notification share its `batch_id`
channels  each channel's delivery health (unhealthy after a permanent refusal)
labels    the desk's corrections: per story and event, 'missed' or 'wrong' (one per pair)
pruned    per kind of row the retention job removes: how many so far, how many last time, when
source_checks  the latest verdict of `kurilwatch sources check` per source name (its URL
          as shown: secrets redacted)
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

TIMESTAMP = DateTime(timezone=True)
SEARCH_DOCUMENT = "(COALESCE(title, ''::text) || ' '::text) || COALESCE(text, ''::text)"
"""The searched text of a copy (`articles`), as the search indexes are built on it."""
SEARCH_EN = "COALESCE(language, '') <> 'ru'"
"""The copies searched with the English configuration (all but Russian ones)."""
SEARCH_RU = "language = 'ru'"
"""The copies searched with the Russian configuration."""
SEARCH_TRGM = "COALESCE(language, '') NOT IN ('en', 'ru')"
"""The copies searched by substring (trigrams): neither English nor Russian (Japanese)."""

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_sha256", String(64)),
    Column("last_poll_at", TIMESTAMP),
    Column("last_ok_at", TIMESTAMP),
    Column("last_error", Text),
    Column("last_error_at", TIMESTAMP),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("last_items", Integer),
    Column("last_note", Text),
    Column("articles_stored", Integer, nullable=False, server_default="0"),
    Column("last_new_at", TIMESTAMP),
    Column("expect_every_seconds", Float),
    Column("leased_until", TIMESTAMP),
    Column("leased_by", String(64)),
    Column("fresh_until", TIMESTAMP),
    Column("fresh_by", String(64)),
    Column("configured_until", TIMESTAMP, nullable=False, server_default=text("now()")),
)

stories = Table(
    "stories",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("title", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("language", String(16)),
    Column("published_at", TIMESTAMP),
    Column("first_seen_at", TIMESTAMP, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("events", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("key_terms", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Index(None, "first_seen_at"),
    Index(
        "ix_stories_timeline",
        text("COALESCE(published_at, first_seen_at) DESC"),
        text("id DESC"),
        postgresql_where=text("events <> '{}'::text[]"),
    ),
    Index("ix_stories_events", "events", postgresql_where=text("events <> '{}'::text[]")),
    Index("ix_stories_language", "language", postgresql_where=text("events <> '{}'::text[]")),
)

articles = Table(
    "articles",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("story_id", BigInteger, ForeignKey("stories.id"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("url", Text, nullable=False, unique=True),
    Column("guid", Text),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(16)),
    Column("outlet", Text),
    Column("outlet_url", Text),
    Column("published_at", TIMESTAMP),
    Column("fetched_at", TIMESTAMP, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("near_signature", LargeBinary),
    Column("canonical_url", Text),
    Column("events", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("text_source", String(8), nullable=False, server_default="page"),
    Column("text_reason", Text),
    UniqueConstraint("source", "guid"),
    Index(None, "content_hash"),
    Index(None, "story_id"),
    Index(None, "canonical_url"),
    Index("ix_articles_text_kept", "fetched_at", postgresql_where=text("text <> ''")),
    # search (storage.timeline): each copy in the index of its own language only
    Index(
        "ix_articles_search_en",
        text(f"to_tsvector('english'::regconfig, {SEARCH_DOCUMENT})"),
        postgresql_using="gin",
        postgresql_where=text(SEARCH_EN),
    ),
    Index(
        "ix_articles_search_ru",
        text(f"to_tsvector('russian'::regconfig, {SEARCH_DOCUMENT})"),
        postgresql_using="gin",
        postgresql_where=text(SEARCH_RU),
    ),
    Index(
        "ix_articles_search_trgm",
        text(f"({SEARCH_DOCUMENT}) gin_trgm_ops"),
        postgresql_using="gin",
        postgresql_where=text(SEARCH_TRGM),
    ),
)

article_bands = Table(
    "article_bands",
    metadata,
    Column("band", BigInteger, primary_key=True),
    Column("article_id", BigInteger, primary_key=True),
    Column("story_id", BigInteger, nullable=False),
    Column("seen_at", TIMESTAMP, nullable=False),
    Index(None, "seen_at"),
)

article_anchors = Table(
    "article_anchors",
    metadata,
    Column("anchor", BigInteger, primary_key=True),
    Column("article_id", BigInteger, primary_key=True),
    Column("story_id", BigInteger, nullable=False),
    Column("anchor_count", SmallInteger, nullable=False),
    Column("seen_at", TIMESTAMP, nullable=False),
    Index(None, "seen_at"),
)

entries = Table(
    "entries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("source", String(64), nullable=False),
    Column("url", Text, nullable=False, unique=True),
    Column("canonical_url", Text),
    Column("guid", Text),
    Column("title", Text),
    Column("summary", Text),
    Column("published_at", TIMESTAMP),
    Column("language", String(16)),
    Column("outlet", Text),
    Column("outlet_url", Text),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TIMESTAMP, nullable=False, server_default=text("now()")),
    Column("leased_until", TIMESTAMP),
    Column("leased_by", String(64)),
    Column("last_error", Text),
    Column("judged_on", String(8)),
    Column("verdict", String(16)),
    Column("reason", Text),
    Column("story_id", BigInteger),
    Column("first_seen_at", TIMESTAMP, nullable=False, server_default=text("now()")),
    Column("updated_at", TIMESTAMP, nullable=False, server_default=text("now()")),
    Index(
        "ix_entries_due",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'retrying')"),
    ),
    Index(None, "updated_at"),
    Index(None, "source", "status"),
)

channels = Table(
    "channels",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("last_ok_at", TIMESTAMP),
    Column("last_error", Text),
    Column("last_error_at", TIMESTAMP),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("healthy", Boolean, nullable=False, server_default=text("true")),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("story_id", BigInteger, ForeignKey("stories.id"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("seq", Integer, nullable=False, server_default="0"),
    Column("events", ARRAY(Text), nullable=False),
    Column("rules", ARRAY(Text), nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("is_update", Boolean, nullable=False, server_default=text("false")),
    Column("group_story_id", BigInteger),
    Column("severity", String(16)),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TIMESTAMP, nullable=False),
    Column("leased_until", TIMESTAMP),
    Column("leased_by", String(64)),
    Column("last_error", Text),
    Column("created_at", TIMESTAMP, nullable=False),
    Column("delivered_at", TIMESTAMP),
    Column("payload", JSONB),
    Column("kind", String(16), nullable=False, server_default="alert"),
    Column("batch_id", String(64)),
    Column("batched_at", TIMESTAMP),
    UniqueConstraint("story_id", "channel", "seq"),
    Index("ix_alerts_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index(None, "created_at"),
    Index(
        "ix_alerts_waiting",
        "channel",
        "group_story_id",
        postgresql_where=text("status = 'pending' AND kind = 'also_reported' AND batch_id IS NULL"),
    ),
    Index(None, "batch_id"),
    Index("ix_alerts_dead", "channel", postgresql_where=text("status = 'dead'")),
    Index("ix_alerts_payload", "delivered_at", postgresql_where=text("payload IS NOT NULL")),
    Index(
        "ix_alerts_grouped",
        "group_story_id",
        "story_id",
        postgresql_where=text("group_story_id IS NOT NULL"),
    ),
)

labels = Table(
    "labels",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column(
        "story_id",
        BigInteger,
        ForeignKey("stories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event", Text, nullable=False),
    Column("verdict", String(8), nullable=False),
    Column("note", Text),
    Column("created_at", TIMESTAMP, nullable=False, server_default=text("now()")),
    Column("updated_at", TIMESTAMP, nullable=False, server_default=text("now()")),
    UniqueConstraint("story_id", "event"),
    CheckConstraint("verdict IN ('missed', 'wrong')", name="verdict"),
)

pruned = Table(
    "pruned",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("last_count", BigInteger, nullable=False, server_default="0"),
    Column("last_run_at", TIMESTAMP),
    Column("last_cutoff", TIMESTAMP),
)

source_checks = Table(
    "source_checks",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("verdict", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("robots", Text, nullable=False),
    Column("items", Integer, nullable=False),
    Column("newest_at", TIMESTAMP),
    Column("checked_at", TIMESTAMP, nullable=False),
)
