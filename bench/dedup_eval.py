"""Story clustering on the labelled development sets, through the real ingest path.

Usage: .venv/bin/python bench/dedup_eval.py [FILE ...] [--code DIR]

FILE defaults to ../shared/eval/kurils_dev.jsonl and kurils_dev2.jsonl (texts read where they
lie, never copied; a story group is a group within its file). `--code DIR` imports the
measured code (`storage.*`, `kurilwatch.*`) from DIR, e.g. an older checkout, with this venv.
Each scenario ingests into a fresh database with `storage.articles.ingest_article`:

- eval: every item, in file order. Reported: near_duplicate pairs (same group, both
  `near_duplicate`) in one story; same_event pairs (rewrites of one event) merged; stories
  holding items of different story groups (false merges: must be 0).
- copies (first / middle / last): every item, then, for each item of five or more sentences,
  a copy as an outlet makes it: the headline rewritten from the lead, one sentence cut (the
  first, the middle or the last one: a scenario each) and a footer added, under its own URL
  (tests/support/syndicate.py). Reported: copies that split off as a story of their own, for
  the 11 such items of kurils_dev.jsonl (the issue's "4 of 11" figure) and for all files;
  false merges.
- feed text: every item and its feed-text article (the title, a blank line and the first 300
  characters, as a feed entry gives them: `feed_summary`), the feed text first for every
  other item and after the full text for the rest. Reported: feed texts of items longer
  than their summary that split off; false merges; same_event pairs merged.

Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the fixtures' helpers come from this checkout, whatever --code says
from tests.support.syndicate import (  # noqa: E402
    cut_sentence,
    feed_summary,
    lead_headline,
    sentences,
    with_footer,
)


def _code_option(argv: list[str]) -> str | None:
    """`--code DIR` from the command line, read before the measured modules are imported."""
    for index, arg in enumerate(argv):
        if arg == "--code" and index + 1 < len(argv):
            return os.path.abspath(argv[index + 1])
        if arg.startswith("--code="):
            return os.path.abspath(arg.split("=", 1)[1])
    return None


CODE = _code_option(sys.argv[1:])
if CODE is not None:
    sys.path.insert(0, CODE)

import sqlalchemy as sa  # noqa: E402

from bench.benchdb import temporary_database  # noqa: E402
from kurilwatch.model import Article  # noqa: E402
from storage.articles import ingest_article  # noqa: E402
from storage.engine import database_url, upgrade_schema  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
DEFAULT = (EVAL / "kurils_dev.jsonl", EVAL / "kurils_dev2.jsonl")
ISSUE_FILE = "kurils_dev.jsonl"  # the issue measured its 11 items of five or more sentences
MIN_SENTENCES = 5
SUMMARY_CHARS = 300
CUTS = ("first", "middle", "last")


@dataclass(frozen=True, slots=True)
class Doc:
    """One article to ingest: its key, the eval item it comes from, headline and text."""

    key: str
    item: str
    title: str
    text: str


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The items of the files, each with `file` and a file-scoped `group`."""
    items = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                item["file"] = path.name
                group = item.get("story_group")
                item["group"] = f"{path.name}:{group}" if group else f"alone:{item['id']}"
                items.append(item)
    return items


def original(item: dict[str, Any]) -> Doc:
    return Doc(item["id"], item["id"], item["title"] or item["text"][:80], item["text"])


