"""Durable entries: every entry an index yields, kept until its page is judged.

A poll adds what its index lists (`add_entries`; a URL already kept is left alone), and the
work of reading each page is taken the way the outbox is taken: `claim_entries` leases due
rows with `FOR UPDATE SKIP LOCKED` for a time measured on the database's clock, so replicas
and restarts share them, and a row whose holder died is taken again once its lease ends.
The holder then settles each row it holds (`finish_entry`, `retry_entry`); a settle from an
owner whose lease was lost and taken over changes nothing. Finished rows are forgotten after
`retention.entries` (`storage.retention`); until then the URL is never fetched again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.engine import Engine

from kurilwatch.model import Entry, FeedEntry
from storage.tables import entries

OPEN = ("pending", "retrying")
STATUSES = ("pending", "retrying", "done", "feed")
CHUNK = 1000
"""Entries per INSERT: a sitemap of 50,000 URLs stays under PostgreSQL's parameter limit."""


def add_entries(engine: Engine, source: str, found: Sequence[FeedEntry]) -> int:
    """Keep the entries of `found` (URLs in canonical form) not kept yet; return how many
    were new."""
    if not found:
        return 0
    rows = {
        e.url: {
            "source": source,
            "url": e.url,
            "guid": e.guid,
            "title": e.title,
            "summary": e.summary,
            "published_at": e.published_at,
            "language": e.language,
            "outlet": e.outlet,
            "outlet_url": e.outlet_url,
        }
        for e in found
    }
    values = list(rows.values())
    added = 0
    with engine.begin() as conn:
        for start in range(0, len(values), CHUNK):
            result = conn.execute(
                insert(entries)
                .values(values[start : start + CHUNK])
                .on_conflict_do_nothing(index_elements=[entries.c.url])
                .returning(entries.c.id)
            )
            added += len(result.all())
    return added


def claim_entries(
    engine: Engine,
    *,
    owner: str,
    lease_seconds: float,
    limit: int,
    sources: Sequence[str] | None = None,
) -> list[Entry]:
    """Lease up to `limit` due entries (of `sources`, if given) to `owner`, oldest due first.

    Due: pending or retrying, `next_attempt_at` passed and no live lease, all on the
    database's clock. Each claim counts as an attempt. A run passes the sources it
    configures: another configuration's entries are judged by its own rules and channels.
    """
    due = sa.and_(
        entries.c.status.in_(OPEN),
        entries.c.next_attempt_at <= sa.func.now(),
        sa.or_(entries.c.leased_until.is_(None), entries.c.leased_until < sa.func.now()),
    )
    if sources is not None:
        # one array parameter, not one parameter per name: a daemon of 10,000 sources
        # asks every few seconds, and an IN list that long is compiled and parsed anew
        names = sa.bindparam("p_sources", list(sources), type_=ARRAY(sa.Text))
        due = sa.and_(due, entries.c.source == sa.any_(names))
    picked = (
        sa.select(entries.c.id)
        .where(due)
        .order_by(entries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    with engine.begin() as conn:
        rows = conn.execute(
            sa.update(entries)
            .where(entries.c.id.in_(picked))
            .values(
                leased_by=owner,
                leased_until=sa.func.now() + _seconds(lease_seconds),
                attempts=entries.c.attempts + 1,
                updated_at=sa.func.now(),
            )
            .returning(*entries.c)
        ).all()
    return sorted((_entry(r) for r in rows), key=lambda e: e.id)


def finish_entry(
    engine: Engine,
    entry_id: int,
    *,
    owner: str,
    judged_on: str,
    verdict: str,
    reason: str | None = None,
    story_id: int | None = None,
    canonical_url: str | None = None,
) -> bool:
    """Record that `owner` judged the entry (on its `page`, its `feed` text, or a `post`'s
    text, which is the whole article: done); False if the lease was lost to another owner
    (nothing changed). `canonical_url` is what the page declared itself to be."""
    return _settle(
        engine,
        entry_id,
        owner,
        status="done" if judged_on in ("page", "post") else "feed",
        judged_on=judged_on,
        verdict=verdict,
        reason=reason,
        story_id=story_id,
        canonical_url=canonical_url,
        next_attempt_at=None,
    )


def retry_entry(
    engine: Engine, entry_id: int, *, owner: str, error: str, delay_seconds: float
) -> bool:
    """Record a transient failure: try again `delay_seconds` from now on the database's
    clock; False if the lease was lost (nothing changed)."""
    return _settle(
        engine,
        entry_id,
        owner,
        status="retrying",
        last_error=error[:500],
        next_attempt_at=sa.func.now() + _seconds(delay_seconds),
    )


def release_entries(engine: Engine, ids: Sequence[int], *, owner: str) -> int:
    """Give back leases `owner` still holds (work not started); the rows are due at once."""
    if not ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(entries)
            .where(entries.c.id.in_(list(ids)), entries.c.leased_by == owner)
            .where(entries.c.status.in_(OPEN))
            .values(
                leased_by=None,
                leased_until=None,
                attempts=sa.func.greatest(entries.c.attempts - 1, 0),
            )
        )
    return int(result.rowcount or 0)


def _seconds(value: float) -> Any:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, max(0.0, value))


def _settle(
    engine: Engine, entry_id: int, owner: str, *, next_attempt_at: Any, **values: Any
) -> bool:
    extra = {"next_attempt_at": next_attempt_at} if next_attempt_at is not None else {}
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(entries)
            .where(
                entries.c.id == entry_id,
                entries.c.leased_by == owner,
                entries.c.status.in_(OPEN),
            )
            .values(**values, **extra, leased_by=None, leased_until=None, updated_at=sa.func.now())
        )
    return bool(result.rowcount)


def count_entries(engine: Engine) -> dict[str, int]:
    """How many entries are in each status."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(entries.c.status, sa.func.count()).group_by(entries.c.status)
        ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def list_entries(
    engine: Engine,
    *,
    statuses: Sequence[str] = (),
    source: str | None = None,
    limit: int = 100,
) -> list[Entry]:
    """The most recently changed entries, newest first, optionally of some statuses."""
    query = sa.select(entries).order_by(entries.c.updated_at.desc(), entries.c.id.desc())
    if statuses:
        query = query.where(entries.c.status.in_(list(statuses)))
    if source is not None:
        query = query.where(entries.c.source == source)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).all()
    return [_entry(r) for r in rows]


def _entry(row: Any) -> Entry:
    return Entry(
        id=row.id,
        source=row.source,
        url=row.url,
        status=row.status,
        first_seen_at=row.first_seen_at,
        guid=row.guid,
        title=row.title,
        summary=row.summary,
        published_at=row.published_at,
        language=row.language,
        outlet=row.outlet,
        outlet_url=row.outlet_url,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status in OPEN else None,
        leased_by=row.leased_by,
        leased_until=row.leased_until,
        last_error=row.last_error,
        verdict=row.verdict,
        reason=row.reason,
        story_id=row.story_id,
        updated_at=row.updated_at,
    )
