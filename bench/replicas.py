"""Replicas on one database: sustained polls a second with 1, 2 and 3 daemons.

What. `bench/poll_scale.py` run once per daemon count in `--counts` (1,2,3), each run on a
fresh database: `--sources` sources (10,000) on `--hosts` loopback hosts answering 304 after
`--latency` seconds (50 ms), each daemon pinned with `taskset -c` to one CPU (daemon n to CPU
(n - 1) mod the machine's CPUs: on a two-core machine the third daemon shares CPU 0 with the
first, and every daemon shares its CPU with the site and PostgreSQL, which this table cannot
hide). Every daemon schedules every source every `--every` seconds (10: far more than one
daemon can poll), so each run measures what the daemons can sustain together, not what a
schedule asks; a daemon skips a source another polled less than half an interval ago (they
share the polls), and a source is polled by one daemon at a time (their leases), which the site's
request log checks (no two requests of one source from two daemons overlapping), and the
stories published meanwhile must each alert once (none doubled).

Reported per count: sustained polls a second (the site's log, over the window), per daemon,
each daemon's CPU (cores), overlapping polls, sources polled by more than one daemon,
stories alerted twice or never, and the speed-up over one daemon (target: ≥ 2.5 with 3).

Usage: .venv/bin/python bench/replicas.py [--counts 1,2,3] [--sources 10000] [--every 10]
           [--latency 0.05] [--hosts 20] [--minutes 5] [--warmup 40] [--stories 2]
           [--code DIR] [--json]
Needs PostgreSQL (as `bench/poll_scale.py`). Exit status: 0 done, 1 a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,2,3")
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=40.0)
    parser.add_argument("--stories", type=float, default=2.0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--code", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    results: list[dict[str, Any]] = []
    for count in (int(c) for c in args.counts.split(",")):
        pins = ",".join(str(n % cpus) for n in range(count))
        command = [
            sys.executable,
            str(ROOT / "bench" / "poll_scale.py"),
            *("--sources", str(args.sources), "--every", f"{args.every:g}"),
            *("--hosts", str(args.hosts), "--latency", f"{args.latency:g}"),
            *("--minutes", f"{args.minutes:g}", "--warmup", f"{args.warmup:g}"),
            *("--stories", f"{args.stories:g}", "--daemons", str(count), "--cpus", pins),
            "--json",
        ]
        for assignment in args.set:
            command += ["--set", assignment]
        if args.code is not None:
            command += ["--code", str(args.code)]
        print(f"  {count} daemon(s) on CPUs {pins} ...", file=sys.stderr, flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        try:
            figures = json.loads(lines[-1])
        except (IndexError, ValueError):
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
            return 1
        figures["cpus"] = pins
        figures["table"] = lines[:-1]
        results.append(figures)
        print("\n".join(lines[:-1]), file=sys.stderr, flush=True)
    return report(args, results)


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> int:
    """Print the table; 1 if a run found a problem."""
    base = results[0]["polls_per_s"] or 1e-9
    print(
        f"replicas: {args.sources} sources, every daemon scheduling each every {args.every:g} s,"
        f" {args.hosts} hosts answering 304 after {args.latency * 1000:g} ms,"
        f" {os.cpu_count()} CPUs"
    )
    print(
        f"{'daemons':>7} {'CPUs':>6} {'polls/s':>8} {'speed-up':>8} {'cores each':>16}"
        f" {'overlaps':>8} {'shared':>7} {'doubled':>7} {'never':>5}  load"
    )
    problems = []
    for r in results:
        speedup = r["polls_per_s"] / base
        cores = " ".join(f"{c:.2f}" for c in r["cores"])
        print(
            f"{r['daemons']:>7} {r['cpus']:>6} {r['polls_per_s']:>8.1f} {speedup:>8.2f}"
            f" {cores:>16} {r['overlaps']:>8} {r.get('shared', '-')!s:>7} {r['doubled']:>7}"
            f" {r['never_alerted']:>5}  {' '.join(f'{x:.1f}' for x in r['load'])}"
        )
        problems += [f"{r['daemons']} daemons: {p}" for p in r["problems"]]
    top = results[-1]
    speedup = top["polls_per_s"] / base
    met = speedup >= TARGET and top["daemons"] == 3 and not problems
    print(
        f"speed-up {results[0]['daemons']} -> {top['daemons']} daemons: {speedup:.2f}"
        f" (target ≥ {TARGET:g} from 1 to 3: {'met' if met else 'NOT met'})"
    )
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "replicas",
                    "runs": [
                        {k: v for k, v in r.items() if k not in ("table", "row")} for r in results
                    ],
                    "speedup": round(speedup, 3),
                    "met": met,
                    "problems": problems,
                    "row": {
                        "benchmark": f"replicas 1-{top['daemons']}, {args.sources} sources",
                        "kurilwatch": ", ".join(
                            f"{r['daemons']}: {r['polls_per_s']:.0f}/s" for r in results
                        ),
                        "baseline": "-",
                        "figure": f"speed-up {speedup:.2f}",
                        "target": f"≥ {TARGET:g}",
                        "met": met,
                    },
                }
            )
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
