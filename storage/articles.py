"""Articles: exact dedup, story assignment and the outbox rows, in one transaction.

`ingest_article` stores one extracted, on-topic article. In a single transaction it
1. drops it as a duplicate when its URL, or the canonical URL its page declares (an AMP or
   mobile variant of a stored page), or its GUID within its source, is known;
2. otherwise finds its story with `storage.assign.assign_story` (advisory locks on its content
   hash, MinHash bands and containment anchors; exact copy, else near-duplicate within the
   window, else a text it contains or that contains it, else a new story) and indexes its
   bands and anchors;
3. asks the caller's pure `plan` function which alerts are due for the story as it now
   stands, and writes them to the outbox (`alerts`), unique per story, channel and revision.
So no story is stored without its alerts and no alert without its story. A story keeps its
first copy as its representative (title, URL, publication time).

`seen_urls` remembers article URLs already decided so the crawler never fetches them again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from kurilwatch.model import AlertPlan, Article, IngestResult, RecentAlert, StoryState
from storage.assign import assign_story, record_anchors, record_bands
from storage.containment import ContainPrint, contain_print
from storage.fingerprint import NearPrint, content_hash, near_print
from storage.tables import alerts, articles, seen_urls, sources, stories

Planner = Callable[[StoryState], Sequence[AlertPlan]]


def unseen_urls(engine: Engine, urls: Iterable[str]) -> set[str]:
    """The URLs among `urls` that are neither stored articles nor already decided."""
    wanted = set(urls)
    if not wanted:
        return set()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(articles.c.url).where(articles.c.url.in_(wanted)))
        decided = conn.execute(sa.select(seen_urls.c.url).where(seen_urls.c.url.in_(wanted)))
        known = {row[0] for row in stored} | {row[0] for row in decided}
    return wanted - known


def mark_seen(engine: Engine, url: str, *, source: str, verdict: str, now: datetime) -> None:
    """Remember that `url` was decided (`off_topic`, `unusable`, …) and need not be fetched."""
    with engine.begin() as conn:
        conn.execute(
            insert(seen_urls)
            .values(url=url, source=source, verdict=verdict, seen_at=now)
            .on_conflict_do_nothing()
        )


def prune_seen(engine: Engine, *, older_than: datetime) -> int:
    """Forget decided URLs last judged before `older_than`; return how many were forgotten."""
    with engine.begin() as conn:
        result = conn.execute(sa.delete(seen_urls).where(seen_urls.c.seen_at < older_than))
    return int(result.rowcount or 0)


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


class _RaceLost(Exception):
    """A concurrent crawl stored the same URL or GUID first: roll back, report a duplicate."""


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
            sa.insert(stories)
            .values(
                title=article.title,
                url=article.url,
                language=article.language,
                published_at=article.published_at,
                first_seen_at=now,
                content_hash=digest,
                events=sorted(set(events)),
                key_terms=sorted(key_terms),
            )
            .returning(stories.c.id)
        ).scalar_one()
    else:
        known = conn.execute(
            sa.select(stories.c.events).where(stories.c.id == story_id).with_for_update()
        ).scalar_one()
        if not set(events) <= set(known):
            conn.execute(
                sa.update(stories)
                .where(stories.c.id == story_id)
                .values(events=sorted(set(known) | set(events)))
            )
    inserted = conn.execute(
        insert(articles)
        .values(
            story_id=story_id,
            source=article.source,
            url=article.url,
            guid=article.guid,
            title=article.title,
            text=article.text,
            language=article.language,
            outlet=article.outlet,
            published_at=article.published_at,
            fetched_at=now,
            content_hash=digest,
            near_signature=near.signature if near is not None else None,
            canonical_url=article.canonical_url,
            events=list(events),
        )
        .on_conflict_do_nothing()
        .returning(articles.c.id)
    ).scalar_one_or_none()
    if inserted is None:
        raise _RaceLost
    if near is not None:
        record_bands(conn, inserted, story_id, near.bands, now=now)
    if contain is not None:
        record_anchors(conn, inserted, story_id, contain.anchors, now=now)
    conn.execute(
        sa.update(sources)
        .where(sources.c.name == article.source)
        .values(articles_stored=sources.c.articles_stored + 1)
    )
    state = _story_state(
        conn, story_id, is_new=is_new, since=now - timedelta(seconds=group_window_seconds)
    )
    written = _write_alerts(conn, story_id, plan(state), now)
    return IngestResult(
        outcome="stored" if is_new else "joined",
        story_id=story_id,
        alerts=tuple(written),
        how=assignment.how,
        score=assignment.score,
    )


def _is_duplicate(conn: Connection, article: Article) -> bool:
    urls = {article.url, article.canonical_url} - {None}
    same = sa.or_(articles.c.url.in_(urls), articles.c.canonical_url.in_(urls))
    if article.guid:
        same = sa.or_(
            same, sa.and_(articles.c.source == article.source, articles.c.guid == article.guid)
        )
    return conn.execute(sa.select(sa.exists().where(same))).scalar_one()


def _story_state(conn: Connection, story_id: int, *, is_new: bool, since: datetime) -> StoryState:
    story = conn.execute(
        sa.select(stories.c.published_at, stories.c.first_seen_at, stories.c.key_terms).where(
            stories.c.id == story_id
        )
    ).one()
    alerted: dict[str, set[str]] = {}
    sent: dict[str, int] = {}
    for channel, events in conn.execute(
        sa.select(alerts.c.channel, alerts.c.events).where(alerts.c.story_id == story_id)
    ):
        alerted.setdefault(channel, set()).update(events)
        sent[channel] = sent.get(channel, 0) + 1
    return StoryState(
        story_id=story_id,
        is_new=is_new,
        published_at=story.published_at,
        first_seen_at=story.first_seen_at,
        alerted={k: frozenset(v) for k, v in alerted.items()},
        sent=sent,
        key_terms=frozenset(story.key_terms),
        recent=_recent_events(conn, since),
    )


def _recent_events(conn: Connection, since: datetime) -> tuple[RecentAlert, ...]:
    """Per channel and event (the story it was first told with), what was alerted since."""
    root = sa.func.coalesce(alerts.c.group_story_id, alerts.c.story_id)
    rows = conn.execute(
        sa.select(alerts.c.channel, root.label("root"), alerts.c.events, alerts.c.created_at).where(
            alerts.c.created_at >= since
        )
    ).all()
    groups: dict[tuple[str, int], tuple[set[str], datetime]] = {}
    for channel, story_id, events, created_at in rows:
        known, last = groups.get((channel, story_id), (set(), created_at))
        groups[(channel, story_id)] = (known | set(events), max(last, created_at))
    if not groups:
        return ()
    terms = dict(
        conn.execute(
            sa.select(stories.c.id, stories.c.key_terms).where(
                stories.c.id.in_({story_id for _, story_id in groups})
            )
        ).all()
    )
    return tuple(
        RecentAlert(
            story_id=story_id,
            channel=channel,
            events=frozenset(events),
            key_terms=frozenset(terms.get(story_id) or ()),
            sent_at=last,
        )
        for (channel, story_id), (events, last) in groups.items()
    )


def _write_alerts(
    conn: Connection, story_id: int, plans: Sequence[AlertPlan], now: datetime
) -> list[str]:
    written = []
    for plan in plans:
        alert_id = str(uuid.uuid4())
        row = conn.execute(
            insert(alerts)
            .values(
                id=alert_id,
                story_id=story_id,
                channel=plan.channel,
                seq=plan.seq,
                events=list(plan.events),
                rules=list(plan.rules),
                evidence=json.loads(json.dumps([asdict(e) for e in plan.evidence])),
                is_update=plan.is_update,
                group_story_id=plan.group_story_id,
                severity=plan.severity,
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(alerts.c.id)
        ).scalar_one_or_none()
        if row is not None:
            written.append(row)
    return written
