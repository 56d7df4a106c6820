"""The outbox: claim due alerts under a lease, and record how each attempt went.

Workers claim due rows with `FOR UPDATE SKIP LOCKED` and set a lease, so two daemons never
send the same row at once and a row whose worker died is claimed again when its lease lapses.
The claim returns each alert with its story as it stands now (every known copy's URL).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from kurilwatch.model import Alert, Evidence, Notice
from storage.stories import get_story
from storage.tables import alerts, channels


def claim_due(
    engine: Engine, *, now: datetime, lease_seconds: float, limit: int, channels: set[str]
) -> list[Notice]:
    """Lease up to `limit` pending alerts that are due on the given channels."""
    due = (
        sa.select(alerts.c.id)
        .where(
            alerts.c.status == "pending",
            alerts.c.next_attempt_at <= now,
            alerts.c.channel.in_(channels),
            sa.or_(alerts.c.leased_until.is_(None), alerts.c.leased_until < now),
        )
        .order_by(alerts.c.next_attempt_at, alerts.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with engine.begin() as conn:
        rows = (
            conn.execute(
                sa.update(alerts)
                .where(alerts.c.id.in_(due.scalar_subquery()))
                .values(leased_until=now + timedelta(seconds=lease_seconds))
                .returning(*alerts.c)
            )
            .mappings()
            .all()
        )
        claimed = [
            Notice(
                alert=_to_alert(row),
                story=get_story(conn, row["story_id"]),
                is_update=row["is_update"],
                group=get_story(conn, row["group_story_id"]) if row["group_story_id"] else None,
                severity=row["severity"],
            )
            for row in rows
        ]
    return sorted(claimed, key=lambda c: (c.alert.created_at or now, c.alert.story_id, c.alert.id))


def mark_delivered(
    engine: Engine, alert_id: str, *, now: datetime, payload: dict[str, Any] | None = None
) -> None:
    """The receiver took it: done for good (keeping the body it was sent)."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(alerts)
            .where(alerts.c.id == alert_id)
            .values(
                status="delivered",
                delivered_at=now,
                attempts=alerts.c.attempts + 1,
                leased_until=None,
                last_error=None,
                payload=payload,
            )
        )


def mark_failed(
    engine: Engine, alert_id: str, *, error: str, retry_at: datetime | None, now: datetime
) -> None:
    """The attempt failed: due again at `retry_at`, or dead when `retry_at` is None."""
    values: dict[str, Any] = {
        "attempts": alerts.c.attempts + 1,
        "leased_until": None,
        "last_error": error[:2000],
    }
    if retry_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    with engine.begin() as conn:
        conn.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(**values))


def requeue(engine: Engine, *, now: datetime, alert_id: str | None = None) -> int:
    """Make alert `alert_id` (or, without it, every dead alert) due again; return how many.

    A delivered alert is not sent twice.
    """
    query = sa.update(alerts).where(alerts.c.status != "delivered")
    query = (
        query.where(alerts.c.id == alert_id) if alert_id else query.where(alerts.c.status == "dead")
    )
    with engine.begin() as conn:
        result = conn.execute(
            query.values(status="pending", next_attempt_at=now, leased_until=None)
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
            "is_update": r["is_update"],
            "group_story_id": r["group_story_id"],
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
