"""The project's own labelled rule cases are well-formed.

`tests/fixtures/rule_cases.jsonl` holds news excerpts written for this project (not copied
from `../shared/eval`), in the format of the development sets plus a `kind` saying what each
case tests: protests and exercises worded the ways the news words them, and look-alikes that
are neither. This checks the file's shape and coverage only; whether the shipped rules pass
the cases is a separate test.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "rule_cases.jsonl"
KEYS = {"id", "title", "text", "language", "labels", "kind"}
LABELS = {"kurils_relevant", "protest", "exercise"}
LANGUAGES = {"en", "ru", "ja"}
EVENTS = ("protest", "exercise")
MIN_POSITIVES = 12  # per event and language
MIN_NEGATIVES = 15  # per language: neither event


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    """Every line of the file, parsed; a blank line is an error too."""
    lines = CASES.read_text(encoding="utf-8").splitlines()
    assert lines, f"{CASES} is empty"
    parsed = []
    for number, line in enumerate(lines, start=1):
        assert line.strip(), f"line {number} is blank"
        obj = json.loads(line)
        assert isinstance(obj, dict), f"line {number} is not a JSON object"
        parsed.append(obj)
    return parsed


def test_each_case_has_the_fields_and_types(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        where = case.get("id", case)
        assert set(case) == KEYS, f"{where}: keys {sorted(case)}"
        assert isinstance(case["id"], str) and case["id"].strip(), f"{where}: id"
        assert case["title"] is None or (
            isinstance(case["title"], str) and case["title"].strip()
        ), f"{where}: title must be null or non-empty text"
        assert isinstance(case["text"], str) and case["text"].strip(), f"{where}: empty text"
        assert case["language"] in LANGUAGES, f"{where}: language {case['language']!r}"
        assert isinstance(case["kind"], str) and case["kind"].strip(), f"{where}: kind"
        labels = case["labels"]
        assert isinstance(labels, dict) and set(labels) == LABELS, f"{where}: labels {labels}"
        assert all(type(value) is bool for value in labels.values()), f"{where}: {labels}"


def test_ids_are_unique(cases: list[dict[str, Any]]) -> None:
    repeated = [i for i, n in Counter(case["id"] for case in cases).items() if n > 1]
    assert not repeated, f"ids used more than once: {repeated}"


def test_an_event_is_always_about_the_islands(cases: list[dict[str, Any]]) -> None:
    off_topic = [
        case["id"]
        for case in cases
        if not case["labels"]["kurils_relevant"] and any(case["labels"][event] for event in EVENTS)
    ]
    assert not off_topic, f"event labelled on a story not about the Kurils: {off_topic}"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_each_language_is_covered(cases: list[dict[str, Any]], language: str) -> None:
    mine = [case for case in cases if case["language"] == language]
    for event in EVENTS:
        positives = sum(1 for case in mine if case["labels"][event])
        assert positives >= MIN_POSITIVES, f"{language}: {positives} {event} positives"
    negatives = sum(1 for case in mine if not any(case["labels"][e] for e in EVENTS))
    assert negatives >= MIN_NEGATIVES, f"{language}: {negatives} negatives"
    on_topic_negatives = sum(
        1
        for case in mine
        if case["labels"]["kurils_relevant"] and not any(case["labels"][e] for e in EVENTS)
    )
    assert on_topic_negatives > 0, f"{language}: no on-topic case without an event"
