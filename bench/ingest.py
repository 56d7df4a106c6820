"""Ingest speed: kurilwatch against a bare fetch-and-extract loop, on the same pages.

What. Every `*.html` under `../shared/corpora/trafilatura-eval/` and
`../shared/corpora/newspaper4k-testdata/` (354 real news and blog pages, 36 MB; read where
they lie, never copied) is served by the bench site (`bench.site.Site`: aiohttp in a
subprocess, one host) behind one RSS feed, `/ingest/feed.xml`, that links every page
(`/ingest/p/<n>.html`).

kurilwatch side: a fresh database for every run, its schema made beforehand by
`kurilwatch db upgrade` (timed apart and reported; `--migrate-in-run` leaves the migration
to the timed command instead), a config with `listen: "off"`, one feed source and no
channels, and the wall time of `kurilwatch --config C --log-format json run --once` (start-up
included). Its `source.polled` event (entries, new URLs) and the outcomes of the pages (that
event's `outcomes` in older code; since issue 13 the `entries.judged` events of the pages read
after the index) must account for every page, all equal to the page count (the outcomes are
reported), and the site must have served every page once in that run. "The poll itself" is
the `source.polled` event's `seconds` (since issue 13 the index only; the pages read after it
are reported as "pages read after the poll", the last `entries.judged` minus the poll's end).

Bare side: a fresh interpreter, `python bench/ingest.py --bare FEEDURL`, that fetches the
feed with a sync `httpx.Client`, reads its links with feedparser, and for each link in turn
fetches the page and runs `trafilatura.extract(html, url=link)`; the wall time of the whole
subprocess, interpreter start-up and imports included. It prints one JSON line (pages,
pages with text, its own in-process seconds).

Fair bare side (like for like): the same loop given what kurilwatch is given, `python
bench/ingest.py --bare FEEDURL --workers N --concurrency C`: the pages fetched by one
`httpx.AsyncClient`, at most C at once (kurilwatch's `crawl.concurrency_per_domain`, 2: the
pages are on one host), and extracted as they arrive in a pool of N worker processes
(`ProcessPoolExecutor`, "spawn"; N = kurilwatch's default `crawl.extract_workers`, one per
core), pool start-up included. The old, sequential single-process loop flatters kurilwatch:
it is reported beside the fair one, not instead of it.

The three alternate (kurilwatch, bare, fair bare, kurilwatch, …) for `--runs` rounds; the
table gives the medians and the ratios kurilwatch / bare (the old one, target ≤ 1.2) and
kurilwatch / fair bare, and the CPU seconds (user + system, extraction workers included;
`bench.codepath.children_cpu`) of every side, which on a machine shared with other work vary
far less than wall times.

Usage: .venv/bin/python bench/ingest.py [--runs 3] [--code DIR] [--migrate-in-run] [--json]
       .venv/bin/python bench/ingest.py --bare FEEDURL [--workers N --concurrency C]
           (the baselines; run by the above)
`--code DIR` runs the kurilwatch commands with PYTHONPATH=DIR in front, so an older checkout
(a git worktree such as /work/before) is measured with this venv. `--json` adds one final
line of key figures (for bench/run_all.py). Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL,
default the local trust-auth server); it creates and drops a database per run.
Exit status: 0 done, 1 a check failed, 2 the corpora are missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
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

SHARED = ROOT.parent / "shared"
CORPORA = ("corpora/trafilatura-eval", "corpora/newspaper4k-testdata")
MIN_PAGES = 250
TARGET = 1.2
FAIR_WORKERS = os.cpu_count() or 1
"""kurilwatch's default `crawl.extract_workers`: one per core (`crawler.workers`)."""
FAIR_CONCURRENCY = 2
"""kurilwatch's default `crawl.concurrency_per_domain` (the pages are on one host)."""


