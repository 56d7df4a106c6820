"""The labelled real news as one busy feed of today: what the rules flag, does it reach a channel?

What. `../shared/eval/kurils_dev.jsonl` + `kurils_dev2.jsonl` (229 labelled excerpts of real
news, read where they lie and never copied) are served all at once as one local RSS feed on
127.0.0.1, every item dated within the last hour, with its title and a ~300-character summary,
and a page per item (`bench/eval_items.py`, `bench/eval_site.py`). `--pages` says how the
pages answer: `ok` every page gives the full text; `blocked` none does (in turn 403, a
cookie-consent wall, a JavaScript shell and a PDF; `--blocked-as 403` for 403 only);
`mixed` a third each: the full text, 503 twice and then the full text, blocked.

The real `kurilwatch` command runs on a fresh PostgreSQL database with one source (this feed)
and one webhook channel (a local receiver), `group_interval` set by `--group-interval` (1s),
so batched "also reported" notifications come within the run. By default `run --once`
repeats (`--pause` apart, at most `--max-runs`) until a run changes nothing (no page asked
for, no story stored, no webhook received), no alert is pending and every flaky page has
been served (a run that changed nothing while something is outstanding doubles the pause);
with `--wait S` one daemon (polling every `--every`) runs instead, until the same holds for
`2 × group_interval + 2 s` or S seconds have passed.

Reported (`bench/eval_report.py` says what each term means): items stored, stories, flagged
stories (an event in the database), flagged stories that reached no channel (named by no
webhook: not as its `story`, not in its `stories[]`); and per event, recall against the
labels of `kurilwatch rules test` (same code, same config) on the text the daemon could read
(the page's text where the page serves it, else the feed's title and summary) and of the
alerts, with their ratio. Targets: no flagged story unreached; ratio ≥ 0.9 for each event.

Usage: .venv/bin/python bench/eval_feed.py [--pages ok|blocked|mixed] [--blocked-as KINDS]
           [--group-interval 1s] [--max-runs 6] [--pause S] [--wait S --every 2s]
           [--seed N] [--code DIR] [--json]
`--code DIR` runs kurilwatch with DIR first on the import path (an older checkout, e.g. a
git worktree, measured with this venv). `--json` ends with one line of figures (with a
`row` for bench/run_all.py). Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the
local trust-auth server). ~10-30 s a mode. Exit status: 0 ran (targets met or not), 1 the
command failed, 2 bad usage or the eval files are missing.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.codepath import (  # noqa: E402
    kurilwatch_command,
    kurilwatch_env,
    start_daemon,
    stop_cleanly_on_signals,
    use_code,
)
from bench.eval_items import BLOCKED_KINDS, PAGE_MODES, FeedItem, feed_items  # noqa: E402
from bench.eval_report import EvalReport, StoryRow, report_json, score  # noqa: E402
from bench.eval_site import EvalSite, Receiver  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
FILES = (EVAL / "kurils_dev.jsonl", EVAL / "kurils_dev2.jsonl")
MIN_RATIO = 0.9
_URL = re.compile(r"https?://\S+")
FAST_DELIVERY = {"interval": "200ms", "timeout": "5s", "retry_initial": "100ms", "retry_max": "1s"}


@dataclass
class Logs:
    """Log events of the command, as "level: event" (the drain thread adds under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    events: Counter[str] = field(default_factory=Counter)

    def add(self, lines: IO[str] | list[str]) -> None:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                event = _URL.sub("<url>", str(record.get("event")))[:50]
                with self.lock:
                    self.events[f"{record.get('level')}: {event}"] += 1


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What has happened so far, to tell whether a run or a while changed anything."""

    stories: int
    pending: int
    page_requests: int
    received: int

    @property
    def activity(self) -> tuple[int, int, int]:
        return (self.stories, self.page_requests, self.received)


class Bench:
    """One mode's run: the database, the site, the receiver, the config and the command."""

    def __init__(self, args: argparse.Namespace, items: tuple[FeedItem, ...], stack: ExitStack):
        import sqlalchemy as sa
        import yaml

        from bench.benchdb import temporary_database
        from storage.engine import database_url

        self.args = args
        self.items = items
        self.url = stack.enter_context(temporary_database("kw_bench_evalfeed"))
        self.engine = sa.create_engine(database_url(self.url))
        stack.callback(self.engine.dispose)
        self.site = stack.enter_context(EvalSite(items, built=datetime.now(UTC)))
        self.receiver = stack.enter_context(Receiver())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        config = {
            "listen": "off",
            "group_interval": args.group_interval,
            "sources": [{"name": "evalfeed", "url": self.site.feed_url, "every": args.every}],
            "channels": [{"name": "bench", "kind": "webhook", "url": self.receiver.url}],
            "delivery": FAST_DELIVERY,
        }
        self.config = folder / "kurilwatch.yaml"
        self.config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        self.command = [
            *kurilwatch_command(args.code),
            "--config",
            str(self.config),
            "--log-format",
            "json",
        ]
        self.env = kurilwatch_env(self.url, args.code)
        self.logs = Logs()
        self.statuses: list[int] = []
        self.runs = 0
        self.settled = False

    def rules_test(self) -> dict[str, frozenset[str]]:
        """`kurilwatch rules test` on each item's readable text: item id to its events."""
        lines = [
            json.dumps(
                {
                    "id": i.id,
                    "title": i.title,
                    "text": i.text if i.serves_text else i.summary,
                    "language": i.language,
                },
                ensure_ascii=False,
            )
            for i in self.items
        ]
        done = subprocess.run(
            [*self.command, "rules", "test", "-"],
            input="\n".join(lines) + "\n",
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rules test exited {done.returncode}: {done.stderr[-500:]}")
        verdicts = {}
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                v = json.loads(line)
                verdicts[str(v["id"])] = frozenset(v["events"] if v.get("topic") else ())
        return verdicts

    def snapshot(self) -> Snapshot:
        import sqlalchemy as sa

        try:
            with self.engine.connect() as conn:
                stories = conn.execute(sa.text("SELECT count(*) FROM stories")).scalar_one()
                pending = conn.execute(
                    sa.text("SELECT count(*) FROM alerts WHERE status = 'pending'")
                ).scalar_one()
        except sa.exc.ProgrammingError:  # no tables yet: the first run migrates
            stories = pending = 0
        return Snapshot(stories, pending, self.site.page_requests(), len(self.receiver.received))

    def quiet(self, now: Snapshot) -> bool:
        return now.pending == 0 and self.site.flaky_pending() == 0

    def run_once_repeatedly(self) -> None:
        """`run --once` until a run changes nothing and nothing is outstanding.

        A run that changed nothing while alerts are pending or flaky pages unserved doubles
        the pause (up to 30 s): what is left waits for a retry that is not yet due.
        """
        pause = self.args.pause
        for _ in range(self.args.max_runs):
            before, began = self.snapshot(), time.monotonic()
            done = subprocess.run(
                [*self.command, "run", "--once"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            self.runs += 1
            self.statuses.append(done.returncode)
            self.logs.add(done.stderr.splitlines())
            after = self.snapshot()
            print(
                f"  run {self.runs}: {time.monotonic() - began:.1f} s, exit {done.returncode}, "
                f"{after.stories} stories, "
                f"{after.page_requests} page requests, {after.received} webhooks, "
                f"{after.pending} pending",
                file=sys.stderr,
                flush=True,
            )
            unchanged = after.activity == before.activity
            if done.returncode != 0 or (unchanged and self.quiet(after)):
                self.settled = done.returncode == 0
                return
            if unchanged:
                pause = min(2 * pause, 30.0)
            time.sleep(pause)

    def run_daemon(self) -> None:
        quiet_for = max(3.0, 2 * self.args.group_interval_s + 2.0)
        daemon = start_daemon([*self.command, "run"], self.env)
        assert daemon.stderr is not None
        reader = threading.Thread(target=self.logs.add, args=(daemon.stderr,), daemon=True)
        reader.start()
        self.runs = 1
        started = last_change = time.monotonic()
        last = self.snapshot()
        try:
            while time.monotonic() - started < self.args.wait and daemon.poll() is None:
                time.sleep(0.5)
                now = self.snapshot()
                if now.activity != last.activity:
                    last, last_change = now, time.monotonic()
                polled = self.site.feed_requests > 0 and now.page_requests > 0
                if polled and self.quiet(now) and time.monotonic() - last_change >= quiet_for:
                    self.settled = True
                    break
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                self.statuses.append(daemon.wait(timeout=60))
            except subprocess.TimeoutExpired:
                daemon.kill()
                self.statuses.append(daemon.wait())
            reader.join(timeout=10)
        print(
            f"  daemon: {time.monotonic() - started:.1f} s, exit {self.statuses[-1]}, "
            f"{'settled' if self.settled else 'NOT settled'}",
            file=sys.stderr,
            flush=True,
        )

    def stored(self) -> tuple[list[StoryRow], dict[str, int]]:
        """Every stored story, and which story holds each item's article (by its page path)."""
        import sqlalchemy as sa

        query = sa.text(
            "SELECT s.id, s.title, s.url, s.events, array_remove(array_agg(a.url), NULL) "
            "FROM stories s LEFT JOIN articles a ON a.story_id = s.id GROUP BY s.id"
        )
        slugs = {i.slug: i.id for i in self.items}
        stories, item_story = [], {}
        with self.engine.connect() as conn:
            for story_id, title, url, events, urls in conn.execute(query):
                stories.append(
                    StoryRow(
                        id=story_id,
                        title=title,
                        events=frozenset(events or ()),
                        urls=frozenset([url, *urls]),
                    )
                )
                for article in urls:
                    path = urlsplit(article).path
                    if path.startswith("/news/") and path[6:] in slugs:
                        item_story[slugs[path[6:]]] = story_id
        return stories, item_story


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", choices=PAGE_MODES, default="ok")
    parser.add_argument(
        "--blocked-as", default=",".join(BLOCKED_KINDS), help="blocked pages answer as these"
    )
    parser.add_argument("--group-interval", default="1s", help="the config's group_interval")
    parser.add_argument("--max-runs", type=int, default=6, help="`run --once` at most this often")
    parser.add_argument("--pause", type=float, help="seconds between runs (group interval + 1)")
    parser.add_argument("--wait", type=float, help="run one daemon for at most S seconds instead")
    parser.add_argument("--every", default="2s", help="the source's poll interval (daemon)")
    parser.add_argument("--seed", type=int, default=0, help="which pages get which answer")
    parser.add_argument("--code", type=Path, help="run kurilwatch's code from this checkout")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    missing = [str(f) for f in FILES if not f.is_file()]
    if missing:
        print(f"eval set not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.code is not None:
        args.code = args.code.resolve()
        if not (args.code / "scheduler" / "cli.py").is_file():
            parser.error(f"--code {args.code}: not a kurilwatch checkout")
    use_code(args.code)
    from kurilwatch.config import parse_duration

    args.group_interval_s = parse_duration(args.group_interval)
    if args.pause is None:
        args.pause = args.group_interval_s + 1.0
    kinds = [k.strip() for k in args.blocked_as.split(",") if k.strip()]
    raw = [
        json.loads(line)
        for path in FILES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    try:
        items = feed_items(
            raw, now=datetime.now(UTC), pages=args.pages, kinds=kinds, seed=args.seed
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop_cleanly_on_signals()
    started = time.monotonic()
    problems: list[str] = []
    with ExitStack() as stack:
        bench = Bench(args, items, stack)
        verdicts = bench.rules_test()
        if args.wait is not None:
            bench.run_daemon()
        else:
            bench.run_once_repeatedly()
        stories, item_story = bench.stored()
        payloads = [d.payload for d in bench.receiver.received]
    seconds = time.monotonic() - started
    report = score(items, stories, item_story, payloads, verdicts)
    problems += [f"kurilwatch exit status {s}" for s in bench.statuses if s != 0]
    figures = show(args, report, bench, seconds, problems)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    return 1 if problems else 0


def show(
    args: argparse.Namespace, report: EvalReport, bench: Bench, seconds: float, problems: list[str]
) -> dict[str, Any]:
    """Print the human report; return the figures for `--json`."""
    pages = Counter(i.page for i in bench.items)
    how = f"daemon up to {args.wait:g} s" if args.wait is not None else "`run --once`"
    code = f" (code: {args.code})" if args.code else ""
    print(
        f"eval_feed: {report.items} items, pages {args.pages} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(pages.items()))}), "
        f"group_interval {args.group_interval}, {bench.runs} run(s) of {how}, "
        f"{'settled' if bench.settled else 'NOT settled'}, {seconds:.1f} s{code}"
    )
    by_event = report.flagged_by_event
    unreached_by = report.unreached_by_event
    print(f"{'items stored':28} {report.items_stored} of {report.items}")
    print(f"{'stories':28} {report.stories}")
    print(
        f"{'flagged stories':28} {len(report.flagged)} "
        f"(protest {by_event['protest']}, exercise {by_event['exercise']})"
    )
    print(
        f"{'flagged, reached no channel':28} {len(report.unreached)} "
        f"(protest {unreached_by['protest']}, exercise {unreached_by['exercise']}); target 0"
    )
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.notifications.items())) or "none"
    print(f"{'notifications':28} {kinds}; marked feed text: {report.feed_text_notifications}")
    print(
        f"{'recall':10}{'labelled':>9}{'rules test':>12}{'alerts':>10}{'ratio':>7}"
        f"{'of rules-test flags':>22}"
    )
    ratios = []
    for event, r in report.recall.items():
        ratios.append(r.ratio)
        print(
            f"{event:10}{r.labelled:>9}{_share(r.rules_test, r.rules_recall):>12}"
            f"{_share(r.alerted, r.alert_recall):>10}{_num(r.ratio):>7}"
            f"{f'{r.alerted_of_flags}/{r.rules_flags}':>22}"
        )
    for story in report.unreached:
        print(f"  unreached: story {story.id} [{', '.join(sorted(story.events))}] {story.title}")
    with bench.logs.lock:
        logged = Counter(
            {
                k: v
                for k, v in bench.logs.events.items()
                if not k.startswith("info: ") or ": article." in k
            }
        )
    if logged:
        print("kurilwatch logged: " + ", ".join(f"{k} x{v}" for k, v in logged.most_common(10)))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    worst = min((r for r in ratios if r is not None), default=None)
    met = not report.unreached and worst is not None and worst >= MIN_RATIO and not problems
    recall = report.recall
    return {
        "benchmark": "eval_feed",
        "pages": args.pages,
        "group_interval": args.group_interval,
        "runs": bench.runs,
        "daemon": args.wait is not None,
        "settled": bench.settled,
        "seconds": round(seconds, 1),
        "code": str(args.code) if args.code else None,
        **report_json(report),
        "logged": dict(logged),
        "met": met,
        "problems": problems,
        "row": {
            "benchmark": f"eval feed, {report.items} real items in one hour, pages {args.pages}",
            "kurilwatch": (
                f"{len(report.flagged)} flagged stories, {len(report.unreached)} reached no "
                f"channel; alert recall protest {_num(recall['protest'].alert_recall)}, "
                f"exercise {_num(recall['exercise'].alert_recall)}"
            ),
            "baseline": (
                f"rules test: protest {_num(recall['protest'].rules_recall)}, "
                f"exercise {_num(recall['exercise'].rules_recall)}"
            ),
            "figure": f"{len(report.unreached)} unreached; lowest ratio {_num(worst)}",
            "target": f"0 unreached, ratio ≥ {MIN_RATIO}",
            "met": met,
        },
    }


def _share(count: int, ratio: float | None) -> str:
    return f"{count} {_num(ratio)}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
