"""Containment: summaries, excerpts and cut copies join their story; other stories do not.

Tables of cases over the fixture stories (tests/support/stories.py) and the look-alike pairs
of test_near_duplicates.py: a feed's title and 300-character summary against the full text
(in both the forms a feed-text article may take), copies with a sentence cut, a new headline
and a footer, and pairs of different stories about the same islands that must stay apart.
`python bench/containment.py` measures the parameters on real excerpts.
"""

from __future__ import annotations

import itertools

import pytest

from storage.containment import (
    ANCHOR_LEAD,
    ANCHOR_WINDOW,
    CONTAIN_THRESHOLD,
    MIN_CONTAINED,
    Container,
    anchor_hash,
    best_container,
    body_shingles,
    body_text,
    contain_print,
    containment,
    winnow,
)
from storage.fingerprint import SHINGLE, near_print, similarity
from tests.support.stories import STORIES, FixtureStory
from tests.support.syndicate import (
    cut_sentence,
    feed_summary,
    lead_headline,
    sentences,
    with_footer,
)
from tests.unit.test_near_duplicates import LOOKALIKES

ON_TOPIC = tuple(s for s in STORIES if s.expect_topic)


def _score(title_a: str, text_a: str, title_b: str, text_b: str) -> float:
    return containment(body_shingles(title_a, text_a), body_shingles(title_b, text_b))


def _joins(title_a: str, text_a: str, title_b: str, text_b: str) -> bool:
    """Whether a text (a) stored first and a new one (b) end in one story by containment."""
    a, b = contain_print(title_a, text_a), contain_print(title_b, text_b)
    if a is None or b is None or not set(a.anchors) & set(b.anchors):
        return False
    found = best_container(b.shingles, [Container(1, 7, a.shingles)])
    return found.story_id == 7


# how a feed-text article may hold the entry: (its text, the least containment expected); a
# headline run into the summary stays in it and costs its shingles
FEED_FORMS = {
    "title, blank line, summary": (lambda s: f"{s.title}\n\n{feed_summary(s.text)}", 0.95),
    "title on a line": (lambda s: f"{s.title}\n{feed_summary(s.text)}", 0.95),
    "summary only": (lambda s: feed_summary(s.text), 0.95),
    "title run in": (lambda s: f"{s.title}. {feed_summary(s.text)}", 0.7),
}


@pytest.mark.parametrize("form", FEED_FORMS)
@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.key)
def test_a_feed_summary_joins_the_full_text_in_either_order(story: FixtureStory, form: str) -> None:
    make, least = FEED_FORMS[form]
    feed_text = make(story)
    assert _score(story.title, feed_text, story.title, story.text) >= least
    assert _joins(story.title, feed_text, story.title, story.text)  # feed text first
    assert _joins(story.title, story.text, story.title, feed_text)  # full text first


def test_a_summary_is_far_below_the_near_duplicate_threshold() -> None:
    # why containment is needed at all: the bands and Jaccard never join these
    story = STORIES[0]
    summary, full = near_print(feed_summary(story.text)), near_print(story.text)
    assert summary is not None and full is not None
    assert similarity(summary.signature, full.signature) < 0.35


CUTS = {
    "first sentence": 0,
    "middle sentence": None,
    "last sentence": -1,
}


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.key)
def test_a_cut_copy_with_a_new_headline_and_a_footer_joins(story: FixtureStory, cut: str) -> None:
    index = CUTS[cut]
    if index is None:
        index = len(sentences(story.text)) // 2
    copy_text = with_footer(cut_sentence(story.text, index), "Hokkaido Daily")
    headline = lead_headline(story.text)
    assert _score(story.title, story.text, headline, copy_text) >= CONTAIN_THRESHOLD
    assert _joins(story.title, story.text, headline, copy_text)
    assert _joins(headline, copy_text, story.title, story.text)


def test_an_excerpt_of_the_first_paragraphs_joins() -> None:
    for story in ON_TOPIC:
        if len(story.paragraphs) < 3:
            continue
        excerpt = "\n\n".join(story.paragraphs[:2])
        assert _joins(story.title, story.text, story.title, excerpt), story.key


@pytest.mark.parametrize(
    ("name", "language", "a", "b"), LOOKALIKES, ids=[case[0] for case in LOOKALIKES]
)
def test_look_alike_stories_stay_apart(name: str, language: str, a: str, b: str) -> None:
    assert _score("", a, "", b) < CONTAIN_THRESHOLD - 0.1
    assert not _joins("", a, "", b)
    assert not _joins("", feed_summary(a), "", b)
    assert not _joins("", feed_summary(b), "", a)


@pytest.mark.parametrize(
    ("first", "second"),
    list(itertools.permutations(ON_TOPIC, 2)),
    ids=[f"{a.key}~{b.key}" for a, b in itertools.permutations(ON_TOPIC, 2)],
)
def test_different_kuril_stories_stay_apart(first: FixtureStory, second: FixtureStory) -> None:
    summary = f"{first.title}\n\n{feed_summary(first.text)}"
    assert _score(first.title, summary, second.title, second.text) < 0.2
    assert not _joins(first.title, first.text, second.title, second.text)
    assert not _joins(second.title, second.text, first.title, summary)


