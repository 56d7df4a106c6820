"""Polling many unchanged feeds: kurilwatch against bare async clients, on the same feeds.

What. The bench site (`bench.site.Site`: aiohttp in a subprocess) serves `--sources` small
feeds (`/poll/<i>.xml`, 1,000 by default) spread over `--hosts` loopback addresses (50:
127.0.0.1 … 127.0.0.50), each with a fixed ETag and Last-Modified, answering 304 to a
matching conditional GET. Source i is `/poll/<i>.xml` on host i (mod hosts).

kurilwatch side: one database for the whole benchmark; a first, untimed
`kurilwatch run --once` stores every feed's validators (the feeds' item links answer 404,
which it records as unusable). Every timed run is then another
`kurilwatch --config C --log-format json run --once`, wall time of the whole command
(start-up included), in which every source answers 304: it must log one `source.polled`
event per source, all `not_modified`, and the site must have answered that many 304s. The
median of the events' `seconds` field (one poll, as the daemon times it) is reported too.

Bare side: an untimed unconditional pass learns every feed's ETag / Last-Modified (saved to
a temporary JSON file); each timed run is then a fresh interpreter,
`python bench/poll_many.py --bare FILE`, that sends the conditional GETs with one
`httpx.AsyncClient` (`asyncio.gather` behind `asyncio.Semaphore(100)`: httpx's pool of 100
connections times its waiters out with 1,000 of them) and checks that every answer is 304;
wall time of the subprocess, interpreter start-up included. A second variant,
`--bare FILE --client aiohttp` (one `aiohttp.ClientSession`, whose connector queues without a
timeout, so no semaphore), is timed the same way and reported as a stricter baseline.

The three alternate (kurilwatch, httpx, aiohttp, kurilwatch, …) for `--runs` rounds; the
table gives medians and the ratio kurilwatch / httpx (target ≤ 3), and kurilwatch / aiohttp.
The CPU seconds (user + system) of every command are reported too (`bench.codepath.
children_cpu`), the first run's included: on a machine shared with other work they vary far
less than wall times.

Usage: .venv/bin/python bench/poll_many.py [--sources 1000] [--hosts 50] [--runs 3]
           [--code DIR] [--json]
       .venv/bin/python bench/poll_many.py --bare FILE [--client httpx|aiohttp]
`--code DIR` runs the kurilwatch commands with PYTHONPATH=DIR in front, so an older checkout
(a git worktree such as /work/before) is measured with this venv. `--json` adds one final
line of key figures (for bench/run_all.py). Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL,
default the local trust-auth server); it creates and drops a database of its own.
Exit status: 0 done, 1 a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.codepath import (  # noqa: E402
    children_cpu,
    kurilwatch_command,
    kurilwatch_env,
    use_code,
)

TARGET = 3.0
CONCURRENCY = 100


# --- the bare clients (run in a fresh interpreter) ------------------------------------------


def conditional_headers(validators: dict[str, str | None]) -> dict[str, str]:
    """The conditional request headers for one feed's stored validators."""
    headers = {}
    if validators.get("etag"):
        headers["If-None-Match"] = str(validators["etag"])
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = str(validators["last_modified"])
    return headers


async def bare_httpx(feeds: dict[str, dict[str, str | None]]) -> list[int]:
    """Every conditional GET through one httpx.AsyncClient, at most 100 at once."""
    import httpx

    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=30) as client:

        async def get(url: str, validators: dict[str, str | None]) -> int:
            async with gate:
                response = await client.get(url, headers=conditional_headers(validators))
                return response.status_code

        return await asyncio.gather(*(get(u, v) for u, v in feeds.items()))


async def bare_aiohttp(feeds: dict[str, dict[str, str | None]]) -> list[int]:
    """Every conditional GET through one aiohttp.ClientSession (its connector: 100 at once)."""
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def get(url: str, validators: dict[str, str | None]) -> int:
            async with session.get(url, headers=conditional_headers(validators)) as response:
                await response.read()
                return response.status

        return await asyncio.gather(*(get(u, v) for u, v in feeds.items()))


