"""The latest verdict of `kurilwatch sources check` on each source, for the sources page.

`store_checks` keeps one row per source name: a newer check replaces the one before it.
`checks_by_source` reads them back. The stored URL is the one the check shows (secrets
redacted by `kurilwatch.redact`), and the reason was redacted before it was judged, so
both can be shown as they are. A check is kept whatever the `sources` table holds: a source
is usually checked before any daemon polls it. `storage.sources.prune_sources` removes the
check of a source it removes.

Touches `source_checks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from storage.tables import source_checks, sources


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCheck:
    """One source's latest check: what the index answered and the verdict on it.

    Attributes:
        source: The source's configured name.
        url: The index URL as shown (secrets redacted).
        verdict: `crawler.source_check`'s verdict name (ok, stale, gone …).
        reason: The verdict's reason, in words.
        answer: What the index answered (`HTTP 200`, `connection refused by …`).
        robots: robots.txt's word on the index URL.
        items: Items the index listed.
        newest_at: The newest item's date (None when no item is dated).
        checked_at: When the check ran.
    """

    source: str
    kind: str
    url: str
    verdict: str
    reason: str
    answer: str
    robots: str
    items: int
    newest_at: datetime | None
    checked_at: datetime


_COLUMNS = (
    "kind",
    "url",
    "verdict",
    "reason",
    "answer",
    "robots",
    "items",
    "newest_at",
    "checked_at",
)


def store_checks(engine: Engine, checks: Sequence[StoredCheck]) -> None:
    """Keep `checks` as their sources' latest, replacing the ones before (one statement)."""
    if not checks:
        return
    stmt = insert(source_checks)
    upsert = stmt.on_conflict_do_update(
        index_elements=[source_checks.c.source],
        set_={name: stmt.excluded[name] for name in _COLUMNS},
    )
    rows = [{"source": c.source, **{name: getattr(c, name) for name in _COLUMNS}} for c in checks]
    with engine.begin() as conn:
        conn.execute(upsert, rows)


def checks_by_source(conn: Connection) -> dict[str, StoredCheck]:
    """Every stored check, by source name."""
    rows = conn.execute(sa.select(source_checks).order_by(source_checks.c.source)).mappings()
    return {r["source"]: StoredCheck(**r) for r in rows}


def unpolled_checks(engine: Engine) -> list[StoredCheck]:
    """The checks of sources the `sources` table does not hold (checked, never polled)."""
    polled = sa.select(sources.c.id).where(sources.c.name == source_checks.c.source)
    query = sa.select(source_checks).where(~polled.exists()).order_by(source_checks.c.source)
    with engine.connect() as conn:
        return [StoredCheck(**r) for r in conn.execute(query).mappings()]


def forget_checks(conn: Connection, names: Sequence[str]) -> None:
    """Remove the checks of the sources `names` (in the caller's transaction)."""
    if names:
        conn.execute(sa.delete(source_checks).where(source_checks.c.source.in_(list(names))))


def check_json(check: StoredCheck) -> dict[str, Any]:
    """A stored check as `sources list --json` and `/api/sources` show it."""
    return {
        "verdict": check.verdict,
        "reason": check.reason,
        "checked_at": check.checked_at.isoformat(),
        "answer": check.answer,
        "robots": check.robots,
        "items": check.items,
        "newest": check.newest_at.isoformat() if check.newest_at is not None else None,
        "url": check.url,
    }
