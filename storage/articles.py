"""Articles: exact dedup, story assignment and the outbox rows, in one transaction.

`ingest_article` stores one extracted, on-topic article. In a single transaction it
1. drops it as a duplicate when its URL, or the canonical URL its page declares (an AMP or
   mobile variant of a stored page), or its GUID within its source, is known;
2. otherwise finds its story as `storage.assign` does (advisory locks on its content hash,
   MinHash bands and containment anchors; exact copy, else near-duplicate within the
   window, else a text it contains or that contains it, else a new story) and indexes its
   bands and anchors;
3. asks the caller's pure `plan` function which alerts are due for the story as it now
   stands, and writes them to the outbox (`alerts`), unique per story, channel and revision,
   each due when the plan says (a story of a told event waits for its group's next
   "also reported" notification).
So no story is stored without its alerts and no alert without its story. The statements go
in three round trips (`storage.engine.together`): the checks and lookups, the writes of the
story and copy with what the plan reads, the outbox rows. A story keeps its
first copy as its representative (title, URL, publication time). Each copy says which
text it was judged on: its page, or the feed's own title and summary (`text_source`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from psycopg.types.json import Jsonb
from sqlalchemy.engine import Connection, Engine

from kurilwatch.model import AlertPlan, Article, IngestResult, RecentAlert, StoryState
from storage.assign import decide, lookups
from storage.containment import ContainPrint, contain_print
from storage.engine import Statement, together
from storage.fingerprint import NearPrint, content_hash, near_print

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
    """`ingest_article`'s work in `conn`'s transaction, in three round trips (the module
    docstring says which); `plan` runs between the second and the third, while the copy's
    advisory locks and its story's row lock are held."""
    since = now - timedelta(seconds=window_seconds)
    known, _locked, found = together(
        conn, [duplicate_query(article), *lookups(digest, near, contain, since=since)]
    )
    if known[0].known:
        return IngestResult(outcome="duplicate")
    assignment = decide(found, near, contain)
    story_id = assignment.story_id
    is_new = story_id is None
    copy = {
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
    }
    group_since = now - timedelta(seconds=group_window_seconds)
    recent = Statement(RECENT_ALERTS, {"since": group_since})
    if story_id is None:
        params = {**copy, "story_events": sorted(set(events)), "key_terms": sorted(key_terms)}
        stored, alerted = together(conn, [Statement(STORE_NEW, params), recent])
        told: list[Any] = []  # a story made by this very ingest has no alerts yet
        story = _Story(article.published_at, now, tuple(sorted(key_terms)))
    else:
        joined = {"story_id": story_id, "events": list(events)}
        known, _, stored, told, alerted = together(
            conn,
            [
                Statement(JOINED_STORY, joined),
                Statement(ADD_EVENTS, joined),
                Statement(STORE_JOINED, {**copy, "story_id": story_id}),
                Statement(TOLD, joined),
                recent,
            ],
        )
        if not known:
            raise _StoryGone
        story = _Story(known[0].published_at, known[0].first_seen_at, tuple(known[0].key_terms))
    if not stored:
        raise _RaceLost
    story_id = stored[0].story_id
    state = _story_state(
        story_id, story, is_new=is_new, told=told, recent=alerted, since=group_since
    )
    written = _write_alerts(conn, story_id, plan(state), now)
    return IngestResult(
        outcome="stored" if is_new else "joined",
        story_id=story_id,
        alerts=tuple(written),
        how=assignment.how,
        score=assignment.score,
    )