def cut_copy(item: dict[str, Any], cut: str) -> Doc:
    """The item as an outlet runs it: new headline, one sentence cut, a footer."""
    text = item["text"]
    index = {"first": 0, "middle": len(sentences(text)) // 2, "last": -1}[cut]
    body = with_footer(cut_sentence(text, index), "Hokkaido Daily")
    return Doc(f"{item['id']}~cut-{cut}", item["id"], lead_headline(text), body)


def feed_text(item: dict[str, Any]) -> Doc:
    """The item as a feed-text article: its title and the first 300 characters."""
    title = item["title"] or ""
    summary = feed_summary(item["text"], SUMMARY_CHARS)
    text = f"{title}\n\n{summary}" if title else summary
    return Doc(f"{item['id']}~feed", item["id"], title or summary[:80], text)


def ingest_all(docs: list[Doc], by_id: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    """Ingest the documents in order into a fresh database; the story of each key."""
    story_of: dict[str, int | None] = {}
    with temporary_database("kw_bench_dedup") as url:
        engine = sa.create_engine(database_url(url))
        upgrade_schema(engine)
        now = datetime.now(UTC)
        for doc in docs:
            article = Article(
                url=f"https://eval.invalid/{doc.key}",
                source="eval",
                title=doc.title,
                text=doc.text,
                language=by_id[doc.item]["language"],
            )
            result = ingest_article(engine, article, events=(), plan=lambda _: (), now=now)
            story_of[doc.key] = result.story_id
        engine.dispose()
    return story_of


def false_merges(docs: list[Doc], by_id: dict[str, dict[str, Any]], story_of: dict) -> int:
    """Stories holding documents of different story groups."""
    groups: dict[int | None, set[str]] = defaultdict(set)
    for doc in docs:
        groups[story_of[doc.key]].add(by_id[doc.item]["group"])
    return sum(1 for story, held in groups.items() if story is not None and len(held) > 1)


def pair_counts(items: list[dict[str, Any]], story_of: dict) -> tuple[int, int, int, int]:
    """(near_duplicate pairs merged, of, same_event pairs merged, of) among the originals."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        members[item["group"]].append(item)
    near = merged_near = same = merged_same = 0
    for group in members.values():
        for a, b in combinations(group, 2):
            together = story_of[a["id"]] == story_of[b["id"]]
            if a.get("dup_type") == b.get("dup_type") == "near_duplicate":
                near += 1
                merged_near += together
            elif "same_event" in (a.get("dup_type"), b.get("dup_type")):
                same += 1
                merged_same += together
    return merged_near, near, merged_same, same


def split_off(pairs: list[tuple[Doc, Doc]], story_of: dict) -> list[str]:
    """The keys of derived documents that did not end in their original's story."""
    return [d.key for o, d in pairs if story_of[d.key] != story_of[o.key]]


def scenario(
    name: str,
    items: list[dict[str, Any]],
    derive: Callable[[dict[str, Any]], Doc | None],
    *,
    alternate: bool = False,
) -> dict[str, Any]:
    """Ingest the originals and their derived documents; the figures of one scenario."""
    by_id = {item["id"]: item for item in items}
    docs = [original(item) for item in items]
    pairs = []
    for index, item in enumerate(items):
        derived = derive(item)
        if derived is None:
            continue
        pairs.append((docs[index], derived))
    if alternate:  # the derived document first for every other item
        order: list[Doc] = []
        for index, item in enumerate(items):
            own = [d for o, d in pairs if o.item == item["id"]]
            order.extend([*own, docs[index]] if index % 2 == 0 else [docs[index], *own])
        all_docs = order
    else:
        all_docs = docs + [d for _, d in pairs]
    story_of = ingest_all(all_docs, by_id)
    lost = split_off(pairs, story_of)
    issue = [key for key in lost if by_id[key.split("~")[0]]["file"] == ISSUE_FILE]
    issue_total = sum(1 for o, _ in pairs if by_id[o.item]["file"] == ISSUE_FILE)
    return {
        "scenario": name,
        "stories": len({s for s in story_of.values() if s is not None}),
        "documents": len(all_docs),
        "derived": len(pairs),
        "split": len(lost),
        "split_keys": lost,
        "issue_split": len(issue),
        "issue_total": issue_total,
        "false_merges": false_merges(all_docs, by_id, story_of),
        "pairs": pair_counts(items, story_of),
    }


def long_enough(item: dict[str, Any]) -> bool:
    return len(sentences(item["text"])) >= MIN_SENTENCES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT))
    parser.add_argument("--code", metavar="DIR", help="import the measured code from DIR")
    args = parser.parse_args()
    items = load(args.files)
    results = [scenario("eval", items, lambda _: None)]
    for cut in CUTS:
        results.append(
            scenario(
                f"copies, {cut} sentence cut",
                items,
                lambda item, c=cut: cut_copy(item, c) if long_enough(item) else None,  # type: ignore[misc]
            )
        )
    results.append(
        scenario(
            "feed text (title + 300 chars)",
            items,
            lambda item: feed_text(item) if len(item["text"]) > SUMMARY_CHARS + 20 else None,
            alternate=True,
        )
    )
    files = ", ".join(path.name for path in args.files)
    print(f"{len(items)} items of {files}; code: {CODE or ROOT}")
    print(
        f"{'scenario':32} {'docs':>5} {'stories':>7} {'split off':>11} "
        f"{'of ' + ISSUE_FILE:>22} {'false merges':>12} {'near-dup':>8} {'same_event':>10}"
    )
    for r in results:
        merged_near, near, merged_same, same = r["pairs"]
        split = f"{r['split']}/{r['derived']}" if r["derived"] else "-"
        issue = f"{r['issue_split']}/{r['issue_total']}" if r["derived"] else "-"
        print(
            f"{r['scenario']:32} {r['documents']:>5} {r['stories']:>7} {split:>11} {issue:>22}"
            f" {r['false_merges']:>12} {f'{merged_near}/{near}':>8} "
            f"{f'{merged_same}/{same}':>10}"
        )
    print(
        "split off: derived copies not in their original's story; false merges: stories"
        " holding items of different story groups (must be 0); near-dup: near_duplicate pairs"
        " in one story; same_event: rewrites of one event merged"
    )
    for r in results:
        if r["split_keys"]:
            print(f"  {r['scenario']}: {', '.join(r['split_keys'])}")


if __name__ == "__main__":
    main()
