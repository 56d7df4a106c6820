"""The shipped rules against the labelled development set, read where it lies.

`../shared/eval/kurils_dev.jsonl` (from the repository root) holds real news excerpts that
belong to their publishers; they are never copied here. Each label must reach precision
0.85 and recall 0.70. `python bench/eval_rules.py` prints the full table with the ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerts.rules import compile_rules, load_default_rules, match_article

DEV_SET = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "kurils_dev.jsonl"
MIN_PRECISION = 0.85
MIN_RECALL = 0.70

pytestmark = pytest.mark.skipif(
    not DEV_SET.is_file(), reason=f"labelled development set not found at {DEV_SET}"
)


@pytest.fixture(scope="module")
def outcomes() -> list[tuple[dict[str, bool], dict[str, bool]]]:
    """(truth, prediction) per item, keyed by label."""
    ruleset = compile_rules(*load_default_rules())
    pairs = []
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item: dict[str, Any] = json.loads(line)
        match = match_article(
            ruleset, title=item.get("title"), text=item["text"], language=item.get("language")
        )
        labels = item["labels"]
        truth = {
            "topic": labels["kurils_relevant"],
            "protest": labels["protest"],
            "exercise": labels["exercise"],
        }
        predicted = {
            "topic": match.topic,
            "protest": "protest" in match.events,
            "exercise": "exercise" in match.events,
        }
        pairs.append((truth, predicted))
    return pairs


@pytest.mark.parametrize("label", ["topic", "protest", "exercise"])
def test_precision_and_recall(
    outcomes: list[tuple[dict[str, bool], dict[str, bool]]], label: str
) -> None:
    tp = sum(1 for t, p in outcomes if t[label] and p[label])
    fp = sum(1 for t, p in outcomes if not t[label] and p[label])
    fn = sum(1 for t, p in outcomes if t[label] and not p[label])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    assert tp + fn > 0, f"no positive {label} items in the set"
    assert precision >= MIN_PRECISION, f"{label}: precision {precision:.3f} (TP {tp}, FP {fp})"
    assert recall >= MIN_RECALL, f"{label}: recall {recall:.3f} (TP {tp}, FN {fn})"
