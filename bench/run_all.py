"""Every speed and scale benchmark of issues 8 and 18, and the eval feed of issue 13, in one table.

Runs these one after another, each as a subprocess of its own with `--json`, echoing its
human-readable output to stderr as it goes, and then prints one markdown table to stdout
(benchmark, kurilwatch, baseline, ratio / figure, target, met?) built from the final JSON
line of each:

- ingest: `bench/ingest.py --runs 3` (`--quick`: `--runs 2`); ~1.5 min (~1 min)
- poll_many: `bench/poll_many.py --runs 3` (`--runs 2`); ~2 min (~1.5 min)
- time_to_alert: `bench/time_to_alert.py --samples 20` (`--samples 10`); ~1 min (~0.5 min)
- dedup_scale: `bench/dedup_scale.py --sizes 10000,100000,1000000 --no-alt`
  (`--sizes 10000,100000`); ~10 min (~1 min)
- memory: `bench/memory.py --sources 200 --every 10 --cycles 500 --max-minutes 95`
  (`--cycles 80 --max-minutes 20`); ~88 min (~15 min)
- eval_feed_ok, eval_feed_blocked (issue 13): `bench/eval_feed.py --pages ok` and
  `--pages blocked` (the same quick); ~0.5 min each
- poll_scale (issue 18): `bench/poll_scale.py --sources 10000 --every 60 --minutes 30`
  (`--minutes 3`); ~32 min (~5 min)
- replicas (issue 18): `bench/replicas.py --minutes 5` (`--minutes 2`), 1, 2 and 3
  daemons; ~20 min (~9 min)

ingest and poll_many time kurilwatch and a bare baseline on the same input in the same run
(medians, ratio); time_to_alert, dedup_scale, memory and the eval feed have a target
figure instead (the eval feed: no flagged story unreached, alert recall ≥ 0.9 of the rules').

Usage: .venv/bin/python bench/run_all.py [--quick] [--only NAME,...] [--code DIR]
`--only ingest,poll_many` runs just those (names as above, in the order above). `--code DIR`
is passed on to every benchmark: kurilwatch then runs (and dedup_scale imports) the code of
DIR, e.g. an older checkout (a git worktree such as /work/before), with this venv. Needs
PostgreSQL as the benchmarks do. Exit status: 0 every benchmark ran and met its target,
1 otherwise, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One benchmark script and its arguments, full and quick."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHMARKS = (
    Benchmark("ingest", "ingest.py", ("--runs", "3"), ("--runs", "2")),
    Benchmark("poll_many", "poll_many.py", ("--runs", "3"), ("--runs", "2")),
    Benchmark("time_to_alert", "time_to_alert.py", ("--samples", "20"), ("--samples", "10")),
    Benchmark(
        "dedup_scale",
        "dedup_scale.py",
        ("--sizes", "10000,100000,1000000", "--no-alt"),
        ("--sizes", "10000,100000", "--no-alt"),
    ),
    Benchmark(
        "memory",
        "memory.py",
        ("--sources", "200", "--every", "10", "--cycles", "500", "--max-minutes", "95"),
        ("--sources", "200", "--every", "10", "--cycles", "80", "--max-minutes", "20"),
    ),
    Benchmark("eval_feed_ok", "eval_feed.py", ("--pages", "ok"), ("--pages", "ok")),
    Benchmark("eval_feed_blocked", "eval_feed.py", ("--pages", "blocked"), ("--pages", "blocked")),
    Benchmark(
        "poll_scale",
        "poll_scale.py",
        ("--sources", "10000", "--every", "60", "--minutes", "30"),
        ("--sources", "10000", "--every", "60", "--minutes", "3"),
    ),
    Benchmark("replicas", "replicas.py", ("--minutes", "5"), ("--minutes", "2")),
)
COLUMNS = ("benchmark", "kurilwatch", "baseline", "ratio / figure", "target", "met?")


@dataclass(slots=True)
class Outcome:
    """What one benchmark subprocess left: its exit status, wall time and final JSON."""

    benchmark: Benchmark
    command: list[str]
    status: int
    seconds: float
    figures: dict[str, Any] | None


def run(benchmark: Benchmark, *, quick: bool, code: Path | None) -> Outcome:
    """Run one benchmark, its output echoed to stderr; keep its last JSON line."""
    command = [sys.executable, str(BENCH / benchmark.script)]
    command += benchmark.quick if quick else benchmark.full
    if code is not None:
        command += ["--code", str(code)]
    command.append("--json")
    shown = " ".join(["bench/" + benchmark.script, *command[2:]])
    print(f"\n=== {benchmark.name}: {shown}", file=sys.stderr, flush=True)
    figures: dict[str, Any] | None = None
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=BENCH.parent) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stderr.write(line)
            sys.stderr.flush()
            if line.startswith("{"):
                try:
                    parsed = json.loads(line)
                except ValueError:
                    continue
                if isinstance(parsed, dict) and "row" in parsed:
                    figures = parsed
        status = proc.wait()
    seconds = time.perf_counter() - started
    return Outcome(benchmark, command, status, seconds, figures)


def row(outcome: Outcome) -> list[str]:
    """The table row of one outcome (a failure says so in every column it can)."""
    figures = outcome.figures
    if figures is None:
        failed = f"failed (exit {outcome.status}, no figures)"
        return [outcome.benchmark.name, failed, "-", "-", "-", "**failed**"]
    cells: dict[str, Any] = figures["row"]
    met = bool(cells.get("met"))
    verdict = "yes" if met else "**no**"
    problems = figures.get("problems") or []
    if problems:
        verdict += f" ({len(problems)} check(s) failed)"
    elif outcome.status != 0 and met:
        verdict = f"yes (exit {outcome.status})"
    values = [
        str(cells.get("benchmark", outcome.benchmark.name)),
        str(cells.get("kurilwatch", "-")),
        str(cells.get("baseline", "-")),
        str(cells.get("figure", "-")),
        str(cells.get("target", "-")),
        verdict,
    ]
    return [v.replace("|", "\\|") for v in values]


def table(outcomes: list[Outcome]) -> str:
    """The markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(o)) + " |" for o in outcomes]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter variants of each")
    parser.add_argument(
        "--only", help="comma-separated names: " + ",".join(b.name for b in BENCHMARKS)
    )
    parser.add_argument("--code", type=Path, help="measure the kurilwatch code of this checkout")
    args = parser.parse_args()
    chosen = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - {b.name for b in BENCHMARKS})
        if unknown:
            parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}")
        chosen = [b for b in BENCHMARKS if b.name in names]
    if args.code is not None:
        args.code = args.code.resolve()
        if not (args.code / "scheduler" / "cli.py").is_file():
            parser.error(f"--code {args.code}: not a kurilwatch checkout")
    started = time.perf_counter()
    outcomes = [run(b, quick=args.quick, code=args.code) for b in chosen]
    total = time.perf_counter() - started
    print(table(outcomes))
    code = str(args.code) if args.code else str(BENCH.parent)
    print(
        f"\ncode: {code}; {'quick' if args.quick else 'full'} variants; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end; "
        f"{total / 60:.1f} min in all ("
        + ", ".join(f"{o.benchmark.name} {o.seconds / 60:.1f}" for o in outcomes)
        + ")"
    )
    ok = all(o.status == 0 and o.figures and o.figures["row"].get("met") for o in outcomes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