def bare(path: Path, client: str) -> int:
    """The baseline, in its own interpreter; prints one JSON line, exits 1 unless all 304."""
    started = time.perf_counter()
    feeds = json.loads(path.read_text())
    poll = bare_httpx if client == "httpx" else bare_aiohttp
    statuses = asyncio.run(poll(feeds))
    seconds = time.perf_counter() - started
    counts = Counter(statuses)
    print(json.dumps({"requests": len(statuses), "statuses": dict(counts), "s": seconds}))
    return 0 if counts[304] == len(feeds) else 1


async def learn(urls: list[str]) -> dict[str, dict[str, str | None]]:
    """The untimed unconditional pass: every feed's ETag and Last-Modified."""
    import httpx

    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=30) as client:

        async def get(url: str) -> tuple[str, dict[str, str | None]]:
            async with gate:
                response = await client.get(url)
                response.raise_for_status()
                headers = response.headers
                return url, {
                    "etag": headers.get("etag"),
                    "last_modified": headers.get("last-modified"),
                }

        return dict(await asyncio.gather(*(get(u) for u in urls)))


# --- the driver -------------------------------------------------------------------------------


@dataclass(slots=True)
class KwRun:
    """One `run --once` over every source."""

    wall: float
    cpu: float
    """CPU seconds (user + system) of the command."""
    polled: int
    not_modified: int
    failed: int
    seconds: list[float]
    served_304: int
    events: Counter[str] = field(default_factory=Counter)
    stray: list[str] = field(default_factory=list)
    status: int = 0


def run_kurilwatch(site: Any, command: list[str], env: dict[str, str]) -> KwRun:
    """`kurilwatch run --once`, timed as a whole; what its events and the site say."""
    before = site.snapshot()
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu
    after = site.snapshot()
    polled: list[dict[str, Any]] = []
    events: Counter[str] = Counter()
    stray: list[str] = []
    for line in done.stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            stray.append(line[:300])
            continue
        if not isinstance(record, dict):
            stray.append(line[:300])
        elif record.get("event") == "source.polled":
            polled.append(record)
        elif record.get("level") not in ("info", "debug"):
            events[f"{record.get('level')}: {str(record.get('event'))[:80]}"] += 1
    return KwRun(
        wall=wall,
        cpu=cpu,
        polled=len(polled),
        not_modified=sum(1 for r in polled if r.get("not_modified")),
        failed=sum(1 for r in polled if not r.get("ok", True)),
        seconds=[float(r.get("seconds") or 0.0) for r in polled],
        served_304=after.get("not_modified", 0) - before.get("not_modified", 0),
        events=events,
        stray=stray,
        status=done.returncode,
    )


