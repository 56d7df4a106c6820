"""Time to alert: from a story appearing in a polled feed to its webhook arriving.

What. The daemon (`kurilwatch --log-format json run`, long-running) polls local news sites
every `--every` seconds (10 s); at a random moment an alerting story is published on one of
them (`NewsSite.add_story`: from then on the feed lists it), and the clock runs until the
local webhook receiver gets that story's first alert. The sites and the receiver are the test
suite's `tests.support.newssite.NewsSite` and `tests.support.receiver.WebhookReceiver`, in
this process (light load: a few requests a second).

The stories are the fixture stories of `tests/support/stories.py` that report an event (five:
English, Japanese and Russian; none a near-duplicate of another, each alerts under the
default rules). One story can alert only once per database, so the samples come in rounds:
each round makes a fresh database, starts one daemon with one source per story (each its own
site, `listen: "off"`, one webhook channel, `group_events: false` so that no story's alert
becomes an "also reported" update to another's), waits until every source has been polled
once, then publishes each story at an independent moment drawn uniformly from the next
`--every` seconds, waits for the alerts and stops the daemon with SIGTERM. `--samples N`
stories in all (rounds of five).

The alert of a story is the first webhook whose `story.url` / `story.urls` holds the story's
URL (or whose `story.title` is its headline); latency is `time.monotonic()` at its arrival
minus at `add_story`. Reported: p50, p95 (nearest rank), max, and the split of the median
into waiting for the next poll, the poll itself (from the daemon's `source.polled` event:
its `ts` minus `seconds`) and poll end to webhook. Target: p95 ≤ every + 2 s. Delivery uses
the daemon's default timers (a poll that stored an alert starts the drain at once);
`--fast-delivery` uses the end-to-end tests' timers (200 ms drain interval) instead.

`--page-fails N` (default 0): the first N requests for each published story's page answer
503 (`NewsSite.fail(path, 503, times=N)`, set before the story is published), so the time to
alert includes the page's retries, whatever schedule the measured code retries it on (the
site decides, so this works for any `--code`). The requests each page received are reported
too (N + 1 when the alert came from the page).

Usage: .venv/bin/python bench/time_to_alert.py [--samples 20] [--every 10] [--seed N]
           [--page-fails N] [--fast-delivery] [--code DIR] [--json]
`--code DIR` runs the daemon with PYTHONPATH=DIR in front (and imports the project and its
test support from DIR here), so an older checkout (a git worktree such as /work/before) is
measured with this venv. `--json` adds one final line of key figures (for bench/run_all.py).
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server); it
creates and drops a database per round. Exit status: 0 done, 1 an alert did not arrive.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.codepath import kurilwatch_command, kurilwatch_env, start_daemon, use_code  # noqa: E402

SLACK = 2.0
FAST_DELIVERY = {
    "interval": "200ms",
    "timeout": "5s",
    "retry_initial": "100ms",
    "retry_max": "200ms",
}


@dataclass
class Log:
    """What the drain thread has read from the daemon's stderr (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    polls: list[dict[str, Any]] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    stray: list[str] = field(default_factory=list)


def drain(stream: IO[str], log: Log) -> None:
    """Read the daemon's stderr to its end; keep the polls, count warnings and errors."""
    for line in stream:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        with log.lock:
            if not isinstance(record, dict):
                if line.strip():
                    log.stray.append(line.rstrip()[:300])
            elif record.get("event") == "source.polled":
                log.polls.append(record)
            elif record.get("level") not in ("info", "debug"):
                log.events[f"{record.get('level')}: {str(record.get('event'))[:80]}"] += 1


@dataclass(slots=True)
class Sample:
    """One story: when it appeared, when its alert came, and where the time went."""

    key: str
    source: str
    appeared: float
    """`time.monotonic()` at `add_story`."""
    appeared_wall: float
    alerted: float | None = None
    kind: str | None = None
    poll_start: float | None = None
    """Wall clock (epoch seconds) when the poll that found it started."""
    poll_end: float | None = None
    received_wall: float | None = None
    page_requests: int | None = None
    """Requests the site received for the story's page by the end of the round."""

    @property
    def latency(self) -> float | None:
        return None if self.alerted is None else self.alerted - self.appeared


def matches(payload: Any, url: str, title: str) -> bool:
    """Is this webhook body about the story at `url` (or with this headline)?"""
    story = payload.get("story") if isinstance(payload, dict) else None
    if not isinstance(story, dict):
        return False
    urls = {story.get("url"), *(story.get("urls") or ())}
    return url in urls or story.get("title") == title


