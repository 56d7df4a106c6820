"""The outbox: claim due notifications under a lease, record how each attempt went, and
find flagged stories that no notification names.

Workers claim due rows with `FOR UPDATE SKIP LOCKED` and set a lease held by their worker id
(`kurilwatch.worker`), so two daemons never send the same row at once and a row whose worker
died is claimed again when its lease lapses. The lease is granted and checked on the
database's clock (`now()` in the statement), never a process's own, so a daemon whose clock
runs ahead takes no row another still holds. Every write-back (`mark_delivered`,
`mark_failed`) changes a row only while it is pending and leased to the writer: a worker
whose lease lapsed and was taken over changes nothing and is told so (False). When a row is
due is the schedule its writers set (`next_attempt_at`, compared with the caller's `now`).
Stories waiting for their event's "also reported" notification are claimed together, as one
batch. The claim returns each notification with its stories as they stand now (every known
copy's URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import Connection, Engine

from kurilwatch.model import Alert, Evidence, Member, Notice, highest_severity
from storage.stories import get_story
from storage.tables import alerts, channels, stories

BATCH_LIMIT = 100
"""At most this many stories in one "also reported" notification; the rest go in the next."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unnotified:
    """A flagged story that no notification on `channels` names, though its events route there."""

    story_id: int
    title: str
    events: tuple[str, ...]
    channels: tuple[str, ...]


