"""Containment on the real PostgreSQL: a feed-text article and the full article are one story.

A feed-text article is the entry's title and summary (when the page cannot be read); it must
join the story of the full article of the same story, and the full article the story of a
feed-text article stored before it, while another story about the same islands stays apart.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kurilwatch.model import AlertPlan, Article, Evidence, IngestResult, StoryState
from storage.articles import ingest_article
from storage.assign import prune_bands
from storage.outbox import list_alerts
from storage.stories import list_stories
from storage.tables import article_anchors
from tests.support.stories import FixtureStory, story_by_key
from tests.support.syndicate import cut_sentence, feed_summary, lead_headline, with_footer

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
EVIDENCE = Evidence(
    rule="exercise", event="exercise", sentences=("Drills began.",), terms=("drills",)
)


def _alert_once(state: StoryState) -> list[AlertPlan]:
    if "desk" in state.alerted:
        return []
    return [
        AlertPlan(channel="desk", events=("exercise",), rules=("exercise",), evidence=(EVIDENCE,))
    ]


def _full(story: FixtureStory, outlet: str = "wire") -> Article:
    return Article(
        url=f"https://{outlet}.test/{story.key}",
        source=outlet,
        title=story.title,
        text=story.text,
        language=story.language,
        published_at=NOW,
    )


def _feed_text(story: FixtureStory, outlet: str = "feed") -> Article:
    """What a feed-text article holds: the entry's title and ~300-character summary."""
    return Article(
        url=f"https://{outlet}.test/{story.key}",
        source=outlet,
        title=story.title,
        text=f"{story.title}\n\n{feed_summary(story.text)}",
        language=story.language,
        published_at=NOW,
    )


def _ingest(engine: Engine, article: Article, now: datetime = NOW) -> IngestResult:
    return ingest_article(engine, article, events=("exercise",), plan=_alert_once, now=now)


# (story, how the second copy is found): the Japanese fixture is 370 characters long, so its
# 300-character summary is most of it and the bands find it first
CASES = [
    ("etorofu-drill-protest", "contained"),
    ("ru-iturup-exercise", "contained"),
    ("ja-drill-protest", "near"),
]


@pytest.mark.parametrize("order", ["feed text first", "full text first"])
@pytest.mark.parametrize(("key", "how"), CASES, ids=[key for key, _ in CASES])
def test_feed_text_and_full_text_join_one_story(
    engine: Engine, key: str, how: str, order: str
) -> None:
    story = story_by_key(key)
    other = story_by_key("kunashir-bastion")  # same islands, another event
    pair = [_feed_text(story), _full(story)]
    if order == "full text first":
        pair.reverse()
    first, second = (_ingest(engine, article) for article in pair)
    unrelated = _ingest(engine, _full(other))
    unrelated_feed = _ingest(engine, _feed_text(other))

    assert first.outcome == "stored"
    assert (second.outcome, second.how, second.story_id) == ("joined", how, first.story_id)
    assert second.score is not None and second.score >= 0.75
    assert unrelated.outcome == "stored" and unrelated.story_id != first.story_id
    assert (unrelated_feed.story_id, unrelated_feed.how) == (unrelated.story_id, "contained")
    assert len(list_stories(engine)) == 2
    assert len(list_alerts(engine)) == 2  # one per story: the joined copy alerts nothing new


def test_a_cut_copy_under_a_new_headline_with_a_footer_joins(engine: Engine) -> None:
    story = story_by_key("nemuro-rally")
    copy = Article(
        url="https://daily.test/rally",
        source="daily",
        title=lead_headline(story.text),
        text=with_footer(cut_sentence(story.text, 1), "Hokkaido Daily"),
        language="en",
        published_at=NOW,
    )
    original = _ingest(engine, _full(story))
    joined = _ingest(engine, copy)
    assert joined.story_id == original.story_id and joined.how in {"near", "contained"}


def test_concurrent_feed_text_and_full_text_end_in_one_story(engine: Engine) -> None:
    stories = [story_by_key(k) for k in ("etorofu-drill-protest", "fisheries-talks")]
    articles = [make(s) for s in stories for make in (_feed_text, _full)]
    barrier = threading.Barrier(len(articles))
    results: list[IngestResult] = []

    def worker(article: Article) -> None:
        barrier.wait()
        results.append(_ingest(engine, article))

    threads = [threading.Thread(target=worker, args=(a,)) for a in articles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.outcome for r in results) == ["joined", "joined", "stored", "stored"]
    assert len(list_stories(engine)) == 2
    assert len(list_alerts(engine)) == 2


def test_a_roundup_quoting_two_stories_joins_neither(engine: Engine) -> None:
    a, b = story_by_key("etorofu-drill-protest"), story_by_key("nemuro-rally")
    first, second = _ingest(engine, _feed_text(a)), _ingest(engine, _feed_text(b))
    roundup = Article(
        url="https://digest.test/today",
        source="digest",
        title="Kuril news of the day",
        text="\n\n".join(
            [
                "Here is what happened around the islands today.",
                feed_summary(a.text),
                feed_summary(b.text),
                "More news tomorrow.",
            ]
        ),
        language="en",
        published_at=NOW,
    )
    result = _ingest(engine, roundup)
    assert result.outcome == "stored"
    assert result.story_id not in {first.story_id, second.story_id}


def test_containment_is_looked_for_within_the_window_and_anchors_are_pruned(
    engine: Engine,
) -> None:
    story = story_by_key("kunashir-bastion")
    old = ingest_article(
        engine,
        _full(story),
        events=("exercise",),
        plan=_alert_once,
        now=NOW - timedelta(days=40),
        window_seconds=30 * 86400,
    )
    late = ingest_article(
        engine,
        _feed_text(story),
        events=("exercise",),
        plan=_alert_once,
        now=NOW,
        window_seconds=30 * 86400,
    )
    assert old.outcome == late.outcome == "stored"
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(article_anchors)).scalar()
    assert before and prune_bands(engine, older_than=NOW - timedelta(days=30)) > 0
    with engine.connect() as conn:
        seen = conn.execute(sa.select(article_anchors.c.seen_at).distinct()).scalars().all()
    assert seen == [NOW]
