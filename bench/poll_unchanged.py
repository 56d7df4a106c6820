"""How long a poll of an unchanged feed takes, end to end.

Serves a local feed of the fixture stories, runs `kurilwatch run --once` once to store them,
then N more times against the unchanged feed (the server answers 304 to the validators), and
reports the median wall time of the whole command (start-up included) and of the poll itself
(the `seconds` field of the `source.polled` event). Then the same without validators, where
the body hash ends the poll.

Usage: .venv/bin/python bench/poll_unchanged.py [--runs 7]
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server); it
creates and drops a database of its own.
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
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import temporary_database  # noqa: E402
from tests.support.newssite import NewsSite  # noqa: E402
from tests.support.stories import STORIES  # noqa: E402

KURILWATCH = Path(sys.executable).parent / "kurilwatch"


def _run(config: Path, env: dict[str, str]) -> tuple[float, float | None, bool]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(KURILWATCH), "--config", str(config), "--log-format", "json", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    polled = [json.loads(x) for x in done.stderr.splitlines() if '"source.polled"' in x]
    return (
        wall,
        polled[0]["seconds"] if polled else None,
        bool(polled and polled[0]["not_modified"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with temporary_database("kw_bench_poll") as url:
        env = {**os.environ, "KURILWATCH_DATABASE_URL": url}
        with NewsSite() as site, tempfile.TemporaryDirectory() as tmp:
            for story in STORIES:
                site.add_story(story)
            config = Path(tmp) / "kurilwatch.yaml"
            config.write_text(
                yaml.safe_dump({"sources": [{"name": "local", "url": site.feed_url}]})
            )
            _run(config, env)  # first poll: stores the stories
            rows = []
            for label, validators in (
                ("304 (ETag / Last-Modified)", True),
                ("body hash (no validators)", False),
            ):
                site.validators = validators
                if not validators:
                    _run(config, env)  # the first poll without validators stores the body hash
                runs = [_run(config, env) for _ in range(args.runs)]
                assert all(not_modified for _, _, not_modified in runs), runs
                rows.append(
                    (
                        label,
                        statistics.median(w for w, _, _ in runs),
                        statistics.median(p for _, p, _ in runs if p is not None),
                    )
                )
        print(f"{'unchanged feed':28} {'command wall (s)':>17} {'poll (s)':>10}")
        for label, wall, poll in rows:
            print(f"{label:28} {wall:17.3f} {poll:10.3f}")
        print(f"(median of {args.runs} runs each)")


if __name__ == "__main__":
    main()
