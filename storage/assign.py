"""Story assignment: which story a new copy joins, safely under concurrency.

In order, inside the caller's transaction:
1. lock: one transaction-level advisory lock per key (the content hash and every MinHash band
   of the copy), taken in ascending order in one statement so two transactions never wait on
   each other in a cycle; two copies of one story that share a key are thereby serialized,
   so concurrent crawls still end in one story;
2. exact: a stored article with the same normalized-text SHA-256 gives its story (and the
   lookups of steps 3 and 4, in the same statement, are skipped);
3. near: stored articles of the last `window` that share a band are candidates; the one whose
   estimated Jaccard similarity is highest, if at least `NEAR_THRESHOLD`, gives its story
   (`best_candidate`, pure);
4. contained: stored articles of the window that share enough anchors are candidates; the
   one that contains the copy, or that the copy contains, gives its story
   (`storage.containment.best_container`, pure): a feed's summary, an excerpt or a cut copy
   joins the full article's story, whichever arrives first;
5. otherwise the copy starts a story of its own.
The locks of step 1 cover the anchors too. Steps 1-4 are two statements sent together in
one round trip (`lookups`, run by `storage.engine.together`); `decide` reads the rows of the
second.
`storage.articles` indexes the new copy's bands
and anchors in the statement that stores it; `prune_bands` forgets bands and anchors that
left the window (the articles stay).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.containment import (
    ANCHOR_FLOOR,
    MAX_CONTAINERS,
    Container,
    ContainPrint,
    best_container,
    body_shingles,
)
from storage.engine import Statement, together
from storage.fingerprint import NEAR_THRESHOLD, NearPrint, similarity
from storage.tables import article_anchors, article_bands

log = logging.getLogger(__name__)

_MASK = (1 << 63) - 1
# One statement for every lock, taken in array order (ascending). It must stay a statement of
# its own before the lookups: a statement sees the data as of its start, so a lookup in the
# same statement could miss a copy committed while this one waited. One statement instead of
# 26 took the p95 of an assignment at 1M articles from 5.2 to 1.3 ms (bench/dedup_scale.py).
LOCK_ALL = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%(keys)s::bigint[]) AS k"


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
    how: str  # "exact" | "near" | "contained" | "new"
    score: float | None = None


def lock_keys(
    digest: str, near: NearPrint | None, contain: ContainPrint | None = None
) -> list[int]:
    """The advisory lock keys of a copy, ascending: its content hash, bands and anchors."""
    keys = {int(digest[:15], 16)}
    if near is not None:
        keys.update(band & _MASK for band in near.bands)
    if contain is not None:
        keys.update(anchor & _MASK for anchor in contain.anchors)
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


def lookups(
    digest: str, near: NearPrint | None, contain: ContainPrint | None, *, since: datetime
) -> tuple[Statement, Statement]:
    """What finds a copy's story, to be sent together in this order: its locks, then its
    exact copy or else its candidates seen since `since` (`candidate_query`). The second
    one's rows go to `decide`."""
    return (
        Statement(LOCK_ALL, {"keys": lock_keys(digest, near, contain)}),
        candidate_query(near, contain, digest=digest, since=since),
    )


def decide(rows: Sequence[Any], near: NearPrint | None, contain: ContainPrint | None) -> Assignment:
    """The story a copy joins, from the rows of its `candidate_query` (see the module
    docstring)."""
    exact = [r.story_id for r in rows if r.kind == "exact"]
    if exact:
        return Assignment(story_id=exact[0], how="exact", score=1.0)
    if near is not None:
        nearby = (Candidate(r[1], r[2], r[3]) for r in rows if r[0] == "near")
        found = best_candidate(near.signature, nearby)
        if found.story_id is not None:
            return found
    if contain is None:
        return Assignment(story_id=None, how="new")
    containers = (
        Container(r[1], r[2], body_shingles(r[4], r[5])) for r in rows if r[0] == "contained"
    )
    decided = best_container(contain.shingles, containers)
    if decided.reason == "ambiguous":
        log.info("story.containment_ambiguous", extra={"stories": list(decided.stories)})
    if decided.story_id is None:
        return Assignment(story_id=None, how="new")
    return Assignment(story_id=decided.story_id, how="contained", score=decided.score)


