"""The blind rule cases are well formed.

`tests/fixtures/rule_cases_blind.jsonl` holds short news excerpts written for the project by
someone who had not seen the rules, labelled by the definitions of `../shared/eval/README.md`.
They measure how rules generalize; this test checks only the file's shape and balance, never
the rules against it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

BLIND = Path(__file__).resolve().parents[1] / "fixtures" / "rule_cases_blind.jsonl"
LANGUAGES = ("en", "ru", "ja")
LABELS = ("kurils_relevant", "protest", "exercise")
PER_LANGUAGE = 51
MIN_PER_EVENT = 15
MIN_NEITHER = 15
MIN_KEYWORD_COLLISIONS = 5


def _items() -> list[dict[str, Any]]:
    lines = BLIND.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_item_has_the_fields_and_types() -> None:
    for item in _items():
        assert set(item) == {"id", "title", "text", "language", "labels"}, item.get("id")
        assert isinstance(item["id"], str)
        assert item["title"] is None or (isinstance(item["title"], str) and item["title"])
        assert isinstance(item["text"], str) and item["text"].strip(), item["id"]
        assert item["language"] in LANGUAGES, item["id"]
        labels = item["labels"]
        assert set(labels) == set(LABELS), item["id"]
        assert all(type(labels[name]) is bool for name in LABELS), item["id"]


def test_ids_are_unique_and_name_their_language() -> None:
    items = _items()
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))
    for item in items:
        assert item["id"].startswith(f"blind-{item['language']}-"), item["id"]


def test_an_event_implies_the_islands() -> None:
    for item in _items():
        labels = item["labels"]
        if labels["protest"] or labels["exercise"]:
            assert labels["kurils_relevant"], item["id"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_is_balanced(language: str) -> None:
    items = [item for item in _items() if item["language"] == language]
    counts: Counter[str] = Counter()
    for item in items:
        labels = item["labels"]
        counts.update(name for name in LABELS if labels[name])
        if not (labels["protest"] or labels["exercise"]):
            counts["neither"] += 1
            if not labels["kurils_relevant"]:
                counts["collision"] += 1
        if labels["protest"] and labels["exercise"]:
            counts["both"] += 1
    assert len(items) == PER_LANGUAGE
    assert counts["protest"] >= MIN_PER_EVENT
    assert counts["exercise"] >= MIN_PER_EVENT
    assert counts["neither"] >= MIN_NEITHER
    assert counts["collision"] >= MIN_KEYWORD_COLLISIONS
    assert counts["both"] >= 1
