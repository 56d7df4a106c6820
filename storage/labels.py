"""The desk's corrections: per story and event, whether the rules missed it or were wrong.

A label says of one story and one event that the rules `missed` it (the story reports the
event, its stored verdict does not) or were `wrong` (the verdict names the event, the story
does not report it). There is one label per story and event: a newer one replaces the
older, note included, and keeps its `created_at`. Deleting a story deletes its labels.

The desk's truth for a labelled story (`desk_truth`) is its labels where it has them and the
story's stored verdict elsewhere: the desk saw the story and corrected only what was wrong.

Touches the `labels` table; stories and their texts are read through `storage.stories`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from kurilwatch.errors import StoryNotFound
from storage.stories import stored_articles
from storage.tables import labels, stories

Verdict = Literal["missed", "wrong"]
VERDICTS: tuple[Verdict, ...] = ("missed", "wrong")


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    """One stored correction, with the title of the story it is about."""

    story_id: int
    story_title: str
    event: str
    verdict: Verdict
    note: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelledStory:
    """A story the desk labelled, with the text its verdict was made on.

    Attributes:
        story_id: The story.
        url: The story's URL (its first copy's).
        title: The first copy's title.
        text: The first copy's text.
        language: The first copy's language.
        events: The story's stored verdict: the events recorded for it.
        labels: The desk's labels of the story, by event.
    """

    story_id: int
    url: str
    title: str
    text: str
    language: str | None
    events: tuple[str, ...]
    labels: tuple[Label, ...]

    def truth(self, events: Iterable[str]) -> dict[str, bool]:
        """The desk's truth for `events` and every labelled event (see `desk_truth`)."""
        return desk_truth(events, self.events, self.labels)

    @property
    def note(self) -> str | None:
        """The labels' distinct notes, in event order, joined by "; " (None without one)."""
        notes = dict.fromkeys(label.note for label in self.labels if label.note)
        return "; ".join(notes) or None


def desk_truth(
    events: Iterable[str], stored: Collection[str], story_labels: Iterable[Label]
) -> dict[str, bool]:
    """Per event, whether a story reports it in the desk's eyes.

    Args:
        events: The events to judge (those of the rules in force).
        stored: The story's stored verdict.
        story_labels: The desk's labels of the story; an event labelled but not in `events`
            is judged too, so no correction is lost when the rules change.

    Returns:
        `missed` → True, `wrong` → False, unlabelled → whether `stored` names the event.
    """
    truth = {event: event in stored for event in events}
    for label in story_labels:
        truth[label.event] = label.verdict == "missed"
    return truth


def desk_verdicts(
    missed: Iterable[str], wrong: Iterable[str], *, allowed: Collection[str]
) -> dict[str, Verdict]:
    """The verdicts a desk gives, checked: each event missed or wrong, one of `allowed`.

    Both `kurilwatch label` and the story page's buttons go through this check.

    Raises:
        ValueError: no event is given, an event is both missed and wrong, or an event is not
            one of `allowed` (the events of the rules in force); the message says which.
    """
    missed, wrong = tuple(missed), tuple(wrong)
    if not missed and not wrong:
        raise ValueError("give --missed EVENT or --wrong EVENT (or both, for other events)")
    both = sorted(set(missed) & set(wrong))
    if both:
        raise ValueError(f"{', '.join(both)}: an event is either missed or wrong, not both")
    unknown = [e for e in dict.fromkeys((*missed, *wrong)) if e not in allowed]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not an event of the rules in force "
            f"(allowed: {', '.join(allowed) or 'none'})"
        )
    verdicts: dict[str, Verdict] = {e: "missed" for e in missed}
    verdicts.update({e: "wrong" for e in wrong})
    return verdicts


def set_labels(
    engine: Engine, story_id: int, verdicts: Mapping[str, Verdict], *, note: str | None = None
) -> tuple[Label, ...]:
    """Store the desk's verdict on each event of `verdicts` for one story, in one transaction.

    Each replaces the story's earlier label of that event (verdict and note; `updated_at` set
    on the database's clock, `created_at` kept).

    Returns:
        The labels as stored, by event.

    Raises:
        StoryNotFound: there is no story `story_id` (nothing is stored).
        ValueError: a verdict is neither "missed" nor "wrong" (nothing is stored).
    """
    for event, verdict in verdicts.items():
        if verdict not in VERDICTS:
            raise ValueError(f"{event}: verdict must be 'missed' or 'wrong', not {verdict!r}")
    with engine.begin() as conn:
        found = conn.execute(
            sa.select(stories.c.id).where(stories.c.id == story_id).with_for_update()
        ).scalar_one_or_none()
        if found is None:
            raise StoryNotFound(f"no story {story_id}")
        for event, verdict in sorted(verdicts.items()):
            statement = insert(labels).values(
                story_id=story_id, event=event, verdict=verdict, note=note
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[labels.c.story_id, labels.c.event],
                    set_={"verdict": verdict, "note": note, "updated_at": sa.func.now()},
                )
            )
    return tuple(
        label for label in list_labels(engine, story_ids=[story_id]) if label.event in verdicts
    )


def list_labels(engine: Engine, *, story_ids: Collection[int] | None = None) -> list[Label]:
    """Every label (of the stories `story_ids` if given), newest story first, then by event."""
    query = (
        sa.select(labels, stories.c.title.label("story_title"))
        .join(stories, stories.c.id == labels.c.story_id)
        .order_by(labels.c.story_id.desc(), labels.c.event)
    )
    if story_ids is not None:
        query = query.where(labels.c.story_id.in_(list(story_ids)))
    with engine.connect() as conn:
        return [
            Label(
                story_id=row["story_id"],
                story_title=row["story_title"],
                event=row["event"],
                verdict=cast(Verdict, row["verdict"]),
                note=row["note"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
            for row in conn.execute(query).mappings()
        ]


def labelled_stories(
    engine: Engine, *, story_ids: Sequence[int] | None = None
) -> list[LabelledStory]:
    """Every labelled story (of `story_ids` if given), newest first, with its first copy's text."""
    by_story: dict[int, list[Label]] = {}
    for label in list_labels(engine, story_ids=story_ids):
        by_story.setdefault(label.story_id, []).append(label)
    if not by_story:
        return []
    first: dict[int, LabelledStory] = {}
    for row in stored_articles(engine, since=None, story_ids=by_story):
        if row["story_id"] in first:
            continue
        first[row["story_id"]] = LabelledStory(
            story_id=row["story_id"],
            url=row["story_url"],
            title=row["title"],
            text=row["text"],
            language=row["language"],
            events=tuple(row["story_events"]),
            labels=tuple(by_story[row["story_id"]]),
        )
    return [first[story_id] for story_id in by_story if story_id in first]
