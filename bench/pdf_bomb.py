"""What a hostile PDF costs: time and peak memory of `crawler.pdf.read_pdf` on bombs.

Builds each case with `tests.support.pdfs` (our own files), then reads it in a fresh child
process of its own, so that the peak resident size is that case's alone: the child builds the
file, imports pypdf, reads a small PDF once (pypdf's own caches), resets the kernel's
high-water mark (`/proc/self/clear_refs`), then calls `read_pdf` `--runs` times. Reports per
case: the file's size, the outcome (the text's length, or the refusal), the median and worst
wall time of a call, the peak resident size over the resident size before the first call
(VmHWM − VmRSS), and the peak of Python allocations (tracemalloc, one extra call).

Cases: `flate-bomb` (one content stream of 400 MiB of spaces, ~400 KB), `hex-bomb` (the same
behind ASCIIHexDecode, which the inflation count cannot see: pypdf's per-stream cap stops it),
`many-forms` (200 forms of 512 KiB: 100 MiB in total, each small), `many-pages` (20 000
pages), `image` (a text page with a 200 MiB image, read), `release` (an ordinary one-page
release, for scale).

Usage: .venv/bin/python bench/pdf_bomb.py [--runs 5] [--json]
Linux only (/proc). No database, no network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1 << 20


def _cases() -> dict[str, Callable[[], bytes]]:
    from tests.support.pdfs import pdf_bomb, pdf_many_pages, pdf_many_streams, pdf_with_image
    from tests.support.releases import release_by_key, release_pdf

    return {
        "flate-bomb": lambda: pdf_bomb(400),
        "hex-bomb": lambda: pdf_bomb(400, hex_wrapped=True),
        "many-forms": lambda: pdf_many_streams(200, 512),
        "many-pages": lambda: pdf_many_pages(20_000),
        "image": lambda: pdf_with_image(["A page of text beside a map of the ships' track."], 200),
        "release": lambda: release_pdf(release_by_key("ja-js-frigates-kunashiri")),
    }


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measure(case: str, runs: int) -> dict[str, object]:
    """In the child: build `case`, read it `runs` times, and return the figures."""
    from crawler.pdf import read_pdf
    from kurilwatch.errors import ExtractionError
    from tests.support.releases import release_by_key, release_pdf

    body = _cases()[case]()
    read_pdf(release_pdf(release_by_key("en-mod-iturup-live-fire")))  # imports, warm caches
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again here
    before = _status_kib("VmRSS")
    times: list[float] = []
    outcome = ""
    for _ in range(runs):
        start = time.perf_counter()
        try:
            outcome = f"read, {len(read_pdf(body).text)} characters"
        except ExtractionError as exc:
            outcome = f"refused: {exc}"
        times.append(time.perf_counter() - start)
    peak = _status_kib("VmHWM")
    tracemalloc.start()
    with contextlib.suppress(ExtractionError):
        read_pdf(body)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "case": case,
        "bytes": len(body),
        "outcome": outcome,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "peak_rss_mib": (peak - before) / 1024,
        "traced_mib": traced / MIB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.case:
        print(json.dumps(_measure(args.case, args.runs)))
        return 0
    rows = []
    for case in _cases():
        child = subprocess.run(
            [sys.executable, __file__, "--case", case, "--runs", str(args.runs)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(child.stdout.splitlines()[-1]))
    print("| case | file | outcome | median s | worst s | peak RSS over start | Python peak |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['case']} | {row['bytes'] / 1024:,.0f} KiB | {row['outcome']} "
            f"| {row['median_s']:.3f} | {row['max_s']:.3f} | {row['peak_rss_mib']:.1f} MiB "
            f"| {row['traced_mib']:.1f} MiB |"
        )
    if args.json:
        print(json.dumps({row["case"]: row for row in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
