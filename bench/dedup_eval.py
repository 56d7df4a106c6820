"""Story clustering on the labelled development set, through the real ingest path.

Ingests every item of ../shared/eval/kurils_dev.jsonl (texts read where they lie) into a
fresh database with `storage.articles.ingest_article`, in file order, then reports:
- near_duplicate groups: how many items with the same `story_group` and `dup_type`
  `near_duplicate` ended in one story;
- cross-group merges: stories that hold items of different story groups (must be 0);
- same_event items (rewrites of one event) that were merged (expected: not merged).

Usage: .venv/bin/python bench/dedup_eval.py [FILE]
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import temporary_database  # noqa: E402
from kurilwatch.model import Article  # noqa: E402
from storage.articles import ingest_article  # noqa: E402
from storage.engine import database_url, upgrade_schema  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "eval" / "kurils_dev.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    with temporary_database("kw_bench_dedup") as url:
        engine = sa.create_engine(database_url(url))
        upgrade_schema(engine)
        now = datetime.now(UTC)
        story_of: dict[str, int | None] = {}
        for item in items:
            article = Article(
                url=item["url"] if item["url"] else f"https://eval.invalid/{item['id']}",
                source="eval",
                title=item["title"] or item["text"][:80],
                text=item["text"],
                language=item["language"],
            )
            result = ingest_article(engine, article, events=(), plan=lambda _: (), now=now)
            story_of[item["id"]] = result.story_id
        engine.dispose()
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)

    def group(item: dict[str, object]) -> str:  # an item with no group is a group of its own
        return str(item.get("story_group") or f"alone:{item['id']}")

    for item in items:
        groups[group(item)].append(item)
    near_pairs = merged_near = same_pairs = merged_same = 0
    for members in groups.values():
        for a, b in combinations(members, 2):
            same_story = story_of[str(a["id"])] == story_of[str(b["id"])]
            if a.get("dup_type") == b.get("dup_type") == "near_duplicate":
                near_pairs += 1
                merged_near += same_story
            elif "same_event" in (a.get("dup_type"), b.get("dup_type")):
                same_pairs += 1
                merged_same += same_story
    by_story: dict[int | None, set[str]] = defaultdict(set)
    for item in items:
        by_story[story_of[item["id"]]].add(group(item))
    cross = sum(1 for s, g in by_story.items() if s is not None and len(g) > 1)
    stories = len({s for s in story_of.values() if s is not None})
    print(f"items {len(items)}, stories {stories}")
    print(f"near_duplicate pairs in one story: {merged_near}/{near_pairs}")
    print(f"same_event pairs merged: {merged_same}/{same_pairs} (rewrites: expected apart)")
    print(f"stories holding items of different story groups: {cross}")


if __name__ == "__main__":
    main()