def test_a_headline_on_its_own_first_line_is_left_out() -> None:
    assert body_text("Japan protests drills", "Japan protests drills\n\nTokyo said so.") == (
        "tokyo said so"
    )
    # a dateline after the headline is folded as at the start of any text
    assert body_text("Japan protests", "Japan protests\nTOKYO (Kyodo) -- Tokyo said so.") == (
        "tokyo said so"
    )
    # a lead that starts with the headline's words keeps them
    assert body_text("Japan protests", "Japan protests drills. Tokyo said so.") == (
        "japan protests drills tokyo said so"
    )
    assert body_text("", "Tokyo said so.") == "tokyo said so"


def test_texts_under_min_contained_shingles_take_no_part() -> None:
    words = [f"w{i}" for i in range(MIN_CONTAINED + SHINGLE - 1)]
    assert contain_print("", " ".join(words)) is not None
    assert contain_print("", " ".join(words[:-1])) is None
    assert contain_print("", "") is None
    # the headline does not count towards the size
    assert contain_print(" ".join(words[:10]), " ".join(words[:-1])) is None


def test_a_shared_run_of_window_plus_shingle_words_shares_an_anchor() -> None:
    run = [f"shared{i}" for i in range(ANCHOR_WINDOW + SHINGLE - 1)]
    for offset in range(0, 150, 7):
        a = [f"a{i}" for i in range(offset)] + run + [f"a{i}" for i in range(offset, 60)]
        b = [f"b{i}" for i in range(40)] + run + [f"b{i}" for i in range(40, 90)]
        pa, pb = contain_print("", " ".join(a)), contain_print("", " ".join(b))
        assert pa is not None and pb is not None
        assert set(pa.anchors) & set(pb.anchors), offset


def test_only_the_lead_is_anchored() -> None:
    words = [f"w{i}" for i in range(ANCHOR_LEAD + 400)]
    full = contain_print("", " ".join(words))
    lead = contain_print("", " ".join(words[: ANCHOR_LEAD + SHINGLE - 1]))
    tail = contain_print("", " ".join(words[ANCHOR_LEAD + 100 :]))
    assert full is not None and lead is not None and tail is not None
    assert full.anchors == lead.anchors
    assert len(full.shingles) == ANCHOR_LEAD + 400 - SHINGLE + 1  # checked whole
    assert not set(full.anchors) & set(tail.anchors)


def test_winnow_keeps_each_window_minimum() -> None:
    assert winnow([], 3) == set()
    assert winnow([5, 2], 3) == {2}
    assert winnow([5, 1, 4, 3, 6, 2], 3) == {1, 3, 2}
    assert winnow([5, 1, 4, 3, 6, 2], 1) == {5, 1, 4, 3, 6, 2}


def test_anchor_hashes_are_pinned() -> None:
    # stored anchors stay comparable only while the hash stays the same
    assert anchor_hash(b"japan lodged a protest with") == 1209981716229638021


def test_containment_is_over_the_smaller_set() -> None:
    small, large = frozenset({b"a", b"b"}), frozenset({b"a", b"c", b"d", b"e"})
    assert containment(small, large) == containment(large, small) == 0.5
    assert containment(frozenset(), large) == 0.0


def _set(prefix: str, n: int) -> frozenset[int]:
    return frozenset(hash(f"{prefix}{i}") for i in range(n))


CASES = [
    # (name, new text, candidates (story, shingles), story joined, reason)
    ("nothing stored", _set("a", 40), [], None, "none"),
    ("a summary inside an article", _set("a", 40), [(7, _set("a", 200))], 7, "contained"),
    ("an article holding a summary", _set("a", 200), [(7, _set("a", 40))], 7, "contained"),
    ("half inside", _set("a", 40) | _set("x", 40), [(7, _set("a", 200))], None, "none"),
    (
        "contained in two stories: the closest in size",
        _set("a", 40),
        [(7, _set("a", 400)), (8, _set("a", 60))],
        8,
        "contained",
    ),
    (
        "a roundup holding two stories' summaries",
        _set("a", 40) | _set("b", 40) | _set("r", 20),
        [(7, _set("a", 40)), (8, _set("b", 40))],
        None,
        "ambiguous",
    ),
    (
        "sharing a template's boilerplate with two stories",
        _set("t", 50) | _set("q", 10),
        [(7, _set("t", 50) | _set("x", 10)), (8, _set("t", 50) | _set("y", 10))],
        None,
        "ambiguous",
    ),
    (
        "holding two copies of one story",
        _set("a", 100),
        [(7, _set("a", 40)), (7, _set("a", 60))],
        7,
        "contained",
    ),
    (
        "the shorter side too short",
        _set("a", 200),
        [(7, _set("a", MIN_CONTAINED - 1))],
        None,
        "none",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "candidates", "story", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_best_container(
    name: str,
    text: frozenset[int],
    candidates: list[tuple[int, frozenset[int]]],
    story: int | None,
    reason: str,
) -> None:
    decided = best_container(
        text, [Container(i, s, shingles) for i, (s, shingles) in enumerate(candidates)]
    )
    assert (decided.story_id, decided.reason) == (story, reason)
    if story is not None:
        assert decided.score is not None and decided.score >= CONTAIN_THRESHOLD
