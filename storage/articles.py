"""Articles: exact dedup, story assignment and the outbox rows, in one transaction.

`ingest_article` stores one extracted, on-topic article. In a single transaction it
1. drops it as a duplicate when its URL, or the canonical URL its page declares (an AMP or
   mobile variant of a stored page), or its GUID within its source, is known;
2. otherwise finds its story with `storage.assign.assign_story` (advisory locks on its content
   hash, MinHash bands and containment anchors; exact copy, else near-duplicate within the
   window, else a text it contains or that contains it, else a new story) and indexes its
   bands and anchors;
3. asks the caller's pure `plan` function which alerts are due for the story as it now
   stands, and writes them to the outbox (`alerts`), unique per story, channel and revision,
   each due when the plan says (a story of a told event waits for its group's next
   "also reported" notification).
So no story is stored without its alerts and no alert without its story. A story keeps its
first copy as its representative (title, URL, publication time). Each copy says which
text it was judged on: its page, or the feed's own title and summary (`text_source`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from kurilwatch.model import AlertPlan, Article, IngestResult, RecentAlert, StoryState
from storage.assign import assign_story
from storage.containment import ContainPrint, contain_print
from storage.fingerprint import NearPrint, content_hash, near_print
from storage.tables import alerts, articles, stories

Planner = Callable[[StoryState], Sequence[AlertPlan]]


def ingest_article(
    engine: Engine,
    article: Article,
    *,
    events: Sequence[str],
    plan: Planner,
    now: datetime,
    window_seconds: float = 30 * 86400.0,
    key_terms: frozenset[str] = frozenset(),
    group_window_seconds: float = 48 * 3600.0,
) -> IngestResult:
    """Store `article` (already canonical and on topic) and its due alerts, atomically.

    `window_seconds` is how far back near-duplicate copies are looked for; `key_terms` are
    kept with a new story, and the events alerted within `group_window_seconds` are handed to
    `plan` for grouping.
    """
    digest = content_hash(article.text)
    near = near_print(article.text)
    contain = contain_print(article.title, article.text)
    for _attempt in range(2):  # once more if the story it joined was pruned meanwhile
        try:
            with engine.begin() as conn:
                return _ingest(
                    conn,
                    article,
                    digest,
                    near,
                    contain,
                    events=events,
                    plan=plan,
                    now=now,
                    window_seconds=window_seconds,
                    key_terms=key_terms,
                    group_window_seconds=group_window_seconds,
                )
        except _RaceLost:
            return IngestResult(outcome="duplicate")
        except _StoryGone:
            continue
    raise RuntimeError("the story this article joins was pruned twice while it was stored")


class _RaceLost(Exception):
    """A concurrent crawl stored the same URL or GUID first: roll back, report a duplicate."""


class _StoryGone(Exception):
    """The story this copy joins was pruned meanwhile (`storage.retention`): start again."""


def _ingest(
    conn: Connection,
    article: Article,
    digest: str,
    near: NearPrint | None,
    contain: ContainPrint | None,
    *,
    events: Sequence[str],
    plan: Planner,
    now: datetime,
    window_seconds: float,
    key_terms: frozenset[str],
    group_window_seconds: float,
) -> IngestResult:
    if _is_duplicate(conn, article):
        return IngestResult(outcome="duplicate")
    assignment = assign_story(
        conn, digest, near, contain=contain, now=now, window_seconds=window_seconds
    )
    story_id = assignment.story_id
    is_new = story_id is None
    if story_id is None:
        story_id = conn.execute(
            NEW_STORY,
            {
                "title": article.title,
                "url": article.url,
                "language": article.language,
                "published_at": article.published_at,
                "first_seen_at": now,
                "content_hash": digest,
                "events": sorted(set(events)),
                "key_terms": sorted(key_terms),
            },
        ).scalar_one()
        story = _Story(article.published_at, now, tuple(sorted(key_terms)))
    else:
        known = conn.execute(JOINED_STORY, {"story_id": story_id}).one_or_none()
        if known is None:
            raise _StoryGone
        story = _Story(known.published_at, known.first_seen_at, tuple(known.key_terms))
        if not set(events) <= set(known.events):
            conn.execute(
                sa.update(stories)
                .where(stories.c.id == story_id)
                .values(events=sorted(set(known.events) | set(events)))
            )
    inserted = conn.execute(
        STORE,
        {
            "story_id": story_id,
            "source": article.source,
            "url": article.url,
            "guid": article.guid,
            "title": article.title,
            "text": article.text,
            "language": article.language,
            "outlet": article.outlet,
            "outlet_url": article.outlet_url,
            "published_at": article.published_at,
            "fetched_at": now,
            "content_hash": digest,
            "near_signature": near.signature if near is not None else None,
            "canonical_url": article.canonical_url,
            "events": list(events),
            "text_source": article.text_source,
            "text_reason": article.text_reason,
            "bands": list(near.bands) if near is not None else [],
            "anchors": list(contain.anchors) if contain is not None else [],
            "anchor_count": len(contain.anchors) if contain is not None else 0,
        },
    ).scalar_one_or_none()
    if inserted is None:
        raise _RaceLost
    state = _story_state(
        conn, story_id, story, is_new=is_new, since=now - timedelta(seconds=group_window_seconds)
    )
    written = _write_alerts(conn, story_id, plan(state), now)
    return IngestResult(
        outcome="stored" if is_new else "joined",
        story_id=story_id,
        alerts=tuple(written),
        how=assignment.how,
        score=assignment.score,
    )


# The statements of an ingest are built once (the inserts take their columns from the
# parameters): built per call, they cost more in Python than in PostgreSQL.
NEW_STORY = sa.insert(stories).returning(stories.c.id)
JOINED_STORY = (
    sa.select(
        stories.c.events, stories.c.published_at, stories.c.first_seen_at, stories.c.key_terms
    )
    .where(stories.c.id == sa.bindparam("story_id"))
    .with_for_update()
)
_ROOT = sa.func.coalesce(alerts.c.group_story_id, alerts.c.story_id)
RECENT_ALERTS = (
    sa.select(
        alerts.c.channel,
        _ROOT.label("root"),
        alerts.c.events,
        alerts.c.kind,
        alerts.c.status,
        alerts.c.batch_id,
        alerts.c.batched_at,
        alerts.c.created_at,
        alerts.c.next_attempt_at,
        stories.c.key_terms,
    )
    .select_from(alerts.outerjoin(stories, stories.c.id == _ROOT))
    .where(alerts.c.created_at >= sa.bindparam("since"))
)
"""Alerts written since `since`, each with the key terms of the story its group began with."""
NEW_ALERT = insert(alerts).on_conflict_do_nothing().returning(alerts.c.id)

# The copy, its source's count and the bands and anchors later copies find it by (see
# storage.assign): one statement, one round trip. When its URL or GUID is already stored
# (a concurrent crawl won), nothing is written and no row comes back.
STORE = sa.text(
    """
    WITH stored AS (
        INSERT INTO articles (story_id, source, url, guid, title, text, language, outlet,
            outlet_url, published_at, fetched_at, content_hash, near_signature,
            canonical_url, events, text_source, text_reason)
        VALUES (:story_id, :source, :url, :guid, :title, :text, :language, :outlet,
            :outlet_url, :published_at, :fetched_at, :content_hash, :near_signature,
            :canonical_url, CAST(:events AS text[]), :text_source, :text_reason)
        ON CONFLICT DO NOTHING
        RETURNING id
    ), counted AS (
        UPDATE sources SET articles_stored = articles_stored + 1
        WHERE name = :source AND EXISTS (SELECT FROM stored)
    ), bands AS (
        INSERT INTO article_bands (band, article_id, story_id, seen_at)
        SELECT DISTINCT b, stored.id, :story_id, :fetched_at
        FROM stored, unnest(CAST(:bands AS bigint[])) AS b
        ON CONFLICT DO NOTHING
    ), anchors AS (
        INSERT INTO article_anchors (anchor, article_id, story_id, anchor_count, seen_at)
        SELECT DISTINCT a, stored.id, :story_id, :anchor_count, :fetched_at
        FROM stored, unnest(CAST(:anchors AS bigint[])) AS a
        ON CONFLICT DO NOTHING
    )
    SELECT id FROM stored
    """
)


def duplicate_query(article: Article) -> sa.Select[tuple[bool]]:
    """Whether a stored copy has `article`'s URL or canonical URL as its URL or canonical
    URL, or its GUID within its source: each arm is answered by an index."""
    urls = {article.url, article.canonical_url} - {None}
    same = sa.or_(articles.c.url.in_(urls), articles.c.canonical_url.in_(urls))
    if article.guid:
        same = sa.or_(
            same, sa.and_(articles.c.source == article.source, articles.c.guid == article.guid)
        )
    return sa.select(sa.exists().where(same))


def _is_duplicate(conn: Connection, article: Article) -> bool:
    return bool(conn.execute(duplicate_query(article)).scalar_one())


class _Story(NamedTuple):
    """What the alert planner needs of the story a copy was stored in."""

    published_at: datetime | None
    first_seen_at: datetime
    key_terms: tuple[str, ...]


def _story_state(
    conn: Connection, story_id: int, story: _Story, *, is_new: bool, since: datetime
) -> StoryState:
    alerted: dict[str, set[str]] = {}
    sent: dict[str, int] = {}
    groups: dict[str, int] = {}
    told = (  # a story made by this very ingest has no alerts yet
        ()
        if is_new
        else conn.execute(
            sa.select(alerts.c.channel, alerts.c.events, alerts.c.group_story_id).where(
                alerts.c.story_id == story_id
            )
        )
    )
    for channel, events, group in told:
        alerted.setdefault(channel, set()).update(events)
        sent[channel] = sent.get(channel, 0) + 1
        if group is not None:
            groups[channel] = group
    return StoryState(
        story_id=story_id,
        is_new=is_new,
        published_at=story.published_at,
        first_seen_at=story.first_seen_at,
        alerted={k: frozenset(v) for k, v in alerted.items()},
        sent=sent,
        key_terms=frozenset(story.key_terms),
        recent=_recent_events(conn, since),
        groups=groups,
    )


def _recent_events(conn: Connection, since: datetime) -> tuple[RecentAlert, ...]:
    """Per channel and event (the story it was first told with), what was told since.

    A group's last notification is the newest of its alerts and updates (when written) and of
    its "also reported" batches (when collected); its members still waiting for a batch give
    the time that batch is due.
    """
    rows = conn.execute(RECENT_ALERTS, {"since": since}).all()
    groups: dict[tuple[str, int], _Group] = {}
    for row in rows:
        group = groups.setdefault((row.channel, row.root), _Group())
        group.events.update(row.events)
        group.key_terms = row.key_terms or ()
        if row.kind != "also_reported":
            group.notified(row.created_at)
        elif row.batched_at is not None:
            group.notified(row.batched_at)
        elif row.status == "pending":
            group.waiting(row.next_attempt_at, row.created_at)
    return tuple(
        RecentAlert(
            story_id=story_id,
            channel=channel,
            events=frozenset(group.events),
            key_terms=frozenset(group.key_terms),
            sent_at=group.last or group.first_waiting or since,
            waiting_due=group.due,
        )
        for (channel, story_id), group in groups.items()
    )


@dataclass(slots=True)
class _Group:
    """What the rows of one event group on one channel add up to."""

    events: set[str] = field(default_factory=set)
    key_terms: Sequence[str] = ()  # the key terms of the story the group was first told with
    last: datetime | None = None
    due: datetime | None = None
    first_waiting: datetime | None = None

    def notified(self, at: datetime) -> None:
        self.last = at if self.last is None else max(self.last, at)

    def waiting(self, due: datetime, created_at: datetime) -> None:
        self.due = due if self.due is None else min(self.due, due)
        self.first_waiting = (
            created_at if self.first_waiting is None else min(self.first_waiting, created_at)
        )


def _write_alerts(
    conn: Connection, story_id: int, plans: Sequence[AlertPlan], now: datetime
) -> list[str]:
    written = []
    for plan in plans:
        alert_id = str(uuid.uuid4())
        row = conn.execute(
            NEW_ALERT,
            {
                "id": alert_id,
                "story_id": story_id,
                "channel": plan.channel,
                "seq": plan.seq,
                "events": list(plan.events),
                "rules": list(plan.rules),
                "evidence": json.loads(json.dumps([asdict(e) for e in plan.evidence])),
                "is_update": plan.is_update,
                "group_story_id": plan.group_story_id,
                "severity": plan.severity,
                "kind": plan.kind,
                "status": "pending",
                "next_attempt_at": plan.due_at or now,
                "created_at": now,
            },
        ).scalar_one_or_none()
        if row is not None:
            written.append(row)
    return written
