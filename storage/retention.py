"""Retention: what is pruned, in bounded batches, and the record of how much was.

`prune_kind(engine, kind, cutoff=…, batch=…, now=…)` removes (or empties) rows of one kind
older than `cutoff`, `batch` rows per transaction until a batch comes back short, and returns
how many. Each batch takes its rows with `FOR UPDATE SKIP LOCKED` (replicas pruning at once
share the work, none counts a row twice) and adds its count to the `pruned` table in the
same transaction, so the record is exactly what was removed, whatever stops the run.

The kinds (`KINDS`), each never touching a row still needed:
- `article_text`: the text of copies fetched before the cutoff is set to ''; the row, URL,
  canonical URL, GUID, title and fingerprints stay, so the copy is still a duplicate. Copies
  of a story the desk labelled keep their text (`labels export` writes it).
- `stories`: a story first seen before the cutoff, none of whose copies was fetched since,
  is removed with its copies and its alerts, unless an alert of it, or of a story grouped
  under it, is pending, or the desk labelled it. Its removed copies are counted as
  `articles`, its alerts under `alerts`.
- `alerts`: delivered and dead alerts created before the cutoff (pending ones never).
- `payloads`: the JSON that delivered alerts sent, delivered before the cutoff.
- `entries`: judged entries last changed before the cutoff (open ones never).
`record_pruned` adds counts pruned elsewhere (band rows, by the dedup window);
`pruned_counts` reads the record for `kurilwatch status` and the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from storage.tables import alerts, articles, entries, labels, pruned, stories

Kind = Literal["article_text", "stories", "alerts", "payloads", "entries"]
KINDS: tuple[Kind, ...] = ("stories", "alerts", "payloads", "article_text", "entries")
"""In the order a run prunes them: whole stories first, so no text is emptied only to go."""
FINISHED_ALERTS = ("delivered", "dead")
OPEN_ENTRIES = ("pending", "retrying")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pruned:
    """How many rows of one kind the retention job has removed: in all, and in its last run."""

    kind: str
    total: int
    last_count: int
    last_run_at: datetime | None
    last_cutoff: datetime | None


def prune_kind(
    engine: Engine, kind: Kind, *, cutoff: datetime, batch: int, now: datetime
) -> dict[str, int]:
    """Prune rows of `kind` older than `cutoff`, `batch` per transaction; return how many by
    kind (`stories` also gives the `articles` and `alerts` that went with them).

    The run is recorded (`last_run_at` = `now`) even when nothing was pruned.
    """
    done: dict[str, int] = {kind: 0}
    while True:
        counts = prune_batch(engine, kind, cutoff=cutoff, limit=batch, now=now)
        for name, count in counts.items():
            done[name] = done.get(name, 0) + count
        if counts.get(kind, 0) < batch:
            break
    if not done[kind]:
        with engine.begin() as conn:
            _record(conn, kind, 0, now=now, cutoff=cutoff)
    return done


def prune_batch(
    engine: Engine, kind: Kind, *, cutoff: datetime, limit: int, now: datetime
) -> dict[str, int]:
    """One transaction: prune at most `limit` rows of `kind` older than `cutoff` (stories: at
    most `limit` stories, with their copies and alerts), record the counts, return them."""
    with engine.begin() as conn:
        counts = _STEPS[kind](conn, cutoff, limit)
        for name, count in counts.items():
            if count:
                _record(conn, name, count, now=now, cutoff=cutoff)
    return counts


def record_pruned(
    engine: Engine, kind: str, count: int, *, now: datetime, cutoff: datetime
) -> None:
    """Add `count` rows of `kind` pruned elsewhere to the record."""
    with engine.begin() as conn:
        _record(conn, kind, count, now=now, cutoff=cutoff)


def pruned_counts(engine: Engine) -> list[Pruned]:
    """The record of every kind pruned so far, by kind."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(pruned).order_by(pruned.c.kind)).all()
    return [
        Pruned(
            kind=r.kind,
            total=r.total,
            last_count=r.last_count,
            last_run_at=r.last_run_at,
            last_cutoff=r.last_cutoff,
        )
        for r in rows
    ]