def one_round(
    args: argparse.Namespace, round_: int, stories: list[Any], rng: random.Random
) -> tuple[list[Sample], Log, int]:
    """A fresh database and daemon; each story published once; its alert awaited."""
    import yaml

    from bench.benchdb import temporary_database
    from tests.support.newssite import NewsSite
    from tests.support.receiver import WebhookReceiver

    with ExitStack() as stack:
        url = stack.enter_context(temporary_database(f"kw_bench_tta{round_}"))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        rx = stack.enter_context(WebhookReceiver())
        sites = [
            stack.enter_context(NewsSite(name=f"Bench Outlet {k}")) for k in range(len(stories))
        ]
        names = [f"outlet{k}" for k in range(len(stories))]
        config: dict[str, Any] = {
            "listen": "off",
            "group_events": False,
            "sources": [
                {"name": name, "url": site.feed_url, "every": f"{args.every:g}s"}
                for name, site in zip(names, sites, strict=True)
            ],
            "channels": [{"name": "bench", "kind": "webhook", "url": rx.url}],
        }
        if args.fast_delivery:
            config["delivery"] = FAST_DELIVERY
        path = tmp / "kurilwatch.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        command = [
            *kurilwatch_command(args.code),
            "--config",
            str(path),
            "--log-format",
            "json",
            "run",
        ]
        daemon = start_daemon(command, kurilwatch_env(url, args.code))
        assert daemon.stderr is not None
        log = Log()
        reader = threading.Thread(target=drain, args=(daemon.stderr, log), daemon=True)
        reader.start()
        samples: list[Sample] = []
        try:
            _wait_first_polls(daemon, log, set(names), timeout=120)
            start = time.monotonic()
            plan = sorted((start + rng.uniform(0, args.every), k) for k in range(len(stories)))
            urls: dict[str, str] = {}
            for at, k in plan:
                time.sleep(max(0.0, at - time.monotonic()))
                if args.page_fails:
                    sites[k].fail(page_path(stories[k].key), 503, times=args.page_fails)
                urls[stories[k].key] = sites[k].add_story(stories[k])
                samples.append(Sample(stories[k].key, names[k], time.monotonic(), time.time()))
            deadline = time.monotonic() + 3 * args.every + 60
            titles = {s.key: s.title for s in stories}
            while time.monotonic() < deadline and daemon.poll() is None:
                for request in rx.received:
                    payload = request.json()
                    for sample in samples:
                        if sample.alerted is None and matches(
                            payload, urls[sample.key], titles[sample.key]
                        ):
                            sample.alerted = request.monotonic
                            sample.received_wall = request.received_at.timestamp()
                            sample.kind = payload.get("kind")
                if all(s.alerted is not None for s in samples):
                    break
                time.sleep(0.05)
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                status = daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                status = daemon.wait()
            reader.join(timeout=10)
            by_key = {s.key: site for s, site in zip(stories, sites, strict=True)}
            for sample in samples:
                sample.page_requests = by_key[sample.key].hits(page_path(sample.key))
    _attribute_polls(samples, log)
    return samples, log, status


def page_path(key: str) -> str:
    """The path `NewsSite.add_story` gives the story with this key (no slug or prefix)."""
    return f"/news/{key}"


