"""Stories: read one story with all its copies, or list them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kurilwatch.errors import StoryNotFound
from kurilwatch.model import Story, TextSource
from storage.tables import articles, stories


def get_story(conn: Connection, story_id: int) -> Story:
    """The story `story_id` with every known copy's URL, first seen first, and the outlet of
    its first copy."""
    row = conn.execute(sa.select(stories).where(stories.c.id == story_id)).mappings().one_or_none()
    if row is None:
        raise StoryNotFound(f"no story {story_id}")
    copies = conn.execute(
        sa.select(articles.c.url, articles.c.outlet, articles.c.text_source, articles.c.text_reason)
        .where(articles.c.story_id == story_id)
        .order_by(articles.c.id)
    ).all()
    return story_of(row, copies)


def story_of(row: Any, copies: Sequence[Any]) -> Story:
    """The `Story` of a `stories` row and its copies (rows with `url`, `outlet`,
    `text_source` and `text_reason`), first stored first."""
    source, reason = text_source([(c.text_source, c.text_reason) for c in copies])
    return Story(
        id=row["id"],
        title=row["title"],
        url=row["url"],
        language=row["language"],
        published_at=row["published_at"],
        first_seen_at=row["first_seen_at"],
        urls=tuple(c.url for c in copies),
        text_source=source,
        text_reason=reason,
        outlet=copies[0].outlet if copies else None,
    )


def text_source(copies: Sequence[tuple[str, str | None]]) -> tuple[TextSource, str | None]:
    """What a story was judged on, from its copies' (text_source, text_reason), first first:
    its page if any copy's page was read, else a post if any copy was one (its text is the
    whole article), else the feed, with the first copy's reason."""
    if not copies or any(source == "page" for source, _ in copies):
        return "page", None
    if any(source == "post" for source, _ in copies):
        return "post", None
    return "feed", copies[0][1]


def show_story(engine: Engine, story_id: int) -> dict[str, Any]:
    """One story with every copy, as `list_stories` gives it.

    Raises:
        StoryNotFound: there is no such story.
    """
    found = list_stories(engine, story_id=story_id)
    if not found:
        raise StoryNotFound(f"no story {story_id}")
    return found[0]


def list_stories(
    engine: Engine, *, limit: int = 100, story_id: int | None = None
) -> list[dict[str, Any]]:
    """The newest stories first, each with its copies (URL, source, outlet) and events."""
    query = sa.select(stories).order_by(stories.c.first_seen_at.desc(), stories.c.id.desc())
    if story_id is not None:
        query = query.where(stories.c.id == story_id)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).mappings().all()
        copies: dict[int, list[dict[str, Any]]] = {}
        if rows:
            for a in conn.execute(
                sa.select(
                    articles.c.story_id,
                    articles.c.url,
                    articles.c.source,
                    articles.c.outlet,
                    articles.c.title,
                    articles.c.fetched_at,
                    articles.c.text_source,
                    articles.c.text_reason,
                )
                .where(articles.c.story_id.in_([r["id"] for r in rows]))
                .order_by(articles.c.id)
            ).mappings():
                copies.setdefault(a["story_id"], []).append(
                    {
                        "url": a["url"],
                        "source": a["source"],
                        "outlet": a["outlet"],
                        "title": a["title"],
                        "fetched_at": a["fetched_at"].isoformat(),
                        "text_source": a["text_source"],
                        "text_reason": a["text_reason"],
                    }
                )
    judged = {
        story_id: text_source([(c["text_source"], c["text_reason"]) for c in found])
        for story_id, found in copies.items()
    }
    return [
        {
            "id": r["id"],
            "title": r["title"],
            "url": r["url"],
            "language": r["language"],
            "published_at": r["published_at"].isoformat() if r["published_at"] else None,
            "first_seen_at": r["first_seen_at"].isoformat(),
            "events": list(r["events"]),
            "urls": [c["url"] for c in copies.get(r["id"], [])],
            "copies": copies.get(r["id"], []),
            "text_source": judged.get(r["id"], ("page", None))[0],
            "text_reason": judged.get(r["id"], ("page", None))[1],
        }
        for r in rows
    ]


def stored_articles(
    engine: Engine, *, since: datetime | None, story_ids: Collection[int] | None = None
) -> Iterator[dict[str, Any]]:
    """Every article fetched since `since` (None: ever), of the stories `story_ids` if given,
    in the order stored (a story's first copy first), each with its story's URL, title and
    recorded events."""
    query = (
        sa.select(
            articles.c.id,
            articles.c.story_id,
            articles.c.title,
            articles.c.text,
            articles.c.language,
            stories.c.url.label("story_url"),
            stories.c.title.label("story_title"),
            stories.c.events.label("story_events"),
        )
        .join(stories, stories.c.id == articles.c.story_id)
        .order_by(articles.c.id)
    )
    if since is not None:
        query = query.where(articles.c.fetched_at >= since)
    if story_ids is not None:
        query = query.where(articles.c.story_id.in_(list(story_ids)))
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield dict(row)
