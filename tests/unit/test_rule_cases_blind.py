"""The blind rule cases are well formed.

`tests/fixtures/rule_cases_blind.jsonl` holds short news excerpts written for the project by
someone who had not seen the rules, labelled by the definitions of `../shared/eval/README.md`.
They measure how rules generalize; this test checks only the file's shape and balance, never
the rules against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.blind_cases import check_cases, read_cases, tally

BLIND = Path(__file__).resolve().parents[1] / "fixtures" / "rule_cases_blind.jsonl"
LANGUAGES = ("en", "ru", "ja")
PER_LANGUAGE = 51
MIN_PER_EVENT = 15
MIN_NEITHER = 15
MIN_KEYWORD_COLLISIONS = 5


def _items() -> list[dict[str, Any]]:
    return read_cases(BLIND)


def test_every_item_is_well_formed_with_a_unique_id_and_events_on_the_islands() -> None:
    check_cases(_items(), LANGUAGES, "blind")


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_is_balanced(language: str) -> None:
    items = [item for item in _items() if item["language"] == language]
    counts = tally(items)
    assert len(items) == PER_LANGUAGE
    assert counts["protest"] >= MIN_PER_EVENT
    assert counts["exercise"] >= MIN_PER_EVENT
    assert counts["neither"] >= MIN_NEITHER
    assert counts["collision"] >= MIN_KEYWORD_COLLISIONS
    assert counts["both"] >= 1
