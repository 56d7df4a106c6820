"""How fast the web timeline answers over a database of N stories with events.

Stores N stories (English, Russian and Japanese, one to three copies each, alerts on two
channels in every state, every tenth story a member of an earlier story's event) with bulk
inserts, serves the pages as the daemon does (`scheduler.metrics.serve` with `web.app`) and
times real HTTP requests from httpx: the timeline's first page (100 groups), a filtered
page, a search in each language, the Atom feed and the API. Each figure is the median and
the slowest of `--repeat` requests after one warm-up request.

Usage: .venv/bin/python bench/web_render.py [--stories 100 10000] [--repeat 20]
Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import temporary_database  # noqa: E402
from storage.engine import database_url, upgrade_schema  # noqa: E402
from storage.tables import alerts, articles, stories  # noqa: E402
from tests.support.timeline import ServedUi  # noqa: E402

TEXTS = {
    "en": (
        "Japan lodged a protest with Russia over military drills on Etorofu number {n}. "
        "Officials in Tokyo said the exercises ran against Japan's position on the islands."
    ),
    "ru": (
        "Япония заявила протест России из-за учений на Итурупе номер {n}. В МИД отметили, "
        "что учения противоречат позиции Японии по островам."
    ),
    "ja": (
        "日本政府は択捉島での軍事演習{n}についてロシア側に抗議した。"
        "北方領土に関する立場に反すると述べた。"
    ),
}
REQUESTS = {
    "timeline, first page": "/",
    "timeline, event + language": "/?event=exercise&lang=ru",
    "search en 'protests'": "/?q=protests",
    "search ru 'учения'": "/?q=учения",
    "search ja '択捉島'": "/?q=択捉島",
    "Atom feed (50)": "/feeds/events.atom",
    "API stories (100)": "/api/stories",
}


def _fill(engine: sa.Engine, count: int) -> None:
    now = datetime.now(UTC)
    languages = ("en", "ru", "ja")
    story_rows: list[dict[str, Any]] = []
    article_rows: list[dict[str, Any]] = []
    alert_rows: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        lang = languages[n % 3]
        at = now - timedelta(minutes=7 * (count - n))
        events = ["protest", "exercise"] if n % 2 else ["protest"]
        text = TEXTS[lang].format(n=n)
        story_rows.append(
            {
                "id": n,
                "title": f"{lang} story {n}: " + text[:60],
                "url": f"https://{lang}.bench.test/{n}",
                "language": lang,
                "published_at": at,
                "first_seen_at": at,
                "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                "events": events,
            }
        )
        for copy in range(1 + n % 3):
            article_rows.append(
                {
                    "story_id": n,
                    "source": f"source-{copy}",
                    "url": f"https://{lang}.bench.test/{n}/{copy}",
                    "title": f"{lang} story {n}",
                    "text": text,
                    "language": lang,
                    "outlet": f"Outlet {copy}",
                    "published_at": at,
                    "fetched_at": at,
                    "content_hash": hashlib.sha256(f"{text}{copy}".encode()).hexdigest(),
                }
            )
        group = n - 3 if n % 10 == 0 and n > 3 else None
        for channel in ("desk", "ops"):
            status = ("delivered", "pending", "dead")[(n + len(channel)) % 3]
            alert_rows.append(
                {
                    "id": f"{n}-{channel}",
                    "story_id": n,
                    "channel": channel,
                    "events": events,
                    "rules": events,
                    "evidence": [
                        {"rule": e, "event": e, "sentences": [text[:80]], "terms": [e]}
                        for e in events
                    ],
                    "status": status,
                    "attempts": 1,
                    "next_attempt_at": at + timedelta(minutes=5),
                    "created_at": at,
                    "delivered_at": at if status == "delivered" else None,
                    "last_error": "HTTP 404" if status == "dead" else None,
                    "group_story_id": group,
                    "kind": "also_reported" if group else "alert",
                }
            )
    with engine.begin() as conn:
        conn.execute(sa.insert(stories), story_rows)
        conn.execute(sa.insert(articles), article_rows)
        conn.execute(sa.insert(alerts), alert_rows)
        conn.execute(sa.text("ANALYZE"))


def _time(client: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    client.get(path).raise_for_status()
    took = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        took.append(time.perf_counter() - start)
        response.raise_for_status()
    return statistics.median(took) * 1000, max(took) * 1000, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for count in args.stories:
        with temporary_database("kw_bench_web") as url:
            engine = sa.create_engine(database_url(url))
            upgrade_schema(engine)
            _fill(engine, count)
            with (
                ServedUi(engine, zone="Asia/Tokyo") as served,
                httpx.Client(base_url=served.url, timeout=60) as client,
            ):
                print(f"{count} stories with events")
                for name, path in REQUESTS.items():
                    median, worst, size = _time(client, path, args.repeat)
                    print(
                        f"  {name:28} median {median:7.1f} ms  max {worst:7.1f} ms"
                        f"  {size / 1024:6.0f} KiB"
                    )
            engine.dispose()


if __name__ == "__main__":
    main()
