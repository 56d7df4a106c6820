"""Many sources on a schedule: sustained polls, sources polled on time, time to alert.

What. The bench site (`bench.site.Site`: aiohttp in a subprocess) serves `--sources` feeds
(`/scale/<i>.xml`, empty at first) on `--hosts` loopback addresses, each answering 304 to a
matching conditional GET (after `--latency` seconds, if given), and logs every feed request
(source, user agent, start, end). `--daemons` kurilwatch daemons (`kurilwatch --log-format
json run`, each with its own user agent, `listen: off`, one webhook channel to a local
receiver, `group_events: false`), optionally each pinned to a CPU list with `taskset -c`
(`--cpus 0,1`), share one fresh database and poll every source every `--every` seconds.

After `--warmup` seconds (default: one interval and 20 s; the first poll of each source
reads the feed whole), a window of `--minutes` is measured. In it, `--stories` new alerting
stories a minute are published, each in a random source's feed at a random moment
(`POST /_publish/<i>`; the site writes each story afresh, so none is a near-duplicate of
another), and the time from publishing to the story's webhook arriving is taken. After the
window, publishing stops and the daemons run on for `--every` + 30 s so the last stories
can alert; then they get SIGTERM.

Reported, from the site's request log inside the window: sustained polls a second against
the schedule's rate (sources / every; APScheduler's jitter adds 5 % to the interval on
average), the share of sources polled on time (no gap in the window, from its start to the
first poll, between polls, or from the last poll to its end, longer than every × 1.1 + 2 s),
the gap between two polls of a source (p50, p95, max); each daemon's polls, CPU (cores) and
RSS (its extraction workers included); time to alert p50 / p95 / max (target: p95 ≤ every +
2 s), stories that never alerted, and alerts that came twice for one story. With several
daemons: requests for one source that overlapped in time from two daemons (must be 0: a
source is polled by one daemon at a time) and how many sources more than one daemon polled.

`--profile FILE` records the first daemon with py-spy for the window (a test tool here;
collapsed stacks, `--profile-rate` samples a second) and prints the functions that hold the
most samples, own and inclusive. `--set KEY=VALUE` (repeatable) sets a configuration key
(`crawl.max_polls=64`). `--code DIR` runs another checkout's code with this venv.
`--json` adds one final line of key figures.

Usage: .venv/bin/python bench/poll_scale.py [--sources 10000] [--every 60] [--hosts 20]
           [--minutes 30] [--warmup S] [--stories 3] [--latency 0] [--daemons 1]
           [--cpus 0,1] [--site-cpus LIST] [--profile FILE] [--set KEY=VALUE]
           [--code DIR] [--json]
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server); it
creates and drops a database of its own. Exit status: 0 done, 1 a check failed (a daemon
died, a story never alerted or alerted twice, or two daemons polled one source at once).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.codepath import (  # noqa: E402
    kurilwatch_command,
    kurilwatch_env,
    start_daemon,
    stop_cleanly_on_signals,
    use_code,
)
from bench.time_to_alert import nearest_rank  # noqa: E402

JITTER = 0.05  # each poll comes up to 5 % of `every` early or late (daemon.poll_trigger)
SLACK = 2.0
AGENT = "kw-bench-daemon-{}"


@dataclass
class DaemonLog:
    """What one daemon's stderr said so far (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    polls: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """Poll errors by message (first 80 characters)."""
    events: Counter[str] = field(default_factory=Counter)
    """Warnings and errors other than failed polls, by event."""
    seconds: list[float] = field(default_factory=list)


def drain(stream: IO[str], log: DaemonLog) -> None:
    """Read a daemon's stderr to its end, counting polls, warnings and errors."""
    for line in stream:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        with log.lock:
            if not isinstance(record, dict):
                if line.strip():
                    log.events["(not json)"] += 1
                continue
            event = str(record.get("event", ""))
            if event == "source.polled":
                log.polls += 1
                log.seconds.append(float(record.get("seconds") or 0.0))
                if not record.get("ok", True):
                    log.failed += 1
                    log.errors[str(record.get("error"))[:80]] += 1
            elif record.get("level") not in ("info", "debug"):
                log.events[f"{record.get('level')}: {event[:70]}"] += 1


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds and RSS of a process and its children at one moment."""

    at: float
    cpu: float
    rss_kib: int
    children_kib: int


def usage(pid: int) -> Usage | None:
    """/proc says: CPU seconds (user + system) so far, VmRSS, and the children's VmRSS."""
    from bench.memory import look

    sample = look(pid, time.monotonic(), 0)
    if sample is None:
        return None
    return Usage(sample.seconds, sample.cpu, sample.rss, sample.children)