def assign_story(
    conn: Connection,
    digest: str,
    near: NearPrint | None,
    *,
    contain: ContainPrint | None = None,
    now: datetime,
    window_seconds: float,
) -> Assignment:
    """Lock the copy's keys, then find the story it belongs to, in one round trip: what
    `storage.articles` does after its duplicate check (the benchmark times it alone)."""
    since = now - timedelta(seconds=window_seconds)
    _locked, rows = together(conn, lookups(digest, near, contain, since=since))
    return decide(rows, near, contain)


# The exact copy, else both candidate lookups, in one statement (bench/README.md has what
# each costs). A stored copy with the same text hash gives an "exact" row and skips the rest
# (a one-time filter before any index is read). Band candidates come with their signatures;
# anchor candidates ("containers") with their headline and text, ranked by the share of the
# smaller anchor set they hold (an article's rows all carry its `anchor_count`, so max() is
# that count), those under ANCHOR_FLOOR cut, at most MAX_CONTAINERS. An empty key array skips
# its half.
CANDIDATES = """
    WITH exact AS MATERIALIZED (
        SELECT story_id FROM articles WHERE content_hash = %(digest)s LIMIT 1
    ), near AS (
        SELECT DISTINCT article_bands.article_id, article_bands.story_id
        FROM article_bands
        WHERE article_bands.band = ANY(%(bands)s::bigint[])
            AND article_bands.seen_at >= %(since)s
    ), containers AS (
        SELECT article_id, story_id
        FROM article_anchors
        WHERE anchor = ANY(%(anchors)s::bigint[]) AND seen_at >= %(since)s
        GROUP BY article_id, story_id
        HAVING count(*) >= %(floor)s * least(%(n)s, max(anchor_count))
        ORDER BY count(*)::float8 / least(%(n)s, max(anchor_count)) DESC, article_id DESC
        LIMIT %(k)s
    )
    SELECT 'exact' AS kind, NULL::bigint AS article_id, exact.story_id,
        NULL::bytea AS near_signature, NULL AS title, NULL AS text
    FROM exact
    UNION ALL
    SELECT 'near', near.article_id, near.story_id, articles.near_signature, NULL, NULL
    FROM near JOIN articles ON articles.id = near.article_id
    WHERE articles.near_signature IS NOT NULL AND NOT EXISTS (SELECT FROM exact)
    UNION ALL
    SELECT 'contained', containers.article_id, containers.story_id, NULL,
        articles.title, articles.text
    FROM containers JOIN articles ON articles.id = containers.article_id
    WHERE NOT EXISTS (SELECT FROM exact)
"""


def candidate_query(
    near: NearPrint | None,
    contain: ContainPrint | None,
    *,
    since: datetime,
    digest: str | None = None,
) -> Statement:
    """The story of a stored copy with text hash `digest` (one "exact" row: kind, -, story),
    else the stored copies seen since `since` that share a band with `near` ("near" rows:
    kind, article, story, signature) or enough anchors with `contain` ("contained" rows:
    kind, article, story, -, headline, text). Without `digest`, only the candidates."""
    anchors = list(contain.anchors) if contain is not None else []
    return Statement(
        CANDIDATES,
        {
            "bands": list(near.bands) if near is not None else [],
            "anchors": anchors,
            "since": since,
            "floor": ANCHOR_FLOOR,
            "n": max(1, len(anchors)),
            "k": MAX_CONTAINERS,
            "digest": digest,
        },
    )


def prune_bands(engine: Engine, *, older_than: datetime) -> int:
    """Forget the bands and anchors of copies first seen before `older_than`; return how many
    rows."""
    with engine.begin() as conn:
        bands = conn.execute(sa.delete(article_bands).where(article_bands.c.seen_at < older_than))
        anchors = conn.execute(
            sa.delete(article_anchors).where(article_anchors.c.seen_at < older_than)
        )
    return int(bands.rowcount or 0) + int(anchors.rowcount or 0)
