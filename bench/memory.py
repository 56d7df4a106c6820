"""Memory stays flat: the daemon's resident size over many scheduled crawl cycles.

Serves the fixture stories from local news sites, each on a loopback address of its own
(127.0.0.1, 127.0.0.2, …: the daemon is polite per host, and 200 sources on one host would
be paced by AutoThrottle and `concurrency_per_domain`, not by their schedule), starts ONE
`kurilwatch run` daemon (`listen: off`, no channels) on a fresh database with `--sources`
feed sources, each a distinct URL (`<site feed>?s=<i>`, spread over the sites) polled every
`--every` seconds, and samples the daemon's VmRSS from /proc/<pid>/status every second. A
cycle is `--sources` `source.polled` events; after `--cycles` cycles the daemon gets SIGTERM.
After the first cycle every poll is a conditional GET answered 304, the steady state of a
real deployment.

Reports the RSS at the end of the warm-up (`--warmup` cycles), at the end, the peak (sampled,
and the kernel's VmHWM), the growth after warm-up, the least-squares slope of RSS over polls
after warm-up, the polls per second achieved against the schedule's rate, the gap between two
polls of one source, and whether the scheduler kept up: APScheduler's "was missed by" and
"skipped: maximum number of running instances" warnings, and the daemon's own
`source.poll_skipped` events, counted from its stderr (drained by a thread as it runs).

The issue's figure (200 sources every 10 s for 500 cycles) takes 5000 s. The defaults keep
its 500 cycles and a little more than its 19 polls a second, with 40 sources every 1.5 s
(~24 polls/s; about 14 minutes). The daemon polls at most ~45 unchanged feeds a second on
the 2-core CI machine (one event loop, ~16 ms of CPU a poll), so 200 sources every 2 s
(~95/s) cannot keep up. `--sources 200 --every 10 --cycles 80` is the issue's load for
80 cycles in the same time.

The peak is set at start-up, not by growth: the daemon first polls every source at once, and
each crawl in flight holds ~0.27 MiB that the allocator keeps afterwards (~200 MiB with 20
sources, ~265 MiB with 200, ~305 MiB with 400), so the peak scales with `--sources`.

Usage: .venv/bin/python bench/memory.py [--sources 40] [--every 1.5] [--cycles 500]
       [--warmup 50] [--sites 20] [--stories 3] [--max-minutes 16] [--code DIR] [--json]
`--code DIR` runs the daemon with PYTHONPATH=DIR in front (and imports the project and its
test support from DIR here), so an older checkout (a git worktree such as /work/before) is
measured with this venv. `--json` adds one final line of key figures (for bench/run_all.py).
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server); it
creates and drops a database of its own. Exits 0 with the table (1 if the daemon died).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# bound before --code goes first
from bench.codepath import (  # noqa: E402
    kurilwatch_command,
    start_daemon,
    stop_cleanly_on_signals,
)


def _code_option(argv: list[str]) -> Path | None:
    """`--code DIR` from the command line, read before the project's modules are imported."""
    for index, arg in enumerate(argv):
        if arg == "--code" and index + 1 < len(argv):
            return Path(argv[index + 1]).resolve()
        if arg.startswith("--code="):
            return Path(arg.split("=", 1)[1]).resolve()
    return None


CODE = _code_option(sys.argv[1:])
if CODE is not None:
    sys.path.insert(0, str(CODE))

from storage.engine import database_url  # noqa: E402
from tests.support.newssite import NewsSite  # noqa: E402
from tests.support.stories import STORIES  # noqa: E402

