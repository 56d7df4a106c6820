"""The third and fourth sets of blind rule cases are well formed and balanced.

`tests/fixtures/rule_cases_blind3.jsonl` and `rule_cases_blind4.jsonl` hold news excerpts
written for the project by people who had seen neither the rules nor the other fixtures,
labelled by the project's definitions of a protest and an exercise. They stress precision as
much as recall: in each language about half the items are articles about the islands, or
keyword collisions, that report neither a new protest nor a new exercise (the fourth adds
earlier protests told as background, local grievances on the islands, and disputes
elsewhere). These tests check only the files' shape and balance, never the rules against
them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.blind_cases import check_cases, read_cases, tally

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# file: (id prefix, per language: least items, least per event, least with neither event,
# least collisions, least about the islands without an event)
SETS = {
    "rule_cases_blind3.jsonl": ("b3", (50, 12, 25, 8, 15)),
    "rule_cases_blind4.jsonl": ("b4", (50, 12, 22, 8, 12)),
}
LANGUAGES = ("en", "ru", "ja")


def _items(name: str) -> list[dict[str, Any]]:
    return read_cases(FIXTURES / name)


@pytest.mark.parametrize("name", SETS)
def test_every_item_is_well_formed_with_a_unique_id_and_events_on_the_islands(name: str) -> None:
    check_cases(_items(name), LANGUAGES, SETS[name][0])


@pytest.mark.parametrize("name", SETS)
def test_ids_end_in_a_two_digit_number(name: str) -> None:
    for item in _items(name):
        number = item["id"].rsplit("-", 1)[1]
        assert number.isdigit() and len(number) == 2, item["id"]


@pytest.mark.parametrize("name", SETS)
def test_texts_have_one_to_six_non_empty_paragraphs(name: str) -> None:
    for item in _items(name):
        paragraphs = item["text"].split("\n")
        assert 1 <= len(paragraphs) <= 6, item["id"]
        assert all(paragraph.strip() for paragraph in paragraphs), item["id"]


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_is_balanced(name: str, language: str) -> None:
    least, per_event, neither, collisions, islands_only = SETS[name][1]
    items = [item for item in _items(name) if item["language"] == language]
    counts = tally(items)
    assert len(items) >= least
    assert counts["protest"] >= per_event
    assert counts["exercise"] >= per_event
    assert counts["neither"] >= neither
    assert counts["collision"] >= collisions
    assert counts["islands_without_event"] >= islands_only
    assert counts["both"] >= 1