def claim_due(
    engine: Engine,
    *,
    owner: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
    channels: set[str],
    batch_limit: int = BATCH_LIMIT,
) -> list[Notice]:
    """Lease up to `limit` notifications due by `now` on the given channels to `owner`, for
    `lease_seconds` on the database's clock.

    A row under a live lease (its `leased_until` not yet passed by the database's `now()`)
    is never taken, whatever `now` says. A due alert or update is one notification. A due
    story waiting for its event group's "also reported" notification brings every story of
    the group that waits (up to `batch_limit`, first written first) into one batch: their
    rows get the batch's id (its first row's) and are leased, retried, delivered or dead
    together from then on. One claimer at a time makes a group's batch (an advisory lock per
    group); a group another claimer is batching is left to it.
    """
    lease = _Lease(owner=owner, until=sa.func.now() + _seconds(lease_seconds))
    due = (
        alerts.c.status == "pending",
        alerts.c.next_attempt_at <= now,
        alerts.c.channel.in_(channels),
        _free(),
    )
    waiting = sa.and_(alerts.c.kind == "also_reported", alerts.c.batch_id.is_(None))
    singles = (
        sa.select(alerts.c.id, alerts.c.next_attempt_at, alerts.c.created_at)
        .where(
            *due,
            sa.not_(waiting),
            sa.or_(alerts.c.batch_id.is_(None), alerts.c.batch_id == alerts.c.id),
        )
        .order_by(alerts.c.next_attempt_at, alerts.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    first_due = sa.func.min(alerts.c.next_attempt_at)
    first_written = sa.func.min(alerts.c.created_at)
    groups = (
        sa.select(alerts.c.channel, alerts.c.group_story_id, first_due, first_written)
        .where(*due, waiting)
        .group_by(alerts.c.channel, alerts.c.group_story_id)
        .order_by(first_due, first_written)
        .limit(limit)
    )
    with engine.begin() as conn:
        picks: list[tuple[datetime, datetime, str, int | None]] = [
            (when, written, alert_id, None) for alert_id, when, written in conn.execute(singles)
        ]
        picks += [(when, written, ch, group) for ch, group, when, written in conn.execute(groups)]
        picks.sort(key=lambda pick: (pick[0], pick[1]))
        claimed = []
        for _, _, key, group in picks[:limit]:
            if group is None:
                rows = _lease(conn, key, lease)
            else:
                rows = _batch(conn, key, group, now=now, lease=lease, limit=batch_limit)
            if rows:
                claimed.append(_notice(conn, rows))
    return sorted(claimed, key=lambda c: (c.alert.created_at or now, c.alert.story_id, c.alert.id))


@dataclass(frozen=True, slots=True)
class _Lease:
    """Who takes the rows, and until when (an SQL expression on the database's clock)."""

    owner: str
    until: Any


def _seconds(value: float) -> Any:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, max(0.0, value))


def _free() -> Any:
    """No live lease on the row, by the database's clock."""
    return sa.or_(alerts.c.leased_until.is_(None), alerts.c.leased_until < sa.func.now())


def _lease(conn: Connection, alert_id: str, lease: _Lease) -> list[Any]:
    """Lease one alert, or every row of the batch it leads."""
    return list(
        conn.execute(
            sa.update(alerts)
            .where(
                sa.or_(alerts.c.id == alert_id, alerts.c.batch_id == alert_id),
                alerts.c.status == "pending",
            )
            .values(leased_until=lease.until, leased_by=lease.owner)
            .returning(*alerts.c)
        )
        .mappings()
        .all()
    )


def _batch(
    conn: Connection, channel: str, group: int, *, now: datetime, lease: _Lease, limit: int
) -> list[Any]:
    """Collect the rows waiting for group `group`'s next notification into one batch."""
    key = sa.func.hashtextextended(f"kurilwatch.batch:{channel}:{group}", 0)
    if not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key))).scalar_one():
        return []
    members = (
        sa.select(alerts.c.id)
        .where(
            alerts.c.status == "pending",
            alerts.c.channel == channel,
            alerts.c.group_story_id == group,
            alerts.c.kind == "also_reported",
            alerts.c.batch_id.is_(None),
        )
        .order_by(alerts.c.created_at, alerts.c.story_id, alerts.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(members).scalars())
    if not ids:
        return []
    return list(
        conn.execute(
            sa.update(alerts)
            .where(alerts.c.id.in_(ids))
            .values(
                batch_id=ids[0], batched_at=now, leased_until=lease.until, leased_by=lease.owner
            )
            .returning(*alerts.c)
        )
        .mappings()
        .all()
    )


def _notice(conn: Connection, rows: list[Any]) -> Notice:
    """What the claimed rows say: one alert, or one batch listing each member's story."""
    rows = sorted(
        rows, key=lambda r: (r["batch_id"] != r["id"], r["created_at"], r["story_id"], r["id"])
    )
    lead = rows[0]
    group = get_story(conn, lead["group_story_id"]) if lead["group_story_id"] else None
    if lead["batch_id"] is None:
        return Notice(
            alert=_to_alert(lead),
            story=get_story(conn, lead["story_id"]),
            is_update=lead["is_update"],
            group=group,
            severity=lead["severity"],
        )
    members = tuple(Member(alert=_to_alert(r), story=get_story(conn, r["story_id"])) for r in rows)
    batch = replace(
        _to_alert(lead),
        events=tuple(dict.fromkeys(e for m in members for e in m.alert.events)),
        rules=tuple(dict.fromkeys(r for m in members for r in m.alert.rules)),
        evidence=tuple(dict.fromkeys(e for m in members for e in m.alert.evidence)),
        created_at=lead["batched_at"],
    )
    return Notice(
        alert=batch,
        story=members[0].story,
        is_update=True,
        group=group,
        severity=highest_severity(r["severity"] for r in rows),
        members=members,
    )


def mark_delivered(
    engine: Engine,
    alert_id: str,
    *,
    owner: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """The receiver took it (one alert, or every row of the batch it leads): done for good,
    keeping the body it was sent. False, and nothing changed, when `owner` no longer holds
    the lease (it lapsed and another worker took the row, or someone recorded it)."""
    return _write_back(
        engine,
        alert_id,
        owner,
        status="delivered",
        delivered_at=now,
        last_error=None,
        payload=sa.case((alerts.c.id == alert_id, _json(payload)), else_=alerts.c.payload),
    )


def _json(payload: dict[str, Any] | None) -> Any:
    return sa.null() if payload is None else sa.bindparam("payload", payload, type_=JSONB)


def mark_failed(
    engine: Engine, alert_id: str, *, owner: str, error: str, retry_at: datetime | None
) -> bool:
    """The attempt failed (for one alert, or the batch it leads): due again at `retry_at`,
    or dead when `retry_at` is None. False, and nothing changed, when `owner` no longer
    holds the lease."""
    values: dict[str, Any] = {"last_error": error[:2000]}
    if retry_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    return _write_back(engine, alert_id, owner, **values)


def _write_back(engine: Engine, alert_id: str, owner: str, **values: Any) -> bool:
    """Record one attempt on the rows `owner` holds (the alert, or its batch) and free them."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(alerts)
            .where(
                sa.or_(alerts.c.id == alert_id, alerts.c.batch_id == alert_id),
                alerts.c.leased_by == owner,
                alerts.c.status == "pending",
            )
            .values(
                **values,
                attempts=alerts.c.attempts + 1,
                leased_until=None,
                leased_by=None,
            )
        )
    return bool(result.rowcount)


def requeue(engine: Engine, *, now: datetime, alert_id: str | None = None) -> int:
    """Make alert `alert_id` (with every row of its batch, if it is in one) or, without it,
    every dead alert due again; return how many rows. A delivered alert is not sent twice,
    and a row being sent right now (under a live lease) is left to its sender.
    """
    query = sa.update(alerts).where(alerts.c.status != "delivered", _free())
    if alert_id:
        batch = sa.select(alerts.c.batch_id).where(alerts.c.id == alert_id).scalar_subquery()
        query = query.where(
            sa.or_(alerts.c.id == alert_id, alerts.c.batch_id == sa.func.coalesce(batch, alert_id))
        )
    else:
        query = query.where(alerts.c.status == "dead")
    with engine.begin() as conn:
        result = conn.execute(
            query.values(status="pending", next_attempt_at=now, leased_until=None, leased_by=None)
        )
    return int(result.rowcount or 0)


def record_channel(
    engine: Engine,
    name: str,
    kind: str,
    *,
    ok: bool,
    error: str | None,
    now: datetime,
    permanent: bool = False,
) -> None:
    """Keep a channel's delivery health: unhealthy after a permanent refusal, healthy on success."""
    first: dict[str, Any] = (
        {"last_ok_at": now, "consecutive_failures": 0, "healthy": True}
        if ok
        else {"last_error": error, "last_error_at": now, "consecutive_failures": 1}
    )
    if permanent:
        first["healthy"] = False
    later = dict(first)
    if not ok:
        later["consecutive_failures"] = channels.c.consecutive_failures + 1
    stmt = insert(channels).values(name=name, kind=kind, **first)
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[channels.c.name], set_={"kind": stmt.excluded.kind, **later}
            )
        )


