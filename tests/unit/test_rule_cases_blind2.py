"""The second set of blind rule cases is well formed.

`tests/fixtures/rule_cases_blind2.jsonl` holds news excerpts written for the project by someone
who had seen neither the rules nor the other fixtures, weighted towards Russian and Japanese as
they are really written, and labelled by the definitions of `../shared/eval/README.md`. They
measure how rules generalize; this test checks only the file's shape and balance, never the
rules against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.blind_cases import check_cases, read_cases, tally

BLIND = Path(__file__).resolve().parents[1] / "fixtures" / "rule_cases_blind2.jsonl"
# language: (least items, least per event, least with neither event, least of each kind of neither)
BALANCE = {
    "en": (30, 10, 10, 4),
    "ru": (57, 19, 19, 5),
    "ja": (57, 19, 19, 5),
}
LANGUAGES = tuple(BALANCE)


def _items() -> list[dict[str, Any]]:
    return read_cases(BLIND)


def test_every_item_is_well_formed_with_a_unique_id_and_events_on_the_islands() -> None:
    check_cases(_items(), LANGUAGES, "b2")


def test_ids_end_in_a_two_digit_number() -> None:
    for item in _items():
        number = item["id"].rsplit("-", 1)[1]
        assert number.isdigit() and len(number) == 2, item["id"]


def test_texts_have_one_to_six_non_empty_paragraphs() -> None:
    for item in _items():
        paragraphs = item["text"].split("\n")
        assert 1 <= len(paragraphs) <= 6, item["id"]
        assert all(paragraph.strip() for paragraph in paragraphs), item["id"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_is_balanced(language: str) -> None:
    least, per_event, neither, per_kind = BALANCE[language]
    items = [item for item in _items() if item["language"] == language]
    counts = tally(items)
    assert len(items) >= least
    assert counts["protest"] >= per_event
    assert counts["exercise"] >= per_event
    assert counts["neither"] >= neither
    assert counts["collision"] >= per_kind
    assert counts["islands_without_event"] >= per_kind
    assert counts["both"] >= 1