@dataclass(frozen=True, slots=True)
class Hit:
    """One feed request the site logged."""

    source: int
    agent: str
    start: float
    end: float
    status: int


def read_log(path: Path) -> list[Hit]:
    """The site's request log (complete lines only)."""
    hits = []
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            hits.append(
                Hit(int(parts[0]), parts[1], float(parts[2]), float(parts[3]), int(parts[4]))
            )
    return hits


@dataclass(slots=True)
class Story:
    """One published story and when its alert(s) came."""

    source: int
    url: str
    title: str
    published: float
    alerts: list[float] = field(default_factory=list)


def set_key(config: dict[str, Any], assignment: str) -> None:
    """Apply one `--set a.b=value` (the value read as YAML) to `config`."""
    import yaml

    key, _, value = assignment.partition("=")
    *path, last = key.split(".")
    node = config
    for part in path:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between polls")
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=30.0, help="the measured window")
    parser.add_argument("--warmup", type=float, help="seconds before it (every + 20 s)")
    parser.add_argument("--stories", type=float, default=3.0, help="new stories a minute")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds a feed takes")
    parser.add_argument("--daemons", type=int, default=1)
    parser.add_argument("--cpus", help="taskset -c CPU lists, one per daemon, comma-separated")
    parser.add_argument("--site-cpus", help="taskset -c CPU list for the site")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of daemon 1")
    parser.add_argument("--profile-rate", type=int, default=50)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-log", type=Path, help="copy the site's request log here")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--code", type=Path, help="import kurilwatch's code from this checkout")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    if args.code is not None and not (args.code / "scheduler" / "cli.py").is_file():
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    cpus = args.cpus.split(",") if args.cpus else []
    if cpus and len(cpus) != args.daemons:
        parser.error("--cpus needs one CPU list per daemon")
    if args.warmup is None:
        args.warmup = args.every + 20.0
    stop_cleanly_on_signals()
    use_code(args.code)
    from bench.benchdb import temporary_database
    from bench.site import Site
    from tests.support.receiver import WebhookReceiver

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kw_poll_scale_")))
        journal = tmp / "requests.log"
        site = stack.enter_context(
            Site(hosts=args.hosts, latency=args.latency, log=journal, cpus=args.site_cpus)
        )
        receiver = stack.enter_context(WebhookReceiver())
        url = stack.enter_context(temporary_database("kw_bench_poll_scale"))
        return run(args, cpus, tmp, journal, site, receiver, url)
    return 1  # not reached (ExitStack does not swallow)


def run(
    args: argparse.Namespace,
    cpus: list[str],
    tmp: Path,
    journal: Path,
    site: Any,
    receiver: Any,
    url: str,
) -> int:
    import yaml

    env = kurilwatch_env(url, args.code)
    sources = [
        {
            "name": f"s{i:05d}",
            "url": site.url(f"/scale/{i}.xml", host=i),
            "every": f"{args.every:g}s",
        }
        for i in range(args.sources)
    ]
    daemons: list[subprocess.Popen[str]] = []
    logs: list[DaemonLog] = []
    readers: list[threading.Thread] = []
    for number in range(args.daemons):
        config: dict[str, Any] = {
            "listen": "off",
            "group_events": False,
            "sources": sources,
            "channels": [{"name": "bench", "kind": "webhook", "url": receiver.url}],
            "crawl": {"user_agent": AGENT.format(number + 1)},
        }
        for assignment in args.set:
            set_key(config, assignment)
        path = tmp / f"kurilwatch-{number + 1}.yaml"
        path.write_text(yaml.safe_dump(config))
        command = [*kurilwatch_command(args.code), "--config", str(path), "--log-format", "json"]
        command.append("run")
        if cpus:
            command = ["taskset", "-c", cpus[number], *command]
        daemon = start_daemon(command, env)
        assert daemon.stderr is not None
        log = DaemonLog()
        reader = threading.Thread(target=drain, args=(daemon.stderr, log), daemon=True)
        reader.start()
        daemons.append(daemon)
        logs.append(log)
        readers.append(reader)
    rng = random.Random(args.seed)
    stories: list[Story] = []
    profile: subprocess.Popen[bytes] | None = None
    started = time.monotonic()
    problems: list[str] = []
    try:
        died = _sleep_until(started + args.warmup, daemons)
        window_start = time.monotonic()
        window_end = window_start + args.minutes * 60
        first = [u for u in (usage(d.pid) for d in daemons) if u is not None]
        if args.profile is not None and not died:
            profile = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(daemons[0].pid),
                    "--duration",
                    str(round(args.minutes * 60)),
                    "--rate",
                    str(args.profile_rate),
                    "--format",
                    "raw",
                    "--output",
                    str(args.profile),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        peaks = [0] * len(daemons)
        publish_at = _moments(rng, window_start, window_end - 5, args.stories)
        while not died and time.monotonic() < window_end:
            now = time.monotonic()
            while publish_at and publish_at[0] <= now:
                publish_at.pop(0)
                i = rng.randrange(args.sources)
                before = time.monotonic()
                story = site.publish(i)
                stories.append(Story(i, story["url"], story["title"], before))
            for n, d in enumerate(daemons):
                u = usage(d.pid)
                if u is not None:
                    peaks[n] = max(peaks[n], u.rss_kib + u.children_kib)
            died = _sleep_until(min(now + 1.0, window_end), daemons)
        last = [u for u in (usage(d.pid) for d in daemons) if u is not None]
        if died:
            problems.append(died)
        else:  # the last stories' polls and alerts
            _sleep_until(time.monotonic() + args.every * (1 + 2 * JITTER) + 30, daemons)
    finally:
        for d in daemons:
            if d.poll() is None:
                d.send_signal(signal.SIGTERM)
        for d in daemons:
            try:
                d.wait(timeout=60)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
        for reader in readers:
            reader.join(timeout=10)
        if profile is not None:
            profile.send_signal(signal.SIGINT)
            try:
                profile.wait(timeout=60)
            except subprocess.TimeoutExpired:
                profile.kill()
    for received in receiver.received:
        try:
            body = received.json()
        except ValueError:
            continue
        story_of = body.get("story") if isinstance(body, dict) else None
        if not isinstance(story_of, dict):
            continue
        urls = {story_of.get("url"), *(story_of.get("urls") or ())}
        for story in stories:
            if story.url in urls or story_of.get("title") == story.title:
                story.alerts.append(received.monotonic)
    figures = report(
        args, journal, logs, stories, window_start, window_end, first, last, peaks, problems
    )
    if args.keep_log is not None:
        shutil.copyfile(journal, args.keep_log)
    if args.profile is not None and args.profile.exists():
        summarize_profile(args.profile)
    if args.json:
        print(json.dumps(figures))
    return 1 if figures["problems"] else 0


