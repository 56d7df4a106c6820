"""Exact-dedup fingerprints and canonical URLs."""

from __future__ import annotations

import pytest

from crawler.canonical import canonical_url
from storage.fingerprint import content_hash, normalize_text

BODY = "Japan lodged a protest with Russia over drills on Etorofu, officials said Monday."


@pytest.mark.parametrize(
    "copy",
    [
        BODY,
        f"TOKYO (Kyodo) -- {BODY}",
        f"TOKYO, March 28 (Kyodo) - {BODY}",
        BODY.replace("protest", "“protest”").upper(),
        f"{BODY}\n\n© 2026 Kyodo News. All rights reserved.",
        f"  {BODY}  \n\nAdvertisement\n",
        "Japan lodged a protest with Russia over drills on Etorofu, officials said Monday!",
    ],
)
def test_wire_copies_share_a_fingerprint(copy: str) -> None:
    assert content_hash(copy) == content_hash(BODY)


RU = "Японская сторона выразила протест в связи с учениями на Итурупе."


@pytest.mark.parametrize(
    "copy",
    [f"МОСКВА, 27 ноября. /ТАСС/. {RU}", f"ЮЖНО-САХАЛИНСК, 27 ноя — РИА Новости. {RU}"],
)
def test_russian_wire_datelines_are_folded(copy: str) -> None:
    assert content_hash(copy) == content_hash(RU)


def test_different_stories_differ() -> None:
    assert content_hash(BODY) != content_hash(BODY.replace("Etorofu", "Kunashiri"))


def test_normalization_folds_width_and_case() -> None:
    assert normalize_text("ＫＵＲＩＬ Islands") == "kuril islands"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTP://News.Example.ORG:80/a/b?utm_source=x&id=2&fbclid=1#top",
            "http://news.example.org/a/b?id=2",
        ),
        ("https://example.org/story?b=2&a=1", "https://example.org/story?a=1&b=2"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/x?gclid=abc&utm_medium=rss", "https://example.org/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
