"""The desk's labels on the real PostgreSQL: stored, replaced, read back with their text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from kurilwatch.errors import StoryNotFound
from kurilwatch.model import AlertPlan, Article, StoryState
from storage.articles import ingest_article
from storage.labels import labelled_stories, list_labels, set_labels
from storage.tables import articles, labels, stories

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
FIRST = (
    "Residents of Nemuro marched on Sunday demanding the return of Kunashiri and Etorofu. "
    "Organisers said 2,000 people joined the rally by the harbour."
)
SECOND = (
    "Sakhalin officials opened a new school on Shikotan on Friday, the regional government "
    "said. Forty pupils will attend from September."
)


def _no_alerts(state: StoryState) -> list[AlertPlan]:
    return []


def _story(engine: Engine, url: str, text: str, *, events: tuple[str, ...] = ()) -> int:
    result = ingest_article(
        engine,
        Article(url=url, source="wire", title=text.split(".")[0], text=text, language="en"),
        events=events,
        plan=_no_alerts,
        now=NOW,
    )
    assert result.story_id is not None
    return result.story_id


def test_a_label_is_stored_and_a_newer_one_replaces_it(engine: Engine) -> None:
    story = _story(engine, "https://a.test/march", FIRST)
    [first] = set_labels(engine, story, {"protest": "missed"}, note="a rally is a protest")
    assert (first.story_id, first.event, first.verdict, first.note) == (
        story,
        "protest",
        "missed",
        "a rally is a protest",
    )
    assert first.story_title == FIRST.split(".")[0]
    [again] = set_labels(engine, story, {"protest": "wrong"})
    assert (again.verdict, again.note) == ("wrong", None)  # replaced, note included
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    assert list_labels(engine) == [again]


def test_one_call_labels_several_events_and_list_filters_by_story(engine: Engine) -> None:
    one = _story(engine, "https://a.test/march", FIRST)
    two = _story(engine, "https://a.test/school", SECOND, events=("exercise",))
    stored = set_labels(engine, one, {"protest": "missed", "exercise": "wrong"}, note="n")
    assert [(x.event, x.verdict) for x in stored] == [("exercise", "wrong"), ("protest", "missed")]
    set_labels(engine, two, {"exercise": "wrong"})
    assert [(x.story_id, x.event) for x in list_labels(engine)] == [
        (two, "exercise"),
        (one, "exercise"),
        (one, "protest"),
    ]
    assert [x.story_id for x in list_labels(engine, story_ids=[one])] == [one, one]


def test_an_unknown_story_or_verdict_stores_nothing(engine: Engine) -> None:
    story = _story(engine, "https://a.test/march", FIRST)
    with pytest.raises(StoryNotFound):
        set_labels(engine, story + 1, {"protest": "missed"})
    with pytest.raises(ValueError, match="missed"):
        set_labels(engine, story, {"protest": "missed", "exercise": "maybe"})  # type: ignore[dict-item]
    assert list_labels(engine) == []
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the table holds it too
        conn.execute(sa.insert(labels).values(story_id=story, event="protest", verdict="maybe"))


def test_labelled_stories_carry_the_first_copy_and_the_stored_verdict(engine: Engine) -> None:
    story = _story(engine, "https://a.test/march", FIRST, events=("protest",))
    copy = _story(engine, "https://b.test/march-copy", FIRST + "\n© 2026 Wire", events=())
    assert copy == story  # the same text joins the story
    _story(engine, "https://a.test/school", SECOND)  # not labelled: not listed
    set_labels(engine, story, {"exercise": "missed"}, note="drills in the third paragraph")
    [found] = labelled_stories(engine)
    assert (found.story_id, found.url, found.text, found.language) == (
        story,
        "https://a.test/march",
        FIRST,
        "en",
    )
    assert found.events == ("protest",)
    assert found.note == "drills in the third paragraph"
    assert found.truth(["protest", "exercise"]) == {"protest": True, "exercise": True}


def test_deleting_a_story_deletes_its_labels(engine: Engine) -> None:
    story = _story(engine, "https://a.test/march", FIRST)
    set_labels(engine, story, {"protest": "missed"})
    with engine.begin() as conn:
        conn.execute(sa.delete(articles).where(articles.c.story_id == story))
        conn.execute(sa.delete(stories).where(stories.c.id == story))
    assert list_labels(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(labels)).scalar_one() == 0
