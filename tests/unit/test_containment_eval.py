"""Containment on real excerpts: the labelled development sets, read where they lie.

`../shared/eval/kurils_dev.jsonl` and `kurils_dev2.jsonl` (from the repository root) hold real
news excerpts that belong to their publishers; they are never copied here. Every item's feed
text (its title and first 300 characters) must be contained in the item and found by its
anchors; no item may reach the threshold inside an item of another story group, as a whole
text or as a summary. `python bench/containment.py` prints the measurements.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from storage.containment import CONTAIN_THRESHOLD, body_shingles, contain_print, containment
from tests.support.syndicate import feed_summary

EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "eval"
FILES = (EVAL / "kurils_dev.jsonl", EVAL / "kurils_dev2.jsonl")

pytestmark = pytest.mark.skipif(
    not all(path.is_file() for path in FILES), reason=f"labelled development sets not in {EVAL}"
)


@pytest.fixture(scope="module")
def items() -> list[dict[str, Any]]:
    """Every item, with its file-scoped story group and the headline-free shingle sets."""
    loaded = []
    for path in FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            group = item.get("story_group")
            item["group"] = f"{path.name}:{group}" if group else f"alone:{item['id']}"
            title = item["title"] or ""
            summary = feed_summary(item["text"])
            item["feed"] = f"{title}\n\n{summary}" if title else summary
            item["full_set"] = body_shingles(title, item["text"])
            item["feed_set"] = body_shingles(title, item["feed"])
            loaded.append(item)
    return loaded


def test_every_feed_text_is_contained_in_its_item_and_shares_an_anchor(
    items: list[dict[str, Any]],
) -> None:
    for item in items:
        if len(item["text"]) <= 320:
            continue
        assert containment(item["feed_set"], item["full_set"]) >= 0.95, item["id"]
        full = contain_print(item["title"] or "", item["text"])
        feed = contain_print(item["title"] or "", item["feed"])
        if feed is not None and full is not None:
            assert set(feed.anchors) & set(full.anchors), item["id"]


def test_no_item_reaches_the_threshold_in_another_story(items: list[dict[str, Any]]) -> None:
    highest = 0.0
    for a, b in itertools.combinations(items, 2):
        if a["group"] == b["group"]:
            continue
        for x, y in ((a["full_set"], b["full_set"]), (a["feed_set"], b["full_set"])):
            highest = max(highest, containment(x, y))
        highest = max(highest, containment(b["feed_set"], a["full_set"]))
    assert highest < CONTAIN_THRESHOLD - 0.25