def channel_health(engine: Engine) -> list[dict[str, Any]]:
    """Every channel that has had an attempt, with its health and outbox counts."""
    counts = sa.select(alerts.c.channel, alerts.c.status, sa.func.count()).group_by(
        alerts.c.channel, alerts.c.status
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(channels).order_by(channels.c.name)).mappings().all()
        by_channel: dict[str, dict[str, int]] = {}
        for channel, status, count in conn.execute(counts):
            by_channel.setdefault(channel, {})[status] = count
    return [
        {
            "name": r["name"],
            "kind": r["kind"],
            "healthy": r["healthy"],
            "last_ok_at": r["last_ok_at"].isoformat() if r["last_ok_at"] else None,
            "last_error": r["last_error"],
            "last_error_at": r["last_error_at"].isoformat() if r["last_error_at"] else None,
            "consecutive_failures": r["consecutive_failures"],
            "outbox": by_channel.get(r["name"], {}),
        }
        for r in rows
    ]


def list_alerts(
    engine: Engine, *, limit: int = 200, status: str | None = None
) -> list[dict[str, Any]]:
    """The newest alerts first (optionally only those in `status`), JSON-ready."""
    query = sa.select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id).limit(limit)
    if status is not None:
        query = query.where(alerts.c.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "id": r["id"],
            "status": r["status"],
            "attempts": r["attempts"],
            "channel": r["channel"],
            "story_id": r["story_id"],
            "events": list(r["events"]),
            "rules": list(r["rules"]),
            "kind": r["kind"],
            "is_update": r["is_update"],
            "group_story_id": r["group_story_id"],
            "batch_id": r["batch_id"],
            "batched_at": r["batched_at"].isoformat() if r["batched_at"] else None,
            "severity": r["severity"],
            "created_at": r["created_at"].isoformat(),
            "next_attempt_at": r["next_attempt_at"].isoformat(),
            "delivered_at": r["delivered_at"].isoformat() if r["delivered_at"] else None,
            "last_error": r["last_error"],
        }
        for r in rows
    ]


def _to_alert(row: Any) -> Alert:
    return Alert(
        id=row["id"],
        channel=row["channel"],
        story_id=row["story_id"],
        events=tuple(row["events"]),
        rules=tuple(row["rules"]),
        evidence=tuple(
            Evidence(
                rule=e["rule"],
                event=e["event"],
                sentences=tuple(e["sentences"]),
                terms=tuple(e["terms"]),
            )
            for e in row["evidence"]
        ),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )


def unnotified(
    engine: Engine,
    *,
    now: datetime,
    max_age_seconds: float,
    routes: Mapping[str, frozenset[str]],
) -> list[Unnotified]:
    """Stories flagged with an event and still inside `max_age_seconds` (by publication time,
    else first sight) that lack a notification (pending, delivered or dead) on a channel
    their events route to (`routes`: event type to channels). Normally none."""
    born = sa.func.coalesce(stories.c.published_at, stories.c.first_seen_at)
    named = (
        sa.select(alerts.c.story_id, sa.func.array_agg(sa.distinct(alerts.c.channel)).label("on"))
        .group_by(alerts.c.story_id)
        .subquery()
    )
    query = (
        sa.select(stories.c.id, stories.c.title, stories.c.events, named.c.on)
        .outerjoin(named, named.c.story_id == stories.c.id)
        .where(
            born >= now - timedelta(seconds=max_age_seconds),
            sa.func.cardinality(stories.c.events) > 0,
        )
        .order_by(stories.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    missing = []
    for story_id, title, events, on in rows:
        expected = set().union(*(routes.get(e, frozenset()) for e in events))
        lacking = expected - set(on or ())
        if lacking:
            missing.append(
                Unnotified(
                    story_id=story_id,
                    title=title,
                    events=tuple(events),
                    channels=tuple(sorted(lacking)),
                )
            )
    return missing
