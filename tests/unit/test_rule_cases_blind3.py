"""The third set of blind rule cases is well formed.

`tests/fixtures/rule_cases_blind3.jsonl` holds news excerpts written for the project by someone
who had seen neither the rules nor the other fixtures, labelled by the definitions of
`../shared/eval/README.md`. It stresses precision as much as recall: in each language about half
the items are articles about the islands, or keyword collisions, that report neither a new
protest nor a new exercise. This test checks only the file's shape and balance, never the rules
against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.blind_cases import check_cases, read_cases, tally

BLIND = Path(__file__).resolve().parents[1] / "fixtures" / "rule_cases_blind3.jsonl"
# language: (least items, least per event, least with neither event, least collisions,
# least about the islands without an event)
BALANCE = {
    "en": (50, 12, 25, 8, 15),
    "ru": (50, 12, 25, 8, 15),
    "ja": (50, 12, 25, 8, 15),
}
LANGUAGES = tuple(BALANCE)


def _items() -> list[dict[str, Any]]:
    return read_cases(BLIND)


def test_every_item_is_well_formed_with_a_unique_id_and_events_on_the_islands() -> None:
    check_cases(_items(), LANGUAGES, "b3")


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
    least, per_event, neither, collisions, islands_only = BALANCE[language]
    items = [item for item in _items() if item["language"] == language]
    counts = tally(items)
    assert len(items) >= least
    assert counts["protest"] >= per_event
    assert counts["exercise"] >= per_event
    assert counts["neither"] >= neither
    assert counts["collision"] >= collisions
    assert counts["islands_without_event"] >= islands_only
    assert counts["both"] >= 1
