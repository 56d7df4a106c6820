"""Story assignment: which story a new copy joins, safely under concurrency.

In order, inside the caller's transaction:
1. lock: one transaction-level advisory lock per key (the content hash and every MinHash band
   of the copy), taken in ascending order in one statement so two transactions never wait on
   each other in a cycle; two copies of one story that share a key are thereby serialized,
   so concurrent crawls still end in one story;
2. exact: a stored article with the same normalized-text SHA-256 gives its story;
3. near: stored articles of the last `window` that share a band are candidates; the one whose
   estimated Jaccard similarity is highest, if at least `NEAR_THRESHOLD`, gives its story
   (`best_candidate`, pure);
4. otherwise the copy starts a story of its own.
`record_bands` indexes the new copy's bands for later copies; `prune_bands` forgets bands that
left the window (the articles stay).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from storage.fingerprint import NEAR_THRESHOLD, NearPrint, similarity
from storage.tables import article_bands, articles

_MASK = (1 << 63) - 1
# One round trip for every lock, taken in array order (ascending). It must stay a statement of
# its own before the lookups: a statement sees the data as of its start, so a lookup in the
# same statement could miss a copy committed while this one waited. One statement instead of
# 26 took the p95 of an assignment at 1M articles from 5.2 to 1.3 ms (bench/dedup_scale.py).
LOCK_ALL = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored article that shares a band with the new copy."""

    article_id: int
    story_id: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Assignment:
    """The story a copy joins (None: a new one) and why."""

    story_id: int | None
    how: str  # "exact" | "near" | "new"
    score: float | None = None


def lock_keys(digest: str, near: NearPrint | None) -> list[int]:
    """The advisory lock keys of a copy, ascending: its content hash and its bands."""
    keys = {int(digest[:15], 16)}
    if near is not None:
        keys.update(band & _MASK for band in near.bands)
    return sorted(keys)


def best_candidate(
    signature: bytes, candidates: Iterable[Candidate], *, threshold: float = NEAR_THRESHOLD
) -> Assignment:
    """The most similar candidate at or above `threshold`, else a new story. Pure."""
    best: tuple[float, int] | None = None
    for candidate in candidates:
        score = similarity(signature, candidate.signature)
        if score >= threshold and (best is None or score > best[0]):
            best = (score, candidate.story_id)
    if best is None:
        return Assignment(story_id=None, how="new")
    return Assignment(story_id=best[1], how="near", score=round(best[0], 3))


def assign_story(
    conn: Connection,
    digest: str,
    near: NearPrint | None,
    *,
    now: datetime,
    window_seconds: float,
) -> Assignment:
    """Lock the copy's keys, then find the story it belongs to (see the module docstring)."""
    conn.execute(LOCK_ALL, {"keys": lock_keys(digest, near)})
    exact = conn.execute(
        sa.select(articles.c.story_id).where(articles.c.content_hash == digest).limit(1)
    ).scalar_one_or_none()
    if exact is not None:
        return Assignment(story_id=exact, how="exact", score=1.0)
    if near is None:
        return Assignment(story_id=None, how="new")
    rows = conn.execute(candidate_query(near, since=now - timedelta(seconds=window_seconds)))
    return best_candidate(near.signature, (Candidate(r[0], r[1], r[2]) for r in rows))


def candidate_query(near: NearPrint, *, since: datetime) -> sa.Select[Any]:
    """Stored copies seen since `since` that share a band with `near`, with their signatures."""
    return (
        sa.select(article_bands.c.article_id, article_bands.c.story_id, articles.c.near_signature)
        .distinct()
        .join(articles, articles.c.id == article_bands.c.article_id)
        .where(
            article_bands.c.band.in_(near.bands),
            article_bands.c.seen_at >= since,
            articles.c.near_signature.is_not(None),
        )
    )


def record_bands(
    conn: Connection, article_id: int, story_id: int, bands: Sequence[int], *, now: datetime
) -> None:
    """Index a stored copy's bands so later copies find it."""
    if not bands:
        return
    conn.execute(
        insert(article_bands)
        .values(
            [
                {"band": band, "article_id": article_id, "story_id": story_id, "seen_at": now}
                for band in dict.fromkeys(bands)
            ]
        )
        .on_conflict_do_nothing()
    )


def prune_bands(engine: Engine, *, older_than: datetime) -> int:
    """Forget the bands of copies first seen before `older_than`; return how many rows."""
    with engine.begin() as conn:
        result = conn.execute(sa.delete(article_bands).where(article_bands.c.seen_at < older_than))
    return int(result.rowcount or 0)
