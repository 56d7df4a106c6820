"""Grouping under a burst: how many flagged stories reach no channel.

What. The labelled excerpts of `../shared/eval` (`kurils_dev.jsonl`, `kurils_dev2.jsonl`; read
where they lie, never copied into the repository) are published all at once, dated now, on
`--sites` local news sites (`tests.support.newssite.NewsSite`, items dealt round-robin), and
`kurilwatch run --once` polls every site once with the shipped rules, the default grouping
(`group_window` 48 h, `group_interval` 30 min) and one webhook channel, the local
`tests.support.receiver.WebhookReceiver`. An item without a title gets its first sentence.

Then every story kurilwatch flagged with an event (`stories list --json`) is sorted into:
- sent: a webhook the receiver got names it (`story.id`, or an entry of `stories`);
- waiting: a pending outbox row names it (an "also reported" batch due when the group's
  interval ends; the next run or the daemon sends it);
- dead: only a dead outbox row names it;
- none: no notification names it. This is what the issue counted (11 of 60) and must be 0.
Also printed: `kurilwatch status --json`'s `unnotified` when the checkout has it.
`--group-interval 10s --finish` sets a short interval, then waits until the last pending row
is due (the time the outbox holds) and runs once more, so the waiting batches are sent too.

`--show-groups` prints each notification naming a group: the group's first story and the
stories listed. `--pairs` only scores the key terms (no database): of the pairs of items that
share an event type, how many of one `story_group` and how many of different groups reach
`GROUP_THRESHOLD`, i.e. would group if they arrived within `group_window` of each other.

Usage: .venv/bin/python bench/grouping_burst.py [--sites 10] [--group-interval D] [--finish]
           [--show-groups] [--pairs] [--code DIR] [--json]
`--code DIR` runs the command with PYTHONPATH=DIR (an older checkout, e.g. `git archive` of
the commit before). Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local
trust-auth server); it creates and drops one database. Exit status: 0 done, 1 a flagged story
reached no channel, 2 the eval files are absent.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.codepath import kurilwatch_command, kurilwatch_env, use_code  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
FILES = ("kurils_dev.jsonl", "kurils_dev2.jsonl")
_SENTENCE = re.compile(r"^(.{20,200}?[.!?。])(?:\s|$)", re.S)


def load_items() -> list[dict[str, Any]]:
    """Every labelled item of the eval files, in file order."""
    return [
        json.loads(line)
        for name in FILES
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def as_story(item: dict[str, Any]) -> Any:
    """The item as a fixture story the local news site can publish."""
    from tests.support.stories import FixtureStory

    labels = item.get("labels") or {}
    events = frozenset(e for e in ("protest", "exercise") if labels.get(e))
    text = str(item["text"]).strip()
    found = _SENTENCE.match(text)
    title = item.get("title") or (found.group(1) if found else text[:120])
    return FixtureStory(
        key=str(item["id"]),
        title=str(title),
        paragraphs=tuple(p.strip() for p in text.split("\n\n") if p.strip()),
        language=str(item.get("language") or "en"),
        expect_topic=bool(labels.get("kurils_relevant")) or bool(events),
        expect_events=events,
    )


def pairs() -> str:
    """Key-term similarity over the eval pairs that share an event type."""
    from itertools import combinations

    from alerts.grouping import GROUP_THRESHOLD, key_terms, similarity

    items = load_items()
    terms = {item["id"]: key_terms(item.get("title"), item["text"]) for item in items}
    same, other = [0, 0], [0, 0]
    for a, b in combinations(items, 2):
        if not any(a["labels"].get(e) and b["labels"].get(e) for e in ("protest", "exercise")):
            continue
        score = similarity(terms[a["id"]], terms[b["id"]])
        tally = same if a["story_group"] and a["story_group"] == b["story_group"] else other
        tally[0] += 1
        tally[1] += score >= GROUP_THRESHOLD
    return (
        f"key terms at {GROUP_THRESHOLD}: pairs of one story group grouped {same[1]}/{same[0]}, "
        f"pairs of different groups grouped {other[1]}/{other[0]}"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Serve the burst, run once, and sort the flagged stories by what names them."""
    import yaml

    from bench.benchdb import temporary_database
    from tests.support.newssite import NewsSite
    from tests.support.receiver import WebhookReceiver

    stories = [as_story(item) for item in load_items()]
    with ExitStack() as stack:
        url = stack.enter_context(temporary_database("kw_bench_burst"))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        rx = stack.enter_context(WebhookReceiver())
        sites = [stack.enter_context(NewsSite(name=f"Outlet {k}")) for k in range(args.sites)]
        for i, story in enumerate(stories):
            sites[i % len(sites)].add_story(story)
        config: dict[str, Any] = {
            "listen": "off",
            "sources": [{"name": f"outlet{k}", "url": s.feed_url} for k, s in enumerate(sites)],
            "channels": [{"name": "desk", "kind": "webhook", "url": rx.url}],
        }
        if args.group_interval:
            config["group_interval"] = args.group_interval
        path = tmp / "kurilwatch.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        env = kurilwatch_env(url, args.code)
        base = [*kurilwatch_command(args.code), "--config", str(path), "--log-format", "json"]

        def command(*argv: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [*base, *argv], env=env, capture_output=True, text=True, timeout=900
            )
            if done.returncode != 0:
                raise SystemExit(f"kurilwatch {' '.join(argv)} failed: {done.stderr[-2000:]}")
            return done

        command("run", "--once")
        if args.finish:
            outbox = json.loads(command("alerts", "list", "--json", "--limit", "100000").stdout)
            due = [a["next_attempt_at"] for a in outbox if a["status"] == "pending"]
            if due:
                last = max(datetime.fromisoformat(d) for d in due)
                time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 0.1)
                command("run", "--once")
        stored = json.loads(command("stories", "list", "--json", "--limit", "100000").stdout)
        outbox = json.loads(command("alerts", "list", "--json", "--limit", "100000").stdout)
        status = json.loads(command("status", "--json").stdout)
        payloads = [r.json() for r in rx.received]
    sent: set[int] = set()
    kinds: dict[str, int] = {}
    for body in payloads:
        kinds[body.get("kind", "?")] = kinds.get(body.get("kind", "?"), 0) + 1
        sent.add(body["story"]["id"])
        sent.update(s["id"] for s in body.get("stories") or ())
    pending = {a["story_id"] for a in outbox if a["status"] == "pending"}
    dead = {a["story_id"] for a in outbox if a["status"] == "dead"}
    flagged = [s for s in stored if s["events"]]
    none = [s for s in flagged if s["id"] not in sent | pending | dead]
    return {
        "items": len(stories),
        "stories": len(stored),
        "flagged": len(flagged),
        "sent": sum(1 for s in flagged if s["id"] in sent),
        "waiting": sum(1 for s in flagged if s["id"] in pending - sent),
        "dead": sum(1 for s in flagged if s["id"] in dead - sent - pending),
        "none": len(none),
        "none_titles": [s["title"][:80] for s in none],
        "groups": [
            (b["group"]["title"][:70], b["kind"], [x["title"][:70] for x in b.get("stories") or ()])
            for b in payloads
            if b.get("group")
        ],
        "notifications": kinds,
        "unnotified": status.get("unnotified"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--group-interval", default=None, help="e.g. 10s (default: 30m)")
    parser.add_argument("--finish", action="store_true", help="send the waiting batches too")
    parser.add_argument("--pairs", action="store_true", help="score the key terms only")
    parser.add_argument("--show-groups", action="store_true", help="print who grouped with whom")
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not all((EVAL / name).exists() for name in FILES):
        print(f"{EVAL}: the eval files are absent (they live beside the repository)")
        return 2
    use_code(args.code)
    if args.pairs:
        print(pairs())
        return 0
    result = run(args)
    print(
        f"{result['items']} items -> {result['stories']} stories, {result['flagged']} flagged: "
        f"{result['sent']} sent, {result['waiting']} waiting for their batch, "
        f"{result['dead']} dead, {result['none']} named by no notification"
    )
    print(f"notifications: {result['notifications']}; status unnotified: {result['unnotified']}")
    for title in result["none_titles"]:
        print(f"  none: {title}")
    if args.show_groups:
        for first, kind, listed in result["groups"]:
            print(f"  {kind} to: {first}")
            for title in listed:
                print(f"      {title}")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("none_titles", "groups")}))
    return 1 if result["none"] else 0


if __name__ == "__main__":
    sys.exit(main())
