"""The pure parts of `bench/eval_feed.py`: feed items of today, the pages they get, the report.

Invented items only (the eval set's texts are read where they lie by the benchmark itself).
The rendered feed and page go through our own feed parser and extractor, so the benchmark
serves what the daemon reads as intended.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.eval_items import (
    BLOCKED_KINDS,
    FLAKY,
    FULL,
    cut_summary,
    feed_items,
    headline,
    page_plan,
    spread_dates,
)
from bench.eval_report import StoryRow, named_stories, score, told_events
from bench.eval_site import render_feed, render_page
from crawler.extract import extract_article, parse_feed

NOW = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)
DRILL = (
    "Russian forces held live-fire drills on Iturup in the southern Kuril Islands on Monday, "
    "the Eastern Military District said, with about 1,500 troops and coastal missile systems "
    "taking part over three days. Tokyo lodged a protest through diplomatic channels, calling "
    "the drills unacceptable on islands Japan claims as its Northern Territories.\n"
    "The district said the exercise tested the defence of the islands against a landing."
)


def raw(item_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "title": f"Headline {item_id}",
        "text": DRILL,
        "language": "en",
        "source": "Invented Wire",
        "date": None,
        "labels": {"protest": True, "exercise": True, "kurils_relevant": True},
        "story_group": "G1",
        **extra,
    }


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short  text\n here", 300, "short text here"),
        ("one two three four", 16, "one two three…"),
        ("one two three, four", 14, "one two three…"),
        ("北方領土の周辺海域で射撃訓練を実施する", 8, "北方領土の周辺海…"),
        ("abcdefghij klm", 12, "abcdefghij…"),
    ],
)
def test_cut_summary(text: str, limit: int, expected: str) -> None:
    assert cut_summary(text, limit) == expected
    assert len(cut_summary(text, limit)) <= limit + 1


def test_cut_summary_of_a_long_text_is_about_300_characters() -> None:
    summary = cut_summary(DRILL * 3)
    assert 250 <= len(summary) <= 301 and summary.endswith("…")


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("  A  headline ", "Body.", "A headline"),
        (None, "First sentence here. Second one.", "First sentence here."),
        ("", "択捉島で演習。二つ目。", "択捉島で演習。"),
        (None, "word " * 40, ("word " * 24).strip() + "…"),
    ],
)
def test_headline(title: str | None, text: str, expected: str) -> None:
    assert headline(title, text) == expected


def test_spread_dates_fall_within_the_span_newest_first() -> None:
    dates = spread_dates(229, NOW, timedelta(hours=1))
    assert len(dates) == 229
    assert all(NOW - timedelta(hours=1) < d < NOW for d in dates)
    assert dates == sorted(dates, reverse=True)
    assert all(d.microsecond == 0 for d in dates)


def test_page_plan_by_mode() -> None:
    ids = [f"k{n:03}" for n in range(120)]
    assert set(page_plan(ids, "ok").values()) == {FULL}
    blocked = page_plan(ids, "blocked")
    assert {k: list(blocked.values()).count(k) for k in BLOCKED_KINDS} == dict.fromkeys(
        BLOCKED_KINDS, 30
    )
    mixed = list(page_plan(ids, "mixed").values())
    assert mixed.count(FULL) == mixed.count(FLAKY) == 40
    assert set(page_plan(ids, "blocked", kinds=["403"]).values()) == {"403"}
    assert page_plan(ids, "mixed", seed=1) == page_plan(list(reversed(ids)), "mixed", seed=1)
    assert page_plan(ids, "mixed", seed=1) != page_plan(ids, "mixed", seed=2)
    with pytest.raises(ValueError, match="page mode"):
        page_plan(ids, "sometimes")
    with pytest.raises(ValueError, match="blocked kinds"):
        page_plan(ids, "blocked", kinds=["paywall"])


def test_feed_items_keep_the_original_order_in_time() -> None:
    items = feed_items(
        [
            raw("k1", date="2019-08-05"),
            raw("k2", date=None, title=None),
            raw("k3", date="2022-03-28", labels={"kurils_relevant": False}),
            raw("k/4", date="2022-03"),
        ],
        now=NOW,
        pages="ok",
    )
    assert [i.id for i in items] == ["k3", "k/4", "k1", "k2"]
    assert [i.published for i in items] == sorted((i.published for i in items), reverse=True)
    assert items[1].slug == "k-4"
    assert (
        items[3].title
        == "Russian forces held live-fire drills on Iturup in the southern Kuril \
Islands on Monday, the Eastern Military District…"
    )
    assert items[0].events == frozenset() and not items[0].relevant
    assert items[2].events == {"protest", "exercise"} and items[2].outlet == "Invented Wire"
    assert all(i.summary == cut_summary(DRILL) for i in items)
    with pytest.raises(ValueError, match="ids"):
        feed_items([raw("k1"), raw("k1")], now=NOW)


def test_the_rendered_feed_and_page_read_back_as_served() -> None:
    base = "http://127.0.0.1:8123"
    [item] = feed_items([raw("k1", date="2020-01-01")], now=NOW)
    [entry] = parse_feed(render_feed([item], base=base, built=NOW), base + "/rss.xml")
    assert entry.url == f"{base}/news/k1"
    assert entry.title == item.title
    assert entry.summary == item.summary
    assert entry.published_at == item.published
    article = extract_article(render_page(item, base=base), entry.url, source="s", entry=entry)
    assert article.title == item.title
    assert article.text.startswith(item.title)  # the page's <h1>, as outlets' pages have
    assert " ".join(article.text.removeprefix(item.title).split()) == " ".join(DRILL.split())
    assert article.outlet == "Invented Wire"


def story(story_id: int, *events: str, urls: tuple[str, ...] = ()) -> StoryRow:
    return StoryRow(
        id=story_id,
        title=f"story {story_id}",
        events=frozenset(events),
        urls=frozenset(urls or (f"http://x/news/s{story_id}",)),
    )


def test_named_stories_are_the_story_and_the_listed_ones_not_the_group() -> None:
    payload = {
        "kind": "also_reported",
        "events": ["exercise"],
        "story": {"id": 2, "url": "http://x/news/a", "urls": ["http://x/news/b"]},
        "group": {"id": 1, "url": "http://x/news/g"},
        "stories": [{"id": 3, "url": "http://x/news/c", "events": ["protest"]}, {"id": 4}],
    }
    named = named_stories(payload)
    assert [n.id for n in named] == [2, 3, 4]
    assert named[0].urls == {"http://x/news/a", "http://x/news/b"}
    assert [n.events for n in named] == [{"exercise"}, {"protest"}, {"exercise"}]
    assert named_stories("ok") == [] and named_stories({"kind": "alert"}) == []


def test_told_events_by_id_or_url() -> None:
    stories = [story(1, "protest"), story(2, "exercise", urls=("http://x/news/k2",))]
    payloads = [
        {"events": ["protest"], "story": {"id": 1, "url": "http://x/news/s1"}},
        {"events": ["exercise"], "story": {"id": 99, "url": "http://x/news/k2"}},
        {"events": ["protest"], "story": {"id": 77}},
        None,
    ]
    assert told_events(stories, payloads) == {1: {"protest"}, 2: {"exercise"}}


def test_score_counts_unreached_stories_and_recall() -> None:
    items = feed_items(
        [
            raw("k1"),
            raw("k2"),
            raw("k3", labels={"protest": True, "kurils_relevant": True}),
            raw("k4", labels={"kurils_relevant": True}),
        ],
        now=NOW,
        pages="blocked",
    )
    stories = [story(1, "protest", "exercise"), story(2, "protest"), story(3)]
    item_story = {"k1": 1, "k2": 1, "k3": 2, "k4": 3}
    payloads = [
        {"kind": "alert", "events": ["protest", "exercise"], "story": {"id": 1}},
        {"kind": "alert", "events": ["protest"], "story": {"id": 5}},
    ]
    verdicts = {
        "k1": frozenset({"protest", "exercise"}),
        "k2": frozenset({"exercise"}),
        "k3": frozenset({"protest"}),
        "k4": frozenset(),
    }
    report = score(items, stories, item_story, payloads, verdicts)
    assert (report.items, report.items_stored, report.stories) == (4, 4, 3)
    assert report.flagged == (1, 2)
    assert [s.id for s in report.unreached] == [2]
    assert report.unreached_by_event == {"protest": 1, "exercise": 0}
    assert report.notifications == {"alert": 2}
    protest, exercise = report.recall["protest"], report.recall["exercise"]
    assert (protest.labelled, protest.rules_test, protest.alerted) == (3, 2, 2)
    assert protest.ratio == 1.0 and protest.of_rules_test == 0.5
    assert (exercise.labelled, exercise.rules_test, exercise.alerted) == (2, 2, 2)
    assert exercise.rules_recall == exercise.alert_recall == 1.0
    empty = score(items, [], {}, [], {})
    assert empty.recall["protest"].ratio is None and empty.recall["protest"].alert_recall == 0