def bare(feed_url: str) -> None:
    """The baseline, in its own interpreter: feed, links, then fetch + extract each page."""
    started = time.perf_counter()
    import feedparser
    import httpx
    import trafilatura

    extracted = chars = 0
    with httpx.Client(timeout=60) as client:
        feed = feedparser.parse(client.get(feed_url).content)
        links = [entry.link for entry in feed.entries]
        for link in links:
            response = client.get(link)
            response.raise_for_status()
            text = trafilatura.extract(response.content, url=link)
            if text:
                extracted += 1
                chars += len(text)
    seconds = time.perf_counter() - started
    print(json.dumps({"pages": len(links), "extracted": extracted, "chars": chars, "s": seconds}))


def _extract_one(html: bytes, url: str) -> int:
    """trafilatura's text length of one page (0: none), in a worker process."""
    import trafilatura

    text = trafilatura.extract(html, url=url)
    return len(text) if text else 0


def bare_fair(feed_url: str, workers: int, concurrency: int) -> None:
    """The fair baseline, in its own interpreter: pages fetched `concurrency` at a time and
    extracted as they arrive in `workers` processes."""
    started = time.perf_counter()
    import asyncio
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import feedparser
    import httpx

    async def main(pool: ProcessPoolExecutor) -> list[int]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=60) as client:
            feed = feedparser.parse((await client.get(feed_url)).content)
            links = [entry.link for entry in feed.entries]

            async def one(link: str) -> int:
                async with gate:
                    response = await client.get(link)
                response.raise_for_status()
                return await loop.run_in_executor(pool, _extract_one, response.content, link)

            return await asyncio.gather(*(one(link) for link in links))

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        lengths = asyncio.run(main(pool))
    seconds = time.perf_counter() - started
    extracted = sum(1 for n in lengths if n)
    print(
        json.dumps(
            {"pages": len(lengths), "extracted": extracted, "chars": sum(lengths), "s": seconds}
        )
    )


def find_pages() -> list[Path] | str:
    """Every page of the two corpora, sorted; or why they cannot be used."""
    pages: list[Path] = []
    for name in CORPORA:
        folder = SHARED / name
        if not folder.is_dir():
            return f"{folder} is missing"
        pages += sorted(folder.rglob("*.html"))
    if len(pages) < MIN_PAGES:
        return f"only {len(pages)} pages under {SHARED / 'corpora'} (at least {MIN_PAGES} needed)"
    return pages


@dataclass(slots=True)
class KwRun:
    """One timed `run --once`."""

    wall: float
    cpu: float
    """CPU seconds of the command, its extraction workers included."""
    upgrade: float | None
    poll: float
    outcomes: dict[str, int]
    pages_after: float | None
    """Seconds from the poll's end to the last `entries.judged` event (issue 13 on)."""
    entries: int
    new: int
    served: dict[str, int]
    events: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    """Lines of its stderr that are not JSON log records (warnings, tracebacks)."""


