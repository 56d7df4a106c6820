"""Reading and tallying the blind rule case files (`tests/fixtures/rule_cases_blind*.jsonl`).

Shared by the tests that check those files' shape and balance; nothing here runs rules.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

LABELS = ("kurils_relevant", "protest", "exercise")


def read_cases(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of a JSON Lines file, parsed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def check_cases(items: list[dict[str, Any]], languages: tuple[str, ...], prefix: str) -> None:
    """Assert that every case has exactly the blind-case fields, typed as the format says,
    an id unique in the file that starts `{prefix}-{language}-`, and `kurils_relevant` true
    wherever an event is."""
    ids = [item.get("id") for item in items]
    assert len(ids) == len(set(ids)), "ids repeat"
    for item in items:
        assert set(item) == {"id", "title", "text", "language", "labels"}, item.get("id")
        assert isinstance(item["id"], str)
        assert item["title"] is None or (isinstance(item["title"], str) and item["title"])
        assert isinstance(item["text"], str) and item["text"].strip(), item["id"]
        assert item["language"] in languages, item["id"]
        assert item["id"].startswith(f"{prefix}-{item['language']}-"), item["id"]
        labels = item["labels"]
        assert set(labels) == set(LABELS), item["id"]
        assert all(type(labels[name]) is bool for name in LABELS), item["id"]
        if labels["protest"] or labels["exercise"]:
            assert labels["kurils_relevant"], item["id"]


def tally(items: list[dict[str, Any]]) -> Counter[str]:
    """Count each label, `neither` event, `collision` (neither and not about the islands),
    `islands_without_event` (neither but about the islands) and `both` events."""
    counts: Counter[str] = Counter()
    for item in items:
        labels = item["labels"]
        counts.update(name for name in LABELS if labels[name])
        if not (labels["protest"] or labels["exercise"]):
            counts["neither"] += 1
            kind = "islands_without_event" if labels["kurils_relevant"] else "collision"
            counts[kind] += 1
        if labels["protest"] and labels["exercise"]:
            counts["both"] += 1
    return counts