def run_bare(path: Path, client: str) -> tuple[float, dict[str, Any], int]:
    """`python bench/poll_many.py --bare FILE --client C`, timed from outside (its CPU
    seconds added to its report as "cpu")."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--bare", str(path), "--client", client],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {"requests": 0, "statuses": {}, "s": 0.0}
    if done.returncode != 0 and done.stderr:
        report["stderr"] = done.stderr.strip().splitlines()[-1][:300]
    report["cpu"] = children_cpu() - cpu
    return wall, report, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare", type=Path, metavar="FILE", help="run a baseline on FILE")
    parser.add_argument("--client", choices=("httpx", "aiohttp"), default="httpx")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="rounds of (kurilwatch, bare x2)")
    parser.add_argument("--code", type=Path, help="import kurilwatch's code from this checkout")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    if args.bare:
        return bare(args.bare, args.client)
    if args.code is not None and not (args.code / "scheduler" / "cli.py").is_file():
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    use_code(args.code)
    import yaml

    from bench.benchdb import temporary_database
    from bench.site import Site

    kw_runs: list[KwRun] = []
    bare_runs: dict[str, list[tuple[float, dict[str, Any], int]]] = {"httpx": [], "aiohttp": []}
    with (
        Site(hosts=args.hosts) as site,
        temporary_database("kw_bench_poll_many") as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        urls = [site.url(f"/poll/{i}.xml", host=i) for i in range(args.sources)]
        config = Path(tmp) / "kurilwatch.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "listen": "off",
                    "sources": [{"name": f"p{i:04d}", "url": u} for i, u in enumerate(urls)],
                }
            )
        )
        env = kurilwatch_env(url, args.code)
        command = [*kurilwatch_command(args.code), "--config", str(config), "--log-format", "json"]
        command += ["run", "--once"]
        print("  first run --once (stores validators, untimed)", file=sys.stderr, flush=True)
        first = run_kurilwatch(site, command, env)
        print(f"  ... {first.wall:.1f} s", file=sys.stderr, flush=True)
        validators = Path(tmp) / "validators.json"
        validators.write_text(json.dumps(asyncio.run(learn(urls))))
        for round_ in range(args.runs):
            kw = run_kurilwatch(site, command, env)
            kw_runs.append(kw)
            note = f"  run {round_ + 1}: kurilwatch {kw.wall:.2f} s"
            for client, runs in bare_runs.items():
                runs.append(run_bare(validators, client))
                note += f", {client} {runs[-1][0]:.2f} s"
            print(note, file=sys.stderr, flush=True)
    figures = report(args, first, kw_runs, bare_runs)
    if args.json:
        print(json.dumps(figures))
    return 1 if figures["problems"] else 0


def report(
    args: argparse.Namespace,
    first: KwRun,
    kw_runs: list[KwRun],
    bare_runs: dict[str, list[tuple[float, dict[str, Any], int]]],
) -> dict[str, Any]:
    """Check the runs, print the human table; return the figures for `--json`."""
    n = args.sources
    problems: list[str] = []
    if first.polled != n or first.status != 0:
        problems.append(f"first run: {first.polled} polls of {n}, exit {first.status}")
    for i, kw in enumerate(kw_runs, 1):
        if kw.status != 0:
            problems.append(f"run {i}: kurilwatch exit status {kw.status}")
        if kw.polled != n or kw.not_modified != n:
            problems.append(f"run {i}: {kw.polled} polls, {kw.not_modified} not_modified of {n}")
        if kw.served_304 != n:
            problems.append(f"run {i}: the site answered {kw.served_304} 304s (expected {n})")
    for client, runs in bare_runs.items():
        for i, (_, got, status) in enumerate(runs, 1):
            if status != 0 or got["statuses"] != {"304": n}:
                problems.append(f"run {i}: bare {client}: {got}")
    kw_wall = statistics.median(r.wall for r in kw_runs)
    poll_seconds = statistics.median(statistics.median(r.seconds) for r in kw_runs if r.seconds)
    walls = {c: statistics.median(w for w, _, _ in runs) for c, runs in bare_runs.items()}
    inner = {
        c: statistics.median(float(g["s"]) for _, g, _ in runs) for c, runs in bare_runs.items()
    }
    ratio = kw_wall / walls["httpx"]
    strict = kw_wall / walls["aiohttp"]
    met = ratio <= TARGET and not problems
    code = f" (code: {args.code})" if args.code else ""
    print(f"poll_many: {n} unchanged feeds on {args.hosts} loopback hosts, all answering 304{code}")
    print(f"{'':36} {'wall (s)':>9}  detail")
    print(
        f"{'kurilwatch run --once':36} {kw_wall:9.2f}  median poll (`seconds`)"
        f" {poll_seconds:.3f} s; {n / kw_wall:.0f} polls/s incl. start-up"
    )
    print(
        f"{'bare httpx.AsyncClient (sem. 100)':36} {walls['httpx']:9.2f}  in-process"
        f" {inner['httpx']:.2f} s"
    )
    print(
        f"{'bare aiohttp.ClientSession':36} {walls['aiohttp']:9.2f}  in-process"
        f" {inner['aiohttp']:.2f} s"
    )
    print(
        f"{'ratio kurilwatch / httpx':36} {ratio:9.2f}  target ≤ {TARGET:g}: "
        + ("met" if ratio <= TARGET else "NOT met")
    )
    print(f"{'ratio kurilwatch / aiohttp':36} {strict:9.2f}  (the stricter baseline)")
    print(f"(medians of {len(kw_runs)} alternating runs; first, untimed run {first.wall:.1f} s)")
    per_run = ", ".join(
        f"{kw.wall:.2f}/{h[0]:.2f}/{a[0]:.2f}"
        for kw, h, a in zip(kw_runs, bare_runs["httpx"], bare_runs["aiohttp"], strict=True)
    )
    print(f"per run kurilwatch/httpx/aiohttp (s): {per_run}")
    kw_cpu = statistics.median(r.cpu for r in kw_runs)
    bare_cpu = {
        c: statistics.median(float(g["cpu"]) for _, g, _ in runs) for c, runs in bare_runs.items()
    }
    print(
        f"CPU seconds (user + system, median): kurilwatch {kw_cpu:.2f} (first run"
        f" {first.cpu:.2f}), httpx {bare_cpu['httpx']:.2f}, aiohttp {bare_cpu['aiohttp']:.2f};"
        " kurilwatch per run " + ", ".join(f"{r.cpu:.2f}" for r in kw_runs)
    )
    seconds = sorted(s for r in kw_runs for s in r.seconds)
    if seconds:
        p95 = seconds[min(len(seconds) - 1, round(0.95 * len(seconds)) - 1)]
        print(f"kurilwatch poll `seconds`: median {statistics.median(seconds):.3f}, p95 {p95:.3f}")
    events: Counter[str] = Counter()
    for r in kw_runs:
        events.update(r.events)
    if events:
        print(
            "kurilwatch warnings/errors per timed run: "
            + ", ".join(f"{k} x{v / len(kw_runs):g}" for k, v in events.most_common(6))
        )
    if first.events:
        print(
            "first run warnings/errors: "
            + ", ".join(f"{k} x{v}" for k, v in first.events.most_common(4))
        )
    stray = sorted({line for r in [first, *kw_runs] for line in r.stray})
    if stray:
        print(f"kurilwatch stderr lines that are not JSON ({len(stray)} distinct), first:")
        for line in stray[:5]:
            print(f"  {line}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return {
        "benchmark": "poll_many",
        "sources": n,
        "hosts": args.hosts,
        "runs": len(kw_runs),
        "kurilwatch_s": round(kw_wall, 3),
        "kurilwatch_cpu_s": round(kw_cpu, 3),
        "first_run_s": round(first.wall, 3),
        "first_run_cpu_s": round(first.cpu, 3),
        "baseline_cpu_s": round(bare_cpu["httpx"], 3),
        "kurilwatch_poll_median_s": round(poll_seconds, 4),
        "baseline_s": round(walls["httpx"], 3),
        "baseline_aiohttp_s": round(walls["aiohttp"], 3),
        "ratio": round(ratio, 3),
        "ratio_aiohttp": round(strict, 3),
        "target": TARGET,
        "met": met,
        "problems": problems,
        "row": {
            "benchmark": f"poll {n} unchanged feeds ({args.hosts} hosts), `run --once`",
            "kurilwatch": f"{kw_wall:.2f} s (poll median {poll_seconds * 1000:.0f} ms)",
            "baseline": f"httpx {walls['httpx']:.2f} s; aiohttp {walls['aiohttp']:.2f} s",
            "figure": f"ratio {ratio:.2f} (vs aiohttp {strict:.2f})",
            "target": f"≤ {TARGET:g}",
            "met": met,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