def _moments(rng: random.Random, start: float, end: float, per_minute: float) -> list[float]:
    """Publishing moments: a Poisson process of `per_minute`, between start and end."""
    moments = []
    at = start
    while per_minute > 0:
        at += rng.expovariate(per_minute / 60)
        if at >= end:
            break
        moments.append(at)
    return moments


def _sleep_until(moment: float, daemons: list[subprocess.Popen[str]]) -> str:
    """Sleep until `moment`, watching the daemons; the reason if one exited."""
    while True:
        for n, d in enumerate(daemons, 1):
            if d.poll() is not None:
                return f"daemon {n} exited with status {d.returncode}"
        left = moment - time.monotonic()
        if left <= 0:
            return ""
        time.sleep(min(left, 0.5))


def report(
    args: argparse.Namespace,
    journal: Path,
    logs: list[DaemonLog],
    stories: list[Story],
    start: float,
    end: float,
    first: list[Usage],
    last: list[Usage],
    peaks: list[int],
    problems: list[str],
) -> dict[str, Any]:
    """Read the site's log, print the table; the figures for `--json`."""
    hits = read_log(journal)
    span = max(1e-9, min(end, max((h.end for h in hits), default=end)) - start)
    inside = [h for h in hits if start <= h.start < end]
    rate = len(inside) / span
    scheduled = args.sources / (args.every)
    by_source: dict[int, list[Hit]] = defaultdict(list)
    for h in hits:
        by_source[h.source].append(h)
    allowed = args.every * 1.1 + SLACK
    on_time = 0
    gaps: list[float] = []
    overlaps = 0
    shared = 0
    for i in range(args.sources):
        mine = sorted(by_source.get(i, []), key=lambda h: h.start)
        moments = [start, *(h.start for h in mine if start <= h.start < end), end]
        steps = [b - a for a, b in itertools.pairwise(moments)]
        on_time += max(steps) <= allowed
        gaps += steps[1:-1]
        if len({h.agent for h in mine}) > 1:
            shared += 1
        for a, b in itertools.pairwise(mine):
            if b.start < a.end and a.agent != b.agent:
                overlaps += 1
    statuses = Counter(h.status for h in inside)
    latencies = [s.alerts[0] - s.published for s in stories if s.alerts]
    never = [s for s in stories if not s.alerts]
    doubled = [s for s in stories if len(s.alerts) > 1]
    if never:
        problems.append(f"{len(never)} of {len(stories)} stories never alerted")
    if doubled:
        problems.append(f"{len(doubled)} stories alerted more than once")
    if overlaps:
        problems.append(f"{overlaps} requests of one source overlapped from two daemons")
    p95 = nearest_rank(latencies, 95) if latencies else 0.0
    gap95 = nearest_rank(gaps, 95) if gaps else 0.0
    cores = [(b.cpu - a.cpu) / max(1e-9, b.at - a.at) for a, b in zip(first, last, strict=False)]
    print(
        f"poll_scale: {args.sources} sources every {args.every:g} s on {args.hosts} loopback hosts"
        f" (latency {args.latency * 1000:g} ms), {args.daemons} daemon(s)"
        + (f" on CPUs {args.cpus}" if args.cpus else "")
        + (f", {' '.join(args.set)}" if args.set else "")
    )
    load = os.getloadavg()
    rows = [
        ("window (after warm-up)", f"{span:.0f} s (warm-up {args.warmup:g} s)"),
        ("load average at the end", f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"),
        ("polls / s sustained (schedule)", f"{rate:.1f} ({scheduled:.1f})"),
        ("answers in the window", ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items()))),
        ("sources polled on time", f"{on_time / args.sources:.1%} (gap ≤ {allowed:.0f} s)"),
        (
            "gap between polls of a source",
            f"p50 {statistics.median(gaps) if gaps else 0:.1f} s, p95 {gap95:.1f}"
            f" s, max {max(gaps, default=0):.1f} s",
        ),
        (
            "time to alert",
            f"p50 {statistics.median(latencies) if latencies else 0:.1f} s, p95 {p95:.1f} s, max"
            f" {max(latencies, default=0):.1f} s ({len(latencies)} of {len(stories)} stories;"
            f" target p95 ≤ {args.every + SLACK:g} s)",
        ),
        ("stories alerted twice", str(len(doubled))),
    ]
    if args.daemons > 1:
        rows += [
            ("overlapping polls of a source by two daemons", str(overlaps)),
            ("sources polled by more than one daemon", str(shared)),
        ]
    for n, log in enumerate(logs):
        with log.lock:
            polls, failed = log.polls, log.failed
            seconds = list(log.seconds)
            errors = log.errors.most_common(3)
            events = log.events.most_common(4)
        own = sum(1 for h in inside if h.agent == AGENT.format(n + 1))
        rows.append(
            (
                f"daemon {n + 1}",
                f"{own / span:.1f} polls/s in the window, {polls} polls logged ({failed} failed),"
                f" {cores[n] if n < len(cores) else 0:.2f} cores, peak RSS"
                f" {peaks[n] / 1024:.0f} MiB with workers, poll p50"
                f" {statistics.median(seconds) if seconds else 0:.3f} s p95"
                f" {nearest_rank(seconds, 95) if seconds else 0:.3f} s",
            )
        )
        if errors:
            rows.append(("  poll errors", "; ".join(f"{k} x{v}" for k, v in errors)))
        if events:
            rows.append(("  warnings/errors", "; ".join(f"{k} x{v}" for k, v in events)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return {
        "benchmark": "poll_scale",
        "sources": args.sources,
        "every_s": args.every,
        "hosts": args.hosts,
        "daemons": args.daemons,
        "latency_s": args.latency,
        "window_s": round(span, 1),
        "load": [round(x, 2) for x in load],
        "polls_per_s": round(rate, 2),
        "scheduled_per_s": round(scheduled, 2),
        "on_time": round(on_time / args.sources, 4),
        "gap_p95_s": round(gap95, 2),
        "alert_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "alert_p95_s": round(p95, 2) if latencies else None,
        "stories": len(stories),
        "never_alerted": len(never),
        "doubled": len(doubled),
        "overlaps": overlaps,
        "shared": shared,
        "cores": [round(c, 3) for c in cores],
        "peak_rss_mib": [round(p / 1024, 1) for p in peaks],
        "problems": problems,
        "row": {
            "benchmark": f"{args.sources} sources every {args.every:g} s, {args.daemons} daemon(s)",
            "kurilwatch": f"{rate:.1f} polls/s, {on_time / args.sources:.0%} on time",
            "baseline": f"schedule {scheduled:.1f}/s",
            "figure": f"alert p95 {p95:.1f} s",
            "target": f"p95 ≤ {args.every + SLACK:g} s",
            "met": bool(latencies) and p95 <= args.every + SLACK and not problems,
        },
    }


def summarize_profile(path: Path, top: int = 25) -> None:
    """The functions holding the most samples in py-spy's collapsed stacks, own and total."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(f"profile: {samples} samples in {path}")
    print("  own:")
    for frame, n in own.most_common(top):
        print(f"    {n / samples:6.1%}  {frame[:150]}")
    print("  inclusive:")
    for frame, n in total.most_common(top):
        print(f"    {n / samples:6.1%}  {frame[:150]}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as stop:
        print(f"poll_scale: stopped by {stop or 'SIGINT'}", file=sys.stderr)
        sys.exit(130)