def _record(conn: Connection, kind: str, count: int, *, now: datetime, cutoff: datetime) -> None:
    """Add `count` to `kind`'s total; its last run's count grows while `now` is the same run."""
    new = insert(pruned).values(
        kind=kind, total=count, last_count=count, last_run_at=now, last_cutoff=cutoff
    )
    same_run = pruned.c.last_run_at == new.excluded.last_run_at
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[pruned.c.kind],
            set_={
                "total": pruned.c.total + new.excluded.total,
                "last_count": sa.case(
                    (same_run, pruned.c.last_count + new.excluded.last_count),
                    else_=new.excluded.last_count,
                ),
                "last_run_at": new.excluded.last_run_at,
                "last_cutoff": new.excluded.last_cutoff,
            },
        )
    )


def _oldest(table: sa.Table, when: sa.Column[Any], *where: Any, limit: int) -> Any:
    """The ids of at most `limit` rows of `table` matching `where`, oldest by `when` first,
    locked for this transaction (rows another holds are skipped)."""
    return (
        sa.select(table.c.id)
        .where(*where)
        .order_by(when)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


def _article_text(conn: Connection, cutoff: datetime, limit: int) -> dict[str, int]:
    when = articles.c.fetched_at
    labelled = sa.select(labels.c.id).where(labels.c.story_id == articles.c.story_id).exists()
    doomed = _oldest(
        articles, when, articles.c.text != "", when < cutoff, sa.not_(labelled), limit=limit
    )
    result = conn.execute(sa.update(articles).where(articles.c.id.in_(doomed)).values(text=""))
    return {"article_text": int(result.rowcount or 0)}


def _stories(conn: Connection, cutoff: datetime, limit: int) -> dict[str, int]:
    pending = alerts.c.status == "pending"
    held = sa.union(
        sa.select(alerts.c.story_id).where(pending),
        sa.select(alerts.c.group_story_id).where(pending, alerts.c.group_story_id.is_not(None)),
    )
    fresh_copy = (
        sa.select(articles.c.id)
        .where(articles.c.story_id == stories.c.id, articles.c.fetched_at >= cutoff)
        .exists()
    )
    labelled = sa.select(labels.c.id).where(labels.c.story_id == stories.c.id).exists()
    when = stories.c.first_seen_at
    doomed = _oldest(
        stories,
        when,
        when < cutoff,
        sa.not_(fresh_copy),
        sa.not_(labelled),
        stories.c.id.not_in(held.scalar_subquery()),
        limit=limit,
    )
    ids = conn.execute(sa.select(stories.c.id).where(stories.c.id.in_(doomed))).scalars().all()
    if not ids:
        return {"stories": 0}
    gone_alerts = conn.execute(sa.delete(alerts).where(alerts.c.story_id.in_(ids)))
    gone_articles = conn.execute(sa.delete(articles).where(articles.c.story_id.in_(ids)))
    gone = conn.execute(sa.delete(stories).where(stories.c.id.in_(ids)))
    return {
        "stories": int(gone.rowcount or 0),
        "articles": int(gone_articles.rowcount or 0),
        "alerts": int(gone_alerts.rowcount or 0),
    }


def _alerts(conn: Connection, cutoff: datetime, limit: int) -> dict[str, int]:
    when = alerts.c.created_at
    doomed = _oldest(alerts, when, alerts.c.status.in_(FINISHED_ALERTS), when < cutoff, limit=limit)
    result = conn.execute(sa.delete(alerts).where(alerts.c.id.in_(doomed)))
    return {"alerts": int(result.rowcount or 0)}


def _payloads(conn: Connection, cutoff: datetime, limit: int) -> dict[str, int]:
    when = alerts.c.delivered_at
    doomed = _oldest(alerts, when, alerts.c.payload.is_not(None), when < cutoff, limit=limit)
    result = conn.execute(
        sa.update(alerts).where(alerts.c.id.in_(doomed)).values(payload=sa.null())
    )
    return {"payloads": int(result.rowcount or 0)}


def _entries(conn: Connection, cutoff: datetime, limit: int) -> dict[str, int]:
    when = entries.c.updated_at
    open_work = entries.c.status.in_(OPEN_ENTRIES)
    doomed = _oldest(entries, when, sa.not_(open_work), when < cutoff, limit=limit)
    result = conn.execute(sa.delete(entries).where(entries.c.id.in_(doomed)))
    return {"entries": int(result.rowcount or 0)}


_STEPS: dict[Kind, Callable[[Connection, datetime, int], dict[str, int]]] = {
    "article_text": _article_text,
    "stories": _stories,
    "alerts": _alerts,
    "payloads": _payloads,
    "entries": _entries,
}
