"""Measure the topic gate and the event rules against a labelled JSON Lines file.

Usage:
    python bench/eval_rules.py [FILE ...] [--part all|dev|aside] [--rules RULES.yaml]
        [--window N] [--mix]

FILE defaults to ../shared/eval/kurils_dev.jsonl (from the repository root); several files are
scored as one set. `--part` keeps a fixed quarter of the items aside while rules are written:
`aside` scores only the items whose id's SHA-1 begins with 0-3, `dev` only the others. Each
line is an object with `id`, `title`, `text`, `language` and `labels` (`kurils_relevant`,
`protest`, `exercise`); lines without a label are scored on the labels they have. Prints precision,
recall, F1 and TP/FP/FN per label (counted by `alerts.score`, as `kurilwatch rules test`
counts them), the ids of false positives and negatives, the same figures per language, and
the mean time per article. `--rules` takes a YAML file in the form of alerts/default_rules.yaml.

`--mix` also measures sentence scoping: it joins the text of every item that is off topic
(a Senkaku protest, drills in the Sea of Japan, a labor rally) with every on-topic item that
lacks the event, in both orders, and counts the events reported for these joined articles
(all of them false: the event is not about the islands). Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from alerts.rules import (  # noqa: E402
    DEFAULT_WINDOW,
    RuleSet,
    compile_rules,
    load_default_rules,
    match_article,
    rules_from_mapping,
)
from alerts.score import (  # noqa: E402
    TOPIC,
    Scored,
    labels_truth,
    language_table,
    predicted_labels,
    score,
    score_table,
)

DEFAULT_FILE = ROOT.parent / "shared" / "eval" / "kurils_dev.jsonl"
LABELS = (TOPIC, "protest", "exercise")


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the table; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="*", type=Path, default=[DEFAULT_FILE])
    parser.add_argument("--part", choices=("all", "dev", "aside"), default="all")
    parser.add_argument("--rules", type=Path, help="YAML rules file (default: the shipped rules)")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="sentences per window")
    parser.add_argument("--mix", action="store_true", help="also score joined look-alike articles")
    args = parser.parse_args(argv)
    for path in args.file:
        if not path.is_file():
            print(f"no such file: {path}", file=sys.stderr)
            return 2
    if args.rules:
        watch, rules = rules_from_mapping(
            yaml.safe_load(args.rules.read_text(encoding="utf-8")), origin=str(args.rules)
        )
    else:
        watch, rules = load_default_rules()
    ruleset = compile_rules(watch, rules, window=args.window)

    items = [
        json.loads(line)
        for path in args.file
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if args.part != "all":
        items = [i for i in items if (part_of(i.get("id")) == args.part)]
    judged: list[Scored] = []
    elapsed = 0.0
    for item in items:
        started = time.perf_counter()
        match = match_article(
            ruleset,
            title=item.get("title"),
            text=item.get("text") or "",
            language=item.get("language"),
        )
        elapsed += time.perf_counter() - started
        judged.append(
            Scored(
                id=item.get("id"),
                truth=labels_truth(item.get("labels") or {}),
                predicted=predicted_labels(match.topic, match.events),
                language=item.get("language"),
            )
        )
    scores = score(judged, LABELS)

    names = " ".join(str(p) for p in args.file)
    print(f"{names}  ({len(items)} items, part {args.part}, window {args.window})\n")
    print("\n".join(score_table(scores)))
    print()
    for s in scores.overall:
        for ids, title in (
            (s.false_positives, "false positives"),
            (s.false_negatives, "false negatives"),
        ):
            if ids:
                print(f"{s.label} {title}: {' '.join(map(str, ids))}")
    print("\nper language:")
    print("\n".join(language_table(scores)))
    if items:
        print(f"\nmean time per article: {elapsed / len(items) * 1000:.2f} ms")
    if args.mix:
        _mix(ruleset, items)
    return 0


def part_of(item_id: object) -> str:
    """`aside` for the fixed quarter of ids kept aside while rules are written, else `dev`."""
    digest = hashlib.sha1(str(item_id).encode("utf-8")).hexdigest()
    return "aside" if digest[0] in "0123" else "dev"


def _mix(ruleset: RuleSet, items: list[dict[str, Any]]) -> None:
    """Print the false events reported for on-topic items joined with off-topic look-alikes."""
    outside = [i for i in items if not (i.get("labels") or {}).get("kurils_relevant", True)]
    inside = [i for i in items if (i.get("labels") or {}).get("kurils_relevant")]
    print("\njoined articles (off-topic look-alike + on-topic item without the event):")
    for event in ("protest", "exercise"):
        tried = wrong = 0
        culprits: dict[str, int] = {}
        for a in outside:
            for b in (i for i in inside if not i["labels"].get(event)):
                for first, second in ((a, b), (b, a)):
                    text = f"{first.get('title') or ''}\n{first['text']}\n{second['text']}"
                    match = match_article(ruleset, title=None, text=text)
                    tried += 1
                    if event in match.events:
                        wrong += 1
                        culprits[a["id"]] = culprits.get(a["id"], 0) + 1
        print(
            f"  {event:<9} {wrong:>4} false of {tried:>4}"
            f"  ({', '.join(f'{k}: {v}' for k, v in sorted(culprits.items())) or 'none'})"
        )


if __name__ == "__main__":
    sys.exit(main())