def run_kurilwatch(site: Any, pages: int, round_: int, args: argparse.Namespace) -> KwRun:
    """A fresh database, then `kurilwatch run --once` timed as a whole."""
    import yaml

    from bench.benchdb import temporary_database

    with (
        temporary_database(f"kw_bench_ingest{round_}") as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = kurilwatch_env(url, args.code)
        config = Path(tmp) / "kurilwatch.yaml"
        feed = site.url("/ingest/feed.xml")
        config.write_text(
            yaml.safe_dump({"listen": "off", "sources": [{"name": "bench", "url": feed}]})
        )
        base = [*kurilwatch_command(args.code), "--config", str(config), "--log-format", "json"]
        upgrade = None
        if not args.migrate_in_run:
            started = time.perf_counter()
            subprocess.run([*base, "db", "upgrade"], env=env, check=True, capture_output=True)
            upgrade = time.perf_counter() - started
        before = site.snapshot()
        cpu = children_cpu()
        started = time.perf_counter()
        done = subprocess.run(
            [*base, "run", "--once"], env=env, capture_output=True, text=True, timeout=1800
        )
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu
        after = site.snapshot()
    served = {k: after.get(k, 0) - before.get(k, 0) for k in ("feed", "page", "robots")}
    records = [_json(line) for line in done.stderr.splitlines()]
    events: Counter[str] = Counter(
        f"{r.get('level')}: {r.get('event')}"
        for r in records
        if r and r.get("level") not in ("info", "debug")
    )
    stray = [line[:300] for line, r in zip(done.stderr.splitlines(), records, strict=True) if not r]
    errors = []
    if done.returncode != 0:
        errors.append(f"exit status {done.returncode}")
    polled = [r for r in records if r and r.get("event") == "source.polled"]
    if len(polled) != 1:
        errors.append(f"{len(polled)} source.polled events (expected 1)")
    event = polled[0] if polled else {}
    if event.get("error"):
        errors.append(f"poll error: {event['error']}")
    outcomes: Counter[str] = Counter(event.get("outcomes") or {})
    judged = [r for r in records if r and r.get("event") == "entries.judged"]
    for record in judged:
        outcomes.update(record.get("outcomes") or {})
    pages_after = (
        _ts(judged[-1]) - _ts(event) if judged and "ts" in judged[-1] and "ts" in event else None
    )
    return KwRun(
        wall=wall,
        cpu=cpu,
        upgrade=upgrade,
        poll=float(event.get("seconds") or 0.0),
        outcomes=dict(outcomes),
        pages_after=pages_after,
        entries=int(event.get("entries") or 0),
        new=int(event.get("new") or 0),
        served=served,
        events=events,
        errors=errors,
        stray=stray,
    )


def _ts(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(record["ts"])).timestamp()


def _json(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def run_bare(site: Any, fair: tuple[int, int] | None = None) -> tuple[float, dict[str, Any]]:
    """`python bench/ingest.py --bare FEED` in a fresh interpreter (with `fair`, `--workers N
    --concurrency C`), timed from outside (its CPU seconds added to its report as "cpu")."""
    cpu = children_cpu()
    started = time.perf_counter()
    extra = [] if fair is None else ["--workers", str(fair[0]), "--concurrency", str(fair[1])]
    done = subprocess.run(
        [sys.executable, __file__, "--bare", site.url("/ingest/feed.xml"), *extra],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    wall = time.perf_counter() - started
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["cpu"] = children_cpu() - cpu
    return wall, report


def check(run: KwRun, pages: int) -> list[str]:
    """What is wrong with a kurilwatch run: pages not fetched or not handled."""
    problems = list(run.errors)
    handled = sum(run.outcomes.values())
    if run.entries != pages or run.new != pages:
        problems.append(f"entries {run.entries}, new {run.new} (expected {pages} each)")
    if handled != pages:
        problems.append(f"outcomes sum to {handled} (expected {pages})")
    if run.served.get("page") != pages or run.served.get("feed") != 1:
        problems.append(f"site served {run.served} (expected {pages} pages, 1 feed)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare", metavar="FEEDURL", help="run the baseline on this feed")
    parser.add_argument("--runs", type=int, default=3, help="rounds of (kurilwatch, bare)")
    parser.add_argument("--workers", type=int, help="with --bare: the fair loop's processes")
    parser.add_argument("--concurrency", type=int, default=2, help="with --workers: fetches")
    parser.add_argument("--code", type=Path, help="import kurilwatch's code from this checkout")
    parser.add_argument(
        "--migrate-in-run", action="store_true", help="leave the schema to the timed command"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    if args.bare:
        if args.workers:
            bare_fair(args.bare, args.workers, args.concurrency)
        else:
            bare(args.bare)
        return 0
    if args.code is not None and not (args.code / "scheduler" / "cli.py").is_file():
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    found = find_pages()
    if isinstance(found, str):
        print(f"cannot run the ingest benchmark: {found}", file=sys.stderr)
        return 2
    use_code(args.code)
    from bench.site import Site

    pages = found
    kw_runs: list[KwRun] = []
    bare_runs: list[tuple[float, dict[str, Any]]] = []
    fair_runs: list[tuple[float, dict[str, Any]]] = []
    problems: list[str] = []
    fair = (FAIR_WORKERS, FAIR_CONCURRENCY)
    with Site(pages=pages) as site:
        for round_ in range(args.runs):
            kw = run_kurilwatch(site, len(pages), round_, args)
            kw_runs.append(kw)
            problems += [f"run {round_ + 1}: {p}" for p in check(kw, len(pages))]
            print(
                f"  run {round_ + 1}: kurilwatch {kw.wall:.2f} s (poll {kw.poll:.2f} s)",
                file=sys.stderr,
                flush=True,
            )
            wall, report = run_bare(site)
            bare_runs.append((wall, report))
            if report["pages"] != len(pages):
                problems.append(f"run {round_ + 1}: bare fetched {report['pages']} pages")
            print(f"  run {round_ + 1}: bare {wall:.2f} s", file=sys.stderr, flush=True)
            wall, report = run_bare(site, fair)
            fair_runs.append((wall, report))
            if report["pages"] != len(pages):
                problems.append(f"run {round_ + 1}: fair bare fetched {report['pages']} pages")
            print(f"  run {round_ + 1}: fair bare {wall:.2f} s", file=sys.stderr, flush=True)
    figures = report_table(args, pages, kw_runs, bare_runs, problems, fair_runs)
    if args.json:
        print(json.dumps(figures))
    return 1 if problems else 0


def report_table(
    args: argparse.Namespace,
    pages: list[Path],
    kw_runs: list[KwRun],
    bare_runs: list[tuple[float, dict[str, Any]]],
    problems: list[str],
    fair_runs: list[tuple[float, dict[str, Any]]],
) -> dict[str, Any]:
    """Print the human table; return the figures for `--json`."""
    fair_wall = statistics.median(w for w, _ in fair_runs)
    fair_inner = statistics.median(float(r["s"]) for _, r in fair_runs)
    fair_cpu = statistics.median(float(r["cpu"]) for _, r in fair_runs)
    kw_wall = statistics.median(r.wall for r in kw_runs)
    kw_poll = statistics.median(r.poll for r in kw_runs)
    pages_after = [r.pages_after for r in kw_runs if r.pages_after is not None]
    upgrades = [r.upgrade for r in kw_runs if r.upgrade is not None]
    bare_wall = statistics.median(w for w, _ in bare_runs)
    bare_inner = statistics.median(float(r["s"]) for _, r in bare_runs)
    ratio = kw_wall / bare_wall
    met = ratio <= TARGET and not problems
    outcomes: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for r in kw_runs:
        outcomes.update(r.outcomes)
        events.update(r.events)
    n = len(kw_runs)
    size = sum(p.stat().st_size for p in pages) / 1e6
    code = f" (code: {args.code})" if args.code else ""
    print(f"ingest: {len(pages)} pages ({size:.1f} MB), one feed on one host{code}")
    print(f"{'':34} {'wall (s)':>9}  detail")
    upgrade_note = (
        f"; schema upgrade beforehand {statistics.median(upgrades):.2f} s, not counted"
        if upgrades
        else "; schema migration inside the timed command"
    )
    print(
        f"{'kurilwatch run --once':34} {kw_wall:9.2f}  the poll itself {kw_poll:.2f} s"
        + (
            f", pages read after the poll {statistics.median(pages_after):.2f} s"
            if pages_after
            else ""
        )
        + upgrade_note
    )
    print(
        f"{'bare httpx + trafilatura.extract':34} {bare_wall:9.2f}  in-process {bare_inner:.2f} s;"
        f" text from {bare_runs[-1][1]['extracted']} of {bare_runs[-1][1]['pages']} pages"
    )
    print(
        f"{f'fair bare ({FAIR_WORKERS} processes, {FAIR_CONCURRENCY} fetches)':34}"
        f" {fair_wall:9.2f}  in-process {fair_inner:.2f} s; text from"
        f" {fair_runs[-1][1]['extracted']} of {fair_runs[-1][1]['pages']} pages"
    )
    print(
        f"{'ratio kurilwatch / bare (old)':34} {ratio:9.2f}  target ≤ {TARGET}: "
        + ("met" if ratio <= TARGET else "NOT met")
    )
    print(f"{'ratio kurilwatch / fair bare':34} {kw_wall / fair_wall:9.2f}  like for like")
    print(f"(medians of {n} alternating runs each)")
    per_run = ", ".join(
        f"{r.wall:.2f}/{w:.2f}/{f:.2f}"
        for r, (w, _), (f, _) in zip(kw_runs, bare_runs, fair_runs, strict=True)
    )
    print(f"per run kurilwatch/bare/fair bare (s): {per_run}")
    kw_cpu = statistics.median(r.cpu for r in kw_runs)
    bare_cpu = statistics.median(float(r["cpu"]) for _, r in bare_runs)
    print(
        f"CPU seconds (user + system, median): kurilwatch {kw_cpu:.2f}, bare {bare_cpu:.2f}"
        f" (ratio {kw_cpu / bare_cpu:.2f}), fair bare {fair_cpu:.2f}; per run "
        + ", ".join(
            f"{r.cpu:.2f}/{float(b['cpu']):.2f}"
            for r, (_, b) in zip(kw_runs, bare_runs, strict=True)
        )
    )
    mean_outcomes = {k: v / n for k, v in sorted(outcomes.items())}
    print(
        "kurilwatch outcomes per run: "
        + ", ".join(f"{k} {v:g}" for k, v in mean_outcomes.items())
        + f" (sum {sum(mean_outcomes.values()):g} of {len(pages)} pages)"
    )
    if events:
        print(
            "kurilwatch warnings/errors per run: "
            + ", ".join(f"{k} x{v / n:g}" for k, v in events.most_common(8))
        )
    stray = sorted({line for r in kw_runs for line in r.stray})
    if stray:
        print(f"kurilwatch stderr lines that are not JSON ({len(stray)} distinct), first:")
        for line in stray[:5]:
            print(f"  {line}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return {
        "benchmark": "ingest",
        "pages": len(pages),
        "runs": n,
        "kurilwatch_s": round(kw_wall, 3),
        "kurilwatch_cpu_s": round(kw_cpu, 3),
        "baseline_cpu_s": round(bare_cpu, 3),
        "kurilwatch_poll_s": round(kw_poll, 3),
        "kurilwatch_pages_after_poll_s": (
            round(statistics.median(pages_after), 3) if pages_after else None
        ),
        "schema_upgrade_s": round(statistics.median(upgrades), 3) if upgrades else None,
        "baseline_s": round(bare_wall, 3),
        "ratio": round(ratio, 3),
        "fair_baseline_s": round(fair_wall, 3),
        "fair_baseline_cpu_s": round(fair_cpu, 3),
        "fair_ratio": round(kw_wall / fair_wall, 3),
        "fair": {"workers": FAIR_WORKERS, "concurrency": FAIR_CONCURRENCY},
        "target": TARGET,
        "met": met,
        "outcomes": mean_outcomes,
        "problems": problems,
        "row": {
            "benchmark": f"ingest {len(pages)} pages, `run --once` incl. start-up",
            "kurilwatch": f"{kw_wall:.2f} s",
            "baseline": (
                f"{bare_wall:.2f} s (httpx + trafilatura, sequential); fair"
                f" {fair_wall:.2f} s ({FAIR_WORKERS} processes, {FAIR_CONCURRENCY} fetches)"
            ),
            "figure": f"ratio {ratio:.2f}; fair {kw_wall / fair_wall:.2f}",
            "target": f"≤ {TARGET}",
            "met": met,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