ADMIN = os.environ.get(
    "KURILWATCH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MISSED = "was missed by"
MAX_INSTANCES = "skipped: maximum number of running instances"
JITTER = 0.05  # each poll comes up to 5 % of `every` early or late (daemon.poll_trigger)


@dataclass
class Log:
    """What the drain thread has read from the daemon's stderr so far (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    polls: int = 0
    failed_polls: int = 0
    failed_jobs: int = 0
    """`job.failed`: a job raised (e.g. the database went away mid-poll); no poll logged."""
    poll_seconds: list[float] = field(default_factory=list)
    last_poll_at: dict[str, float] = field(default_factory=dict)
    gaps: list[tuple[int, float]] = field(default_factory=list)
    """(poll number, seconds since the previous poll of the same source)."""
    missed: list[int] = field(default_factory=list)
    max_instances: list[int] = field(default_factory=list)
    poll_skipped: list[int] = field(default_factory=list)
    """The three ways a poll is late or dropped, each as the poll count when it was logged."""
    events: Counter[str] = field(default_factory=Counter)
    """Every event that is not `source.polled`, warnings and errors by name."""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))


def drain(stream: IO[str], log: Log) -> None:
    """Read the daemon's stderr to its end, so the pipe never fills; count what matters."""
    for line in stream:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            with log.lock:
                log.events["(not json)"] += 1
                log.tail.append(line.rstrip())
            continue
        event = str(record.get("event", ""))
        with log.lock:
            if event == "source.polled":
                log.polls += 1
                log.failed_polls += not record.get("ok", True)
                log.poll_seconds.append(float(record.get("seconds") or 0.0))
                at = datetime.fromisoformat(record["ts"]).timestamp()
                previous = log.last_poll_at.get(record["source"])
                if previous is not None:
                    log.gaps.append((log.polls, at - previous))
                log.last_poll_at[record["source"]] = at
                continue
            if MISSED in event:
                log.missed.append(log.polls)
            elif MAX_INSTANCES in event:
                log.max_instances.append(log.polls)
            elif event == "job.failed":
                log.failed_jobs += 1
            elif event == "source.poll_skipped":
                log.poll_skipped.append(log.polls)
            level = record.get("level", "")
            key = event if level in ("info", "debug") else f"{level}: {event[:60]}"
            if MISSED in event or MAX_INSTANCES in event:
                key = f"{level}: apscheduler {MISSED if MISSED in event else MAX_INSTANCES}"
            log.events[key] += 1
            if level not in ("info", "debug", "warning"):
                log.tail.append(line.rstrip()[:600])


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the daemon: when, after how many polls, and what /proc said."""

    seconds: float
    polls: int
    rss: int
    """VmRSS, KiB."""
    hwm: int
    """VmHWM (the kernel's peak RSS), KiB."""
    threads: int
    fds: int
    cpu: float
    """User + system CPU seconds so far."""
    children: int = 0
    """VmRSS of the daemon's child processes (extraction workers), KiB."""


def look(pid: int, seconds: float, polls: int) -> Sample | None:
    """Read /proc/<pid>/status, stat and fd; None once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = {k: v.split() for k, _, v in (line.partition(":") for line in status.splitlines())}
    ticks = stat.rsplit(")", 1)[1].split()  # fields after the command name; utime is 14th
    try:
        return Sample(
            seconds=seconds,
            polls=polls,
            rss=int(fields["VmRSS"][0]),
            hwm=int(fields["VmHWM"][0]),
            threads=int(fields["Threads"][0]),
            fds=fds,
            cpu=(int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK"),
            children=_children_rss(pid),
        )
    except (KeyError, IndexError, ValueError):
        return None


def _children_rss(pid: int) -> int:
    """The summed VmRSS (KiB) of `pid`'s descendants: the daemon's worker processes count too."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                status = Path(f"/proc/{kid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            total += _children_rss(int(kid))
    return total


def config(sites: list[NewsSite], sources: int, every: float) -> dict[str, object]:
    """`sources` feed sources spread over the sites, each its own URL; no channels, no HTTP."""
    return {
        "listen": "off",
        "sources": [
            {
                "name": f"s{i:04d}",
                "kind": "feed",
                "url": f"{sites[i % len(sites)].feed_url}?s={i}",
                "every": f"{every:g}s",
            }
            for i in range(sources)
        ],
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=40, help="feed sources")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between polls")
    parser.add_argument("--cycles", type=int, default=500, help="cycles of all sources to run")
    parser.add_argument("--warmup", type=int, default=50, help="cycles before the baseline")
    parser.add_argument(
        "--sites", type=int, default=20, help="local news sites serving them, one host each"
    )
    parser.add_argument("--stories", type=int, default=3, help="fixture stories per site")
    parser.add_argument("--max-minutes", type=float, default=16.0, help="stop here regardless")
    parser.add_argument("--code", type=Path, help="import kurilwatch's code from this checkout")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    if CODE is not None and not (CODE / "scheduler" / "cli.py").is_file():
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    if not 0 <= args.warmup < args.cycles:
        parser.error("--warmup must be at least 0 and less than --cycles")
    stop_cleanly_on_signals()
    name = f"kw_bench_memory_{os.getpid()}"
    admin = sa.create_engine(
        database_url(ADMIN), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "KURILWATCH_DATABASE_URL": url}
        if CODE is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(CODE), os.environ.get("PYTHONPATH", "")) if p
            )
        env.pop("KURILWATCH_LISTEN", None)
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            sites = [
                stack.enter_context(NewsSite(name=f"Bench News {n}", host=f"127.0.0.{n + 1}"))
                for n in range(args.sites)
            ]
            for site in sites:
                for story in STORIES[: args.stories]:
                    site.add_story(story)
            path = tmp / "kurilwatch.yaml"
            path.write_text(yaml.safe_dump(config(sites, args.sources, args.every)))
            return measure(args, path, env, sites)
    finally:
        drop(admin, name)


def drop(admin: sa.Engine, name: str) -> None:
    """Drop the bench's database, on a fresh connection, retried while the server restarts."""
    for attempt in range(10):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.OperationalError:
            if attempt == 9:
                print(f"could not drop database {name}; drop it by hand", file=sys.stderr)
                raise
            time.sleep(3)


def measure(
    args: argparse.Namespace, path: Path, env: dict[str, str], sites: list[NewsSite]
) -> int:
    command = [*kurilwatch_command(CODE), "--config", str(path), "--log-format", "json", "run"]
    log = Log()
    daemon = start_daemon(command, env)
    assert daemon.stderr is not None
    reader = threading.Thread(target=drain, args=(daemon.stderr, log), daemon=True)
    reader.start()
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    samples: list[Sample] = []
    warm: Sample | None = None
    stopped_early = ""
    try:
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with log.lock:
                polls = log.polls
            sample = look(daemon.pid, now - started, polls) if daemon.poll() is None else None
            if sample is None:
                stopped_early = f"daemon exited with status {daemon.wait()}"
                break
            samples.append(sample)
            if warm is None and polls >= args.warmup * args.sources:
                warm = sample
            if polls >= args.cycles * args.sources:
                break
            if now >= deadline:
                stopped_early = f"--max-minutes {args.max_minutes:g} reached"
                break
            if len(samples) % 60 == 0:
                print(
                    f"  {sample.seconds:6.0f} s  cycle {polls / args.sources:6.1f}  "
                    f"RSS {mib(sample.rss)}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=40)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        reader.join(timeout=10)
    requests = sum(len(site.requests) for site in sites)
    return report(args, command, log, samples, warm, requests, stopped_early)


def report(
    args: argparse.Namespace,
    command: list[str],
    log: Log,
    samples: list[Sample],
    warm: Sample | None,
    requests: int,
    stopped_early: str,
) -> int:
    n = args.sources
    if not samples:
        print(f"no sample taken: {stopped_early}", *log.tail, sep="\n")
        if args.json:
            print(json.dumps({"benchmark": "memory", "met": False, "problems": [stopped_early]}))
        return 1
    end = samples[-1]
    base = warm or samples[0]
    peak = max(max(s.rss for s in samples), end.hwm)
    family_peak = max(s.rss + s.children for s in samples)
    span = end.seconds - base.seconds
    rate = (end.polls - base.polls) / span if span > 0 else 0.0
    cpu = (end.cpu - base.cpu) / span if span > 0 else 0.0
    expected = n / (args.every)
    after = [s for s in samples if warm is not None and s.seconds >= warm.seconds]
    slope = (
        statistics.linear_regression([s.polls for s in after], [s.rss for s in after]).slope
        if len(after) > 2 and after[-1].polls > after[0].polls
        else 0.0
    )
    growth = (end.rss - warm.rss) / warm.rss * 100 if warm else None
    with log.lock:
        gaps = [g for p, g in log.gaps if p > base.polls]
        seconds = log.poll_seconds[base.polls :]
        late = {
            "missed runs ('was missed by')": log.missed,
            "max instances reached": log.max_instances,
            "source.poll_skipped": log.poll_skipped,
        }
        late_after = sum(
            1
            for polls in (*log.missed, *log.max_instances, *log.poll_skipped)
            if polls > base.polls
        )
        failed = f"{log.failed_polls} (jobs that raised: {log.failed_jobs})"
        events = log.events.most_common(6)
        tail = list(log.tail)
    kept_up = late_after == 0 and rate >= 0.9 * expected
    rows: list[tuple[str, str]] = [
        ("sources x every", f"{n} x {args.every:g} s ({args.sites} sites)"),
        ("cycles run (warm-up)", f"{end.polls / n:.1f} of {args.cycles} ({args.warmup})"),
        ("wall time", f"{end.seconds:.0f} s"),
        ("RSS at end of warm-up", mib(warm.rss) if warm else "(warm-up not reached)"),
        ("RSS at end", mib(end.rss)),
        ("RSS peak (sampled or VmHWM)", f"{mib(peak)} ({peak * 1024 / 1e6:.0f} MB)"),
        (
            "peak with worker processes (sampled)",
            f"{mib(family_peak)}; workers seen in {sum(1 for s in samples if s.children)}"
            f" of {len(samples)} samples",
        ),
        ("growth after warm-up", f"{growth:+.1f} %" if growth is not None else "-"),
        (
            "slope after warm-up",
            f"{slope * 1000:+.1f} KiB / 1000 polls ({slope * n:+.2f} KiB / cycle)",
        ),
        (
            "threads, fds (warm-up -> end)",
            f"{base.threads} -> {end.threads}, {base.fds} -> {end.fds}",
        ),
        ("polls / s (schedule)", f"{rate:.1f} ({expected:.1f})"),
        ("daemon CPU after warm-up", f"{cpu:.2f} cores"),
        (
            "gap between polls of a source",
            f"median {statistics.median(gaps) if gaps else 0:.1f} s, "
            f"p95 {percentile(gaps, 95):.1f} s, max {max(gaps, default=0):.1f} s",
        ),
        (
            "poll duration",
            f"median {statistics.median(seconds) if seconds else 0:.3f} s, "
            f"p95 {percentile(seconds, 95):.3f} s",
        ),
        ("failed polls", failed),
    ]
    rows += [
        (label, f"{len(at)} ({sum(1 for p in at if p > base.polls)} after warm-up)")
        for label, at in late.items()
    ]
    rows += [
        ("requests served", str(requests)),
        ("scheduler kept up (after warm-up)", "yes" if kept_up else "NO"),
        ("growth under 10 %", "yes" if growth is not None and growth < 10 else "NO"),
        ("peak under 300 MB", "yes" if peak * 1024 < 300e6 else "NO"),
    ]
    print("$ " + " ".join(["bench/memory.py", *sys.argv[1:]]))
    print(f"  daemon: {' '.join([Path(command[0]).name, *command[1:]])}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    trajectory = [s for s in samples if s.polls > 0]
    if trajectory:
        marks = [trajectory[round(i * (len(trajectory) - 1) / 10)] for i in range(11)]
        print(
            "RSS (MiB) by cycle: "
            + ", ".join(f"{s.polls / n:.0f}: {s.rss / 1024:.1f}" for s in marks)
        )
    print(f"events: {', '.join(f'{k} x{v}' for k, v in events) or '-'}")
    if stopped_early:
        print(f"stopped early: {stopped_early}")
    if tail:
        print("last errors:")
        for line in tail[-3:]:
            print(f"  {line}")
    if args.json:
        met = kept_up and growth is not None and growth < 10 and peak * 1024 < 300e6
        met = met and family_peak * 1024 < 300e6  # worker processes count against it too
        met = met and not stopped_early
        cycles = end.polls / n
        print(
            json.dumps(
                {
                    "benchmark": "memory",
                    "sources": n,
                    "every_s": args.every,
                    "cycles": round(cycles, 1),
                    "rss_warm_mib": round(warm.rss / 1024, 1) if warm else None,
                    "rss_end_mib": round(end.rss / 1024, 1),
                    "growth_pct": round(growth, 2) if growth is not None else None,
                    "peak_mb": round(peak * 1024 / 1e6, 1),
                    "peak_with_workers_mb": round(family_peak * 1024 / 1e6, 1),
                    "polls_per_s": round(rate, 2),
                    "expected_polls_per_s": round(expected, 2),
                    "kept_up": kept_up,
                    "stopped_early": stopped_early or None,
                    "met": met,
                    "row": {
                        "benchmark": f"memory, {n} sources every {args.every:g} s,"
                        f" {cycles:.0f} cycles",
                        "kurilwatch": (
                            f"RSS {mib(warm.rss) if warm else '-'} → {mib(end.rss)},"
                            f" peak {peak * 1024 / 1e6:.0f} MB"
                        ),
                        "baseline": "-",
                        "figure": (
                            (f"growth {growth:+.1f} %" if growth is not None else "growth -")
                            + f", {rate:.1f} polls/s ({expected:.1f} scheduled)"
                        ),
                        "target": "growth < 10 %, peak < 300 MB, kept up",
                        "met": met,
                    },
                }
            )
        )
    return 1 if stopped_early.startswith("daemon exited") else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as stop:
        print(
            f"memory: stopped by {stop or 'SIGINT'}; daemon stopped, database dropped",
            file=sys.stderr,
        )
        sys.exit(130)