def _wait_first_polls(
    daemon: subprocess.Popen[str], log: Log, names: set[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited with status {daemon.returncode}")
        with log.lock:
            if names <= {p.get("source") for p in log.polls}:
                return
        time.sleep(0.05)
    raise RuntimeError(f"not every source was polled within {timeout:g} s")


def _attribute_polls(samples: list[Sample], log: Log) -> None:
    """The poll of each story's source that found it: the first ending after it appeared."""
    with log.lock:
        polls = list(log.polls)
    for sample in samples:
        for poll in polls:
            end = datetime.fromisoformat(str(poll["ts"])).timestamp()
            if (
                poll.get("source") == sample.source
                and end >= sample.appeared_wall
                and poll.get("new")
            ):
                sample.poll_end = end
                sample.poll_start = end - float(poll.get("seconds") or 0.0)
                break


def nearest_rank(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="stories published in all")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--seed", type=int, help="for the moments of publication")
    parser.add_argument(
        "--page-fails",
        type=int,
        default=0,
        metavar="N",
        help="the first N requests for each story's page answer 503",
    )
    parser.add_argument("--fast-delivery", action="store_true", help="the e2e tests' timers")
    parser.add_argument("--code", type=Path, help="import kurilwatch's code from this checkout")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    if args.page_fails < 0:
        parser.error("--page-fails must be 0 or more")
    if args.code is not None and not (args.code / "scheduler" / "cli.py").is_file():
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    use_code(args.code)
    from tests.support.stories import STORIES

    alerting = [s for s in STORIES if s.expect_events]
    rng = random.Random(args.seed)
    samples: list[Sample] = []
    events: Counter[str] = Counter()
    stray: list[str] = []
    statuses: list[int] = []
    failures: list[str] = []
    rounds = math.ceil(args.samples / len(alerting))
    for round_ in range(rounds):
        stories = alerting[: min(len(alerting), args.samples - len(samples))]
        try:
            got, log, status = one_round(args, round_, stories, rng)
        except RuntimeError as exc:
            failures.append(f"round {round_ + 1}: {exc}")
            print(f"  round {round_ + 1}/{rounds}: {exc}", file=sys.stderr, flush=True)
            continue
        samples += got
        events.update(log.events)
        stray += log.stray
        statuses.append(status)
        done = [s.latency for s in got if s.latency is not None]
        print(
            f"  round {round_ + 1}/{rounds}: "
            + ", ".join(f"{x:.1f}" for x in done)
            + f" s ({len(got) - len(done)} missing)",
            file=sys.stderr,
            flush=True,
        )
    figures = report(args, samples, events, stray, statuses, failures)
    if args.json:
        print(json.dumps(figures))
    return 1 if figures["problems"] else 0


def report(
    args: argparse.Namespace,
    samples: list[Sample],
    events: Counter[str],
    stray: list[str],
    statuses: list[int],
    failures: list[str],
) -> dict[str, Any]:
    """Print the human table; return the figures for `--json`."""
    latencies = [s.latency for s in samples if s.latency is not None]
    problems = [
        f"{s.key} (round sample {i}): no alert" for i, s in enumerate(samples) if s.alerted is None
    ]
    problems += [
        f"{s.key}: first webhook is a {s.kind!r}" for s in samples if s.kind not in (None, "alert")
    ]
    problems += [f"daemon exit status {c}" for c in statuses if c != 0]
    problems += failures
    target = args.every + SLACK
    p50 = statistics.median(latencies) if latencies else math.nan
    p95 = nearest_rank(latencies, 95) if latencies else math.nan
    worst = max(latencies, default=math.nan)
    met = bool(latencies) and p95 <= target and not problems
    wait = [s.poll_start - s.appeared_wall for s in samples if s.poll_start is not None]
    poll = [s.poll_end - s.poll_start for s in samples if s.poll_end and s.poll_start]
    after = [s.received_wall - s.poll_end for s in samples if s.received_wall and s.poll_end]
    code = f" (code: {args.code})" if args.code else ""
    delivery = "e2e fast timers" if args.fast_delivery else "default timers"
    fails = f", first {args.page_fails} page requests 503" if args.page_fails else ""
    print(
        f"time_to_alert: {len(samples)} stories, polls every {args.every:g} s, "
        f"delivery {delivery}{fails}{code}"
    )
    print(f"{'alerts received':28} {len(latencies)} of {len(samples)}")
    print(f"{'p50 / p95 / max (s)':28} {p50:.2f} / {p95:.2f} / {worst:.2f}")
    print(f"{'target p95 ≤ every + 2 s':28} {target:g} s: " + ("met" if met else "NOT met"))
    if wait and poll and after:
        print(
            f"{'median split (s)':28} waiting for the poll {statistics.median(wait):.2f},"
            f" the poll {statistics.median(poll):.2f}, poll end to webhook"
            f" {statistics.median(after):.2f}"
        )
        print(
            f"{'max split (s)':28} waiting {max(wait):.2f}, poll {max(poll):.2f},"
            f" to webhook {max(after):.2f}"
        )
    print("all (s): " + ", ".join(f"{x:.1f}" for x in sorted(latencies)))
    hits = Counter(s.page_requests for s in samples if s.page_requests is not None)
    print(
        "page requests per story: "
        + ", ".join(f"{n} x{count}" for n, count in sorted(hits.items()))
    )
    if events:
        print("daemon warnings/errors: " + ", ".join(f"{k} x{v}" for k, v in events.most_common(6)))
    if stray:
        print(f"daemon stderr lines that are not JSON ({len(set(stray))} distinct), first:")
        for line in sorted(set(stray))[:5]:
            print(f"  {line}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return {
        "benchmark": "time_to_alert",
        "samples": len(samples),
        "received": len(latencies),
        "every_s": args.every,
        "page_fails": args.page_fails,
        "p50_s": round(p50, 3),
        "p95_s": round(p95, 3),
        "max_s": round(worst, 3),
        "wait_median_s": round(statistics.median(wait), 3) if wait else None,
        "poll_median_s": round(statistics.median(poll), 3) if poll else None,
        "to_webhook_median_s": round(statistics.median(after), 3) if after else None,
        "target_s": target,
        "met": met,
        "problems": problems,
        "row": {
            "benchmark": f"time to alert, {len(samples)} stories, polls every {args.every:g} s"
            + (f", pages 503 {args.page_fails}x" if args.page_fails else ""),
            "kurilwatch": f"p50 {p50:.1f} s, p95 {p95:.1f} s, max {worst:.1f} s",
            "baseline": "-",
            "figure": f"p95 {p95:.1f} s",
            "target": f"p95 ≤ {target:g} s",
            "met": met,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