# The statements of an ingest, sent in three round trips: the duplicate check with the
# lookups of storage.assign; the story and the copy with what the alert plan reads; the
# outbox rows. Plain psycopg SQL: built per call by SQLAlchemy, they cost more in Python than
# in PostgreSQL.
_COPY = """
    stored AS (
        INSERT INTO articles (story_id, source, url, guid, title, text, language, outlet,
            outlet_url, published_at, fetched_at, content_hash, near_signature,
            canonical_url, events, text_source, text_reason)
        SELECT story.id, %(source)s, %(url)s, %(guid)s, %(title)s, %(text)s, %(language)s,
            %(outlet)s, %(outlet_url)s, %(published_at)s, %(fetched_at)s, %(content_hash)s,
            %(near_signature)s, %(canonical_url)s, %(events)s::text[], %(text_source)s,
            %(text_reason)s
        FROM story
        ON CONFLICT DO NOTHING
        RETURNING id, story_id
    ), counted AS (
        UPDATE sources SET articles_stored = articles_stored + 1
        WHERE name = %(source)s AND EXISTS (SELECT FROM stored)
    ), bands AS (
        INSERT INTO article_bands (band, article_id, story_id, seen_at)
        SELECT DISTINCT b, stored.id, stored.story_id, %(fetched_at)s
        FROM stored, unnest(%(bands)s::bigint[]) AS b
        ON CONFLICT DO NOTHING
    ), anchors AS (
        INSERT INTO article_anchors (anchor, article_id, story_id, anchor_count, seen_at)
        SELECT DISTINCT a, stored.id, stored.story_id, %(anchor_count)s, %(fetched_at)s
        FROM stored, unnest(%(anchors)s::bigint[]) AS a
        ON CONFLICT DO NOTHING
    )
    SELECT id, story_id FROM stored
"""
# The copy, its source's count and the bands and anchors later copies find it by (see
# storage.assign), with its new story (STORE_NEW) or into the story JOINED_STORY locked
# (STORE_JOINED, which writes nothing when that story was pruned). When its URL or GUID is
# already stored (a concurrent crawl won), nothing is kept and no row comes back.
STORE_NEW = (
    """
    WITH story AS (
        INSERT INTO stories (title, url, language, published_at, first_seen_at, content_hash,
            events, key_terms)
        VALUES (%(title)s, %(url)s, %(language)s, %(published_at)s, %(fetched_at)s,
            %(content_hash)s, %(story_events)s::text[], %(key_terms)s::text[])
        RETURNING id
    ),"""
    + _COPY
)
STORE_JOINED = "WITH story AS (SELECT id FROM stories WHERE id = %(story_id)s)," + _COPY
JOINED_STORY = """
    SELECT events, published_at, first_seen_at, key_terms FROM stories
    WHERE id = %(story_id)s FOR UPDATE
"""
ADD_EVENTS = """
    UPDATE stories
    SET events = ARRAY(
        SELECT e FROM (SELECT DISTINCT unnest(events || %(events)s::text[]) AS e) AS u
        ORDER BY e COLLATE "C"
    )
    WHERE id = %(story_id)s AND NOT events @> %(events)s::text[]
"""
"""A joined story takes the copy's events too (kept sorted)."""
TOLD = "SELECT channel, events, group_story_id FROM alerts WHERE story_id = %(story_id)s"
RECENT_ALERTS = """
    SELECT alerts.channel, coalesce(alerts.group_story_id, alerts.story_id) AS root,
        alerts.events, alerts.kind, alerts.status, alerts.batch_id, alerts.batched_at,
        alerts.created_at, alerts.next_attempt_at, stories.key_terms
    FROM alerts
    LEFT JOIN stories ON stories.id = coalesce(alerts.group_story_id, alerts.story_id)
    WHERE alerts.created_at >= %(since)s
"""
"""Alerts written since `since`, each with the key terms of the story its group began with."""
NEW_ALERT = """
    INSERT INTO alerts (id, story_id, channel, seq, events, rules, evidence, is_update,
        group_story_id, severity, kind, status, next_attempt_at, created_at)
    VALUES (%(id)s, %(story_id)s, %(channel)s, %(seq)s, %(events)s::text[],
        %(rules)s::text[], %(evidence)s, %(is_update)s, %(group_story_id)s, %(severity)s,
        %(kind)s, 'pending', %(next_attempt_at)s, %(created_at)s)
    ON CONFLICT DO NOTHING
    RETURNING id
"""
DUPLICATE = """
    SELECT EXISTS (SELECT FROM articles WHERE url = ANY(%(urls)s::text[]))
        OR EXISTS (SELECT FROM articles WHERE canonical_url = ANY(%(urls)s::text[]))
        OR EXISTS (SELECT FROM articles WHERE source = %(source)s AND guid = %(guid)s)
        AS known
"""
"""Three lookups, each by its own index, whatever values PostgreSQL plans for: one EXISTS over
the three conditions ORed is planned as a sequential scan when planned for any values."""


def duplicate_query(article: Article) -> Statement:
    """Whether a stored copy has `article`'s URL or canonical URL as its URL or canonical
    URL, or its GUID within its source: each arm is answered by an index."""
    urls = sorted({u for u in (article.url, article.canonical_url) if u is not None})
    return Statement(DUPLICATE, {"urls": urls, "source": article.source, "guid": article.guid})


class _Story(NamedTuple):
    """What the alert planner needs of the story a copy was stored in."""

    published_at: datetime | None
    first_seen_at: datetime
    key_terms: tuple[str, ...]


def _story_state(
    story_id: int,
    story: _Story,
    *,
    is_new: bool,
    told: Sequence[Any],
    recent: Sequence[Any],
    since: datetime,
) -> StoryState:
    """The story as the alert plan sees it: its alerts so far (`told`, rows of TOLD) and the
    event groups of the alerts written since `since` (`recent`, rows of RECENT_ALERTS)."""
    alerted: dict[str, set[str]] = {}
    sent: dict[str, int] = {}
    groups: dict[str, int] = {}
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
        recent=_recent_events(recent, since),
        groups=groups,
    )


def _recent_events(rows: Sequence[Any], since: datetime) -> tuple[RecentAlert, ...]:
    """Per channel and event (the story it was first told with), what was told since `since`.

    A group's last notification is the newest of its alerts and updates (when written) and of
    its "also reported" batches (when collected); its members still waiting for a batch give
    the time that batch is due.
    """
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
    """Write the planned alerts to the outbox, all in one round trip; return the ids of those
    written (a plan whose story, channel and revision already has one writes nothing)."""
    if not plans:
        return []
    rows = together(
        conn,
        [
            Statement(
                NEW_ALERT,
                {
                    "id": str(uuid.uuid4()),
                    "story_id": story_id,
                    "channel": plan.channel,
                    "seq": plan.seq,
                    "events": list(plan.events),
                    "rules": list(plan.rules),
                    "evidence": Jsonb([asdict(e) for e in plan.evidence]),
                    "is_update": plan.is_update,
                    "group_story_id": plan.group_story_id,
                    "severity": plan.severity,
                    "kind": plan.kind,
                    "next_attempt_at": plan.due_at or now,
                    "created_at": now,
                },
            )
            for plan in plans
        ],
    )
    return [row[0].id for row in rows if row]
