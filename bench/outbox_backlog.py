"""How fast a backlog of pending alerts drains to a healthy generic webhook.

Stores N synthetic stories, each with one pending alert on channel `ops` (through the real
ingest path), then runs `kurilwatch run --once` against a local receiver and reports the
seconds until the receiver has every alert and the command has exited (start-up included),
the rate, and whether any alert came twice. With `--kind apprise` the channel is Apprise
(`json://` to the same receiver): each attempt runs in a sender process of its own.

Usage: .venv/bin/python bench/outbox_backlog.py [--alerts 1000] [--kind webhook|apprise]
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import temporary_database  # noqa: E402
from kurilwatch.model import AlertPlan, Article, Evidence  # noqa: E402
from storage.articles import ingest_article  # noqa: E402
from storage.engine import database_url, upgrade_schema  # noqa: E402
from tests.support.newssite import NewsSite  # noqa: E402
from tests.support.receiver import WebhookReceiver  # noqa: E402

KURILWATCH = Path(sys.executable).parent / "kurilwatch"
EVIDENCE = Evidence(rule="protest", event="protest", sentences=("A protest.",), terms=("protest",))


def _backlog(engine: sa.Engine, count: int) -> None:
    now = datetime.now(UTC)
    plan = [AlertPlan(channel="ops", events=("protest",), rules=("protest",), evidence=(EVIDENCE,))]
    for n in range(count):
        text = f"Backlog story number {n} about a protest over drills on Iturup, item {n * 7919}."
        article = Article(
            url=f"https://backlog.test/{n}",
            source="bench",
            title=f"Story {n}",
            text=text * 3,
            language="en",
            published_at=now,
        )
        ingest_article(engine, article, events=("protest",), plan=lambda _: plan, now=now)


def _url(args: argparse.Namespace, rx: WebhookReceiver) -> str:
    return rx.url if args.kind == "webhook" else rx.url.replace("http://", "json://")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--kind", choices=("webhook", "apprise"), default="webhook")
    args = parser.parse_args()
    with temporary_database("kw_bench_backlog") as url:
        engine = sa.create_engine(database_url(url))
        upgrade_schema(engine)
        _backlog(engine, args.alerts)
        engine.dispose()
        env = {**os.environ, "KURILWATCH_DATABASE_URL": url}
        with NewsSite() as site, WebhookReceiver() as rx, tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "kurilwatch.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "sources": [{"name": "empty", "url": site.feed_url}],
                        "channels": [{"name": "ops", "kind": args.kind, "url": _url(args, rx)}],
                    }
                )
            )
            started = time.perf_counter()
            subprocess.run(
                [
                    str(KURILWATCH),
                    "--config",
                    str(config),
                    "--log-level",
                    "WARNING",
                    "run",
                    "--once",
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            elapsed = time.perf_counter() - started
            received = rx.received
        # an Apprise post names the story in its title, not in a webhook-id header
        ids = [r.headers.get("webhook-id") or r.json()["title"] for r in received]
        first, last = received[0].monotonic, received[-1].monotonic
        print(f"alerts {args.alerts}: received {len(ids)}, distinct ids {len(set(ids))}")
        print(
            f"run --once wall time {elapsed:.2f} s (start-up included); "
            f"first to last delivery {last - first:.2f} s; "
            f"{len(ids) / max(last - first, 1e-9):.0f} alerts/s"
        )


if __name__ == "__main__":
    main()
