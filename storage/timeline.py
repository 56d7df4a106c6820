"""The timeline: stories with an event, newest first, each with its copies and alert states.

`timeline(engine, view)` answers one page of the web timeline, the feeds and the API: the
stories whose stored verdict names an event, filtered as `TimelineView` says, folded into
event groups (a story an alert lists as a member of another story's event shows under that
story, `members`), ordered by when the group's first story was published (else first seen),
newest first, with a keyset cursor for the next page. `story_detail` gives one story with
every copy, every alert row and the desk's labels.

Search (`TimelineView.query`) runs over every copy's title and text, each copy in its own
language: PostgreSQL full-text search (`websearch_to_tsquery`: words, "phrases", `-not`,
`or`) with the Russian configuration in Russian copies and the English one in the others
(Japanese copies' words in Latin letters included); a query holding CJK characters, which
has no spaces to split words at, matches each term as a substring (`ILIKE`, served by a
`pg_trgm` index where the term is three characters or more) in the copies neither English
nor Russian. The expressions and their conditions match the indexes of migration
0019_search_by_language, so the planner can use them.

`timeline_choices` gives the values the filters offer.

Touches `stories`, `articles`, `alerts` and (for the filters' source names) `sources`;
labels are read through `storage.labels`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kurilwatch.errors import StoryNotFound
from kurilwatch.model import Evidence, Story
from storage.labels import Label, list_labels
from storage.stories import story_of
from storage.tables import SEARCH_DOCUMENT as DOCUMENT
from storage.tables import SEARCH_EN, SEARCH_RU, SEARCH_TRGM, alerts, articles, sources, stories

AlertState = Literal["pending", "delivered", "dead"]
ALERT_STATES: tuple[AlertState, ...] = ("pending", "delivered", "dead")
MAX_PAGE = 500

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_AT = sa.func.coalesce(stories.c.published_at, stories.c.first_seen_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineView:
    """What a timeline page shows; every field narrows it (empty: no narrowing).

    Attributes:
        events: Stories whose verdict names any of these events.
        language: Stories in this language (the story's, its first copy's).
        source: Stories with a copy from this source (by configured name).
        status: Stories with an alert on some channel in this state.
        since: Published (else first seen) at or after this moment.
        until: Published (else first seen) before this moment.
        query: Search text (see the module docstring).
        before: The cursor: only groups strictly older than this (time, story id).
        limit: Groups per page (1 to `MAX_PAGE`).
    """

    events: tuple[str, ...] = ()
    language: str | None = None
    source: str | None = None
    status: AlertState | None = None
    since: datetime | None = None
    until: datetime | None = None
    query: str | None = None
    before: tuple[datetime, int] | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelState:
    """Where a story's alert stands on one channel: its newest alert row there."""

    channel: str
    alert_id: str
    status: AlertState
    kind: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy:
    """One stored copy of a story."""

    url: str
    source: str
    outlet: str | None
    title: str
    language: str | None
    published_at: datetime | None
    fetched_at: datetime
    text_source: str
    text_reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineStory:
    """One story as the timeline shows it.

    Attributes:
        story: The story with every copy's URL (first copy first).
        at: When it was published, else first seen.
        events: The story's stored verdict.
        rules: The rules its alerts name, in order.
        evidence: Its alerts' evidence (one per rule), in order.
        outlets: Its copies' outlets (else hosts), distinct, first copy's first.
        copies: Its copies.
        channels: Its alert state per channel, by channel name.
        members: Other stories of the same event (for the group's first story only).
    """

    story: Story
    at: datetime
    events: tuple[str, ...]
    rules: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    outlets: tuple[str, ...]
    copies: tuple[Copy, ...]
    channels: tuple[ChannelState, ...]
    members: tuple[TimelineStory, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelinePage:
    """One page of groups, and the cursor of the next (None on the last page)."""

    groups: tuple[TimelineStory, ...]
    next_before: tuple[datetime, int] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRow:
    """One alert row of a story, as the story page lists them."""

    id: str
    channel: str
    seq: int
    kind: str
    status: AlertState
    events: tuple[str, ...]
    rules: tuple[str, ...]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    group_story_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryDetail:
    """One story with everything stored about it."""

    item: TimelineStory
    alerts: tuple[AlertRow, ...]
    labels: tuple[Label, ...]
    group: Story | None = None
    siblings: tuple[Story, ...] = field(default_factory=tuple)


def search_clause(query: str) -> sa.ColumnElement[bool]:
    """Whether an article (a row of `articles`) matches the search `query`.

    Each copy is searched in its own language's index (`storage.tables.SEARCH_EN`,
    `SEARCH_RU`, `SEARCH_TRGM`): words with the English configuration in every copy not in
    Russian, with the Russian one in Russian copies; a query holding CJK characters by
    substring in the copies neither English nor Russian.
    """
    document = sa.text(DOCUMENT)
    if _CJK.search(query):
        terms = [t.strip('"') for t in query.split() if t.strip('"')]
        found = [_contains(sa.literal_column(f"({DOCUMENT})"), t) for t in terms]
        return sa.and_(sa.text(SEARCH_TRGM), *found)
    clauses = []
    for config, where in (("english", SEARCH_EN), ("russian", SEARCH_RU)):
        vector = sa.func.to_tsvector(sa.literal_column(f"'{config}'::regconfig"), document)
        parsed = sa.func.websearch_to_tsquery(
            sa.literal_column(f"'{config}'::regconfig"), sa.bindparam(None, query)
        )
        clauses.append(sa.and_(sa.text(where), vector.op("@@")(parsed)))
    return sa.or_(*clauses)


def _contains(document: Any, term: str) -> sa.ColumnElement[bool]:
    """Whether `document` holds `term`, ignoring case; `LIKE` for a term without letter case
    (kana, kanji: the same matches as `ILIKE`, without folding every document's case)."""
    pattern = "%" + _like_escape(term) + "%"
    if term.lower() == term == term.upper():
        return document.like(pattern, escape="\\")
    return document.ilike(pattern, escape="\\")


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _is_member(s: Any) -> sa.ColumnElement[bool]:
    """Whether story `s` (a `stories` row) is listed under another story's event."""
    return sa.exists().where(
        alerts.c.story_id == s.c.id,
        alerts.c.group_story_id.is_not(None),
        alerts.c.group_story_id != s.c.id,
    )


def _conditions(view: TimelineView, s: Any) -> list[sa.ColumnElement[bool]]:
    """What `view`'s filters (not its cursor) ask of story `s` (a `stories` row)."""
    at = sa.func.coalesce(s.c.published_at, s.c.first_seen_at)
    where: list[sa.ColumnElement[bool]] = []
    if view.events:
        where.append(s.c.events.overlap(sa.cast(list(view.events), stories.c.events.type)))
    if view.language:
        where.append(s.c.language == view.language)
    if view.since is not None:
        where.append(view.since <= at)
    if view.until is not None:
        where.append(view.until > at)
    copy, alert = articles.alias(), alerts.alias()  # never correlated with an outer query's
    if view.source:
        where.append(sa.exists().where(copy.c.story_id == s.c.id, copy.c.source == view.source))
    if view.status:
        where.append(sa.exists().where(alert.c.story_id == s.c.id, alert.c.status == view.status))
    if view.query and view.query.strip():
        found = articles.alias()
        where.append(sa.exists().where(found.c.story_id == s.c.id, search_clause(view.query)))
    return where


def timeline(engine: Engine, view: TimelineView) -> TimelinePage:
    """One page of the timeline (see the module docstring).

    A group is listed when its first story, or one of its members, passes the filters.
    """
    limit = max(1, min(view.limit, MAX_PAGE))
    where: list[sa.ColumnElement[bool]] = [
        stories.c.events != sa.text("'{}'::text[]"),
        sa.not_(_is_member(stories)),
    ]
    found = stories.alias("found")
    own = _conditions(view, found)
    if own:
        # The stories that pass, found once (a search is evaluated once per copy, through
        # its index), then the groups their members belong to.
        passed = sa.select(found.c.id).where(*own).cte("passed").prefix_with("MATERIALIZED")
        grouped = alerts.alias("grouped")
        passing = sa.union(
            sa.select(passed.c.id),
            sa.select(grouped.c.group_story_id)
            .join(passed, passed.c.id == grouped.c.story_id)
            .where(grouped.c.group_story_id.is_not(None)),
        )
        where.append(stories.c.id.in_(passing.scalar_subquery()))
    if view.before is not None:
        where.append(sa.tuple_(_AT, stories.c.id) < sa.tuple_(*view.before))
    query = (
        sa.select(stories.c.id.label("root"), _AT.label("at"))
        .where(*where)
        .order_by(_AT.desc(), stories.c.id.desc())
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        roots = [r.root for r in rows]
        members = _members(conn, roots)
        items = _items(conn, [*roots, *(m for ms in members.values() for m in ms)])
    groups = tuple(
        _with_members(items[r], tuple(items[m] for m in members.get(r, ()) if m in items))
        for r in roots
        if r in items
    )
    last = rows[-1] if rows else None
    return TimelinePage(
        groups=groups,
        next_before=(last.at, last.root) if more and last is not None else None,
    )


_CHOICES = sa.text(
    """
    WITH RECURSIVE combos(events) AS (
        (SELECT events FROM stories WHERE events <> '{}' ORDER BY events LIMIT 1)
        UNION ALL
        SELECT (SELECT s.events FROM stories s WHERE s.events <> '{}' AND s.events > c.events
                ORDER BY s.events LIMIT 1)
        FROM combos c WHERE c.events IS NOT NULL
    ), langs(language) AS (
        (SELECT language FROM stories WHERE events <> '{}' AND language IS NOT NULL
         ORDER BY language LIMIT 1)
        UNION ALL
        SELECT (SELECT s.language FROM stories s WHERE s.events <> '{}' AND s.language > l.language
                ORDER BY s.language LIMIT 1)
        FROM langs l WHERE l.language IS NOT NULL
    )
    SELECT 'event' AS kind, e AS value FROM (SELECT DISTINCT unnest(events) AS e FROM combos) x
    UNION ALL
    SELECT 'language', language FROM langs WHERE language IS NOT NULL
    """
)


def timeline_choices(engine: Engine) -> dict[str, list[str]]:
    """The values the timeline's filters offer: the events and languages of the stories with
    an event (`events`, `languages`), sorted, and the sources' names (`sources`).

    Each distinct events array and language is found by skipping through an index (the
    recursive queries of `_CHOICES`), so the cost grows with the number of distinct values,
    not of stories.
    """
    with engine.connect() as conn:
        found: dict[str, list[str]] = {"event": [], "language": []}
        for kind, value in conn.execute(_CHOICES):
            if value:
                found[kind].append(value)
        names = list(conn.execute(sa.select(sources.c.name).order_by(sources.c.name)).scalars())
    return {
        "events": sorted(found["event"]),
        "languages": sorted(found["language"]),
        "sources": names,
    }


def _with_members(item: TimelineStory, members: tuple[TimelineStory, ...]) -> TimelineStory:
    if not members:
        return item
    return TimelineStory(
        story=item.story,
        at=item.at,
        events=item.events,
        rules=item.rules,
        evidence=item.evidence,
        outlets=item.outlets,
        copies=item.copies,
        channels=item.channels,
        members=members,
    )


def _members(conn: Connection, roots: Sequence[int]) -> dict[int, list[int]]:
    """The member stories of each group in `roots`, oldest first."""
    if not roots:
        return {}
    found: dict[int, list[int]] = {}
    rows = conn.execute(
        sa.select(alerts.c.story_id, sa.func.min(alerts.c.group_story_id).label("root"))
        .where(
            alerts.c.group_story_id.in_(list(roots)),
            alerts.c.story_id != alerts.c.group_story_id,
        )
        .group_by(alerts.c.story_id)
        .order_by(alerts.c.story_id)
    ).all()
    for story_id, root in rows:
        found.setdefault(root, []).append(story_id)
    return found


def _items(conn: Connection, ids: Sequence[int]) -> dict[int, TimelineStory]:
    """Each story of `ids` with its copies and alert states, by id."""
    if not ids:
        return {}
    story_rows = conn.execute(sa.select(stories).where(stories.c.id.in_(list(ids)))).mappings()
    by_id = {r["id"]: r for r in story_rows}
    copies: dict[int, list[Copy]] = {}
    for a in conn.execute(
        sa.select(
            articles.c.story_id,
            articles.c.url,
            articles.c.source,
            articles.c.outlet,
            articles.c.title,
            articles.c.language,
            articles.c.published_at,
            articles.c.fetched_at,
            articles.c.text_source,
            articles.c.text_reason,
        )
        .where(articles.c.story_id.in_(list(ids)))
        .order_by(articles.c.id)
    ).mappings():
        copies.setdefault(a["story_id"], []).append(
            Copy(
                url=a["url"],
                source=a["source"],
                outlet=a["outlet"],
                title=a["title"],
                language=a["language"],
                published_at=a["published_at"],
                fetched_at=a["fetched_at"],
                text_source=a["text_source"],
                text_reason=a["text_reason"],
            )
        )
    alert_rows: dict[int, list[Any]] = {}
    for row in conn.execute(
        sa.select(*_STATE_COLUMNS)
        .where(alerts.c.story_id.in_(list(ids)))
        .order_by(alerts.c.story_id, alerts.c.channel, alerts.c.seq)
    ).mappings():
        alert_rows.setdefault(row["story_id"], []).append(row)
    return {
        story_id: _item(row, copies.get(story_id, []), alert_rows.get(story_id, []))
        for story_id, row in by_id.items()
    }


_STATE_COLUMNS = (  # what `_item` reads of an alert row: not its stored payload
    alerts.c.id,
    alerts.c.story_id,
    alerts.c.channel,
    alerts.c.seq,
    alerts.c.kind,
    alerts.c.status,
    alerts.c.rules,
    alerts.c.evidence,
    alerts.c.attempts,
    alerts.c.next_attempt_at,
    alerts.c.delivered_at,
    alerts.c.last_error,
)


def _item(row: Any, copies: list[Copy], rows: list[Any]) -> TimelineStory:
    story = story_of(row, copies)
    newest: dict[str, Any] = {}
    rules: dict[str, None] = {}
    evidence: dict[Evidence, None] = {}
    for r in rows:  # by channel, then seq: the last row of a channel is its newest
        newest[r["channel"]] = r
        rules.update(dict.fromkeys(r["rules"]))
        for e in r["evidence"]:
            evidence.setdefault(
                Evidence(
                    rule=e["rule"],
                    event=e["event"],
                    sentences=tuple(e["sentences"]),
                    terms=tuple(e["terms"]),
                ),
                None,
            )
    return TimelineStory(
        story=story,
        at=row["published_at"] or row["first_seen_at"],
        events=tuple(row["events"]),
        rules=tuple(rules),
        evidence=_one_per_rule(evidence),
        outlets=tuple(dict.fromkeys(c.outlet or _host(c.url) for c in copies)),
        copies=tuple(copies),
        channels=tuple(
            ChannelState(
                channel=r["channel"],
                alert_id=r["id"],
                status=r["status"],
                kind=r["kind"],
                attempts=r["attempts"],
                next_attempt_at=r["next_attempt_at"] if r["status"] == "pending" else None,
                delivered_at=r["delivered_at"],
                last_error=r["last_error"],
            )
            for _, r in sorted(newest.items())
        ),
    )


def _one_per_rule(evidence: dict[Evidence, None]) -> tuple[Evidence, ...]:
    seen: dict[tuple[str, str], Evidence] = {}
    for e in evidence:
        seen.setdefault((e.rule, e.event), e)
    return tuple(seen.values())


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def story_detail(engine: Engine, story_id: int) -> StoryDetail:
    """One story with its copies, alert rows, labels, and its event group.

    Raises:
        StoryNotFound: there is no story `story_id`.
    """
    with engine.connect() as conn:
        items = _items(conn, [story_id])
        if story_id not in items:
            raise StoryNotFound(f"no story {story_id}")
        rows = conn.execute(
            sa.select(alerts)
            .where(alerts.c.story_id == story_id)
            .order_by(alerts.c.channel, alerts.c.seq)
        ).mappings()
        alert_rows = tuple(
            AlertRow(
                id=r["id"],
                channel=r["channel"],
                seq=r["seq"],
                kind=r["kind"],
                status=r["status"],
                events=tuple(r["events"]),
                rules=tuple(r["rules"]),
                attempts=r["attempts"],
                created_at=r["created_at"],
                next_attempt_at=r["next_attempt_at"],
                delivered_at=r["delivered_at"],
                last_error=r["last_error"],
                group_story_id=r["group_story_id"],
            )
            for r in rows
        )
        roots = {a.group_story_id for a in alert_rows if a.group_story_id not in (None, story_id)}
        root = min(roots) if roots else story_id
        members = _members(conn, [root]).get(root, [])
        related = _items(conn, [i for i in {root, *members} if i != story_id])
    return StoryDetail(
        item=items[story_id],
        alerts=alert_rows,
        labels=tuple(list_labels(engine, story_ids=[story_id])),
        group=related[root].story if root in related else None,
        siblings=tuple(related[m].story for m in members if m in related),
    )
