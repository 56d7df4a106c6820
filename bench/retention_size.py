"""The database's size at steady state under retention: days of ingest, pruned as the daemon
prunes, until what is kept stops growing.

Usage:
    .venv/bin/python bench/retention_size.py [--days 60] [--per-day 150] [--scale 0.1]
        [--no-retention] [--keep] [--json]

Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server); it
creates `kw_bench_retention_<pid>`, upgrades it to the current schema and drops it at the end
unless `--keep`.

Time runs simulated: each day `--per-day` articles are stored through the real
`storage.articles.ingest_article` (60 % start a story, 40 % are copies of a story of the last
three days: exact, cut, edited or extended, as `dedup_scale.py` makes them), with texts of
25 to 45 sentences (~3-5 KB, a news page's length); every story gets one alert, delivered the
same day with a webhook body of ~1.5 KB as its payload, and every article an entry judged
that day. At the end of each day the retention job's functions run (`storage.retention` for
every kind, `prune_bands` for the dedup window), then VACUUM ANALYZE (what autovacuum does
over a real day; without it the freed space is not reused). The windows are the shipped
defaults times `--scale` (0.1: texts, payloads and entries 9 days, stories and alerts 36.5,
the dedup window 3): the steady state comes `--scale` times sooner with the same shape.
`--no-retention` prunes only what kurilwatch pruned before retention (entries and bands), for
the growth it replaces.

Reported every few days and at the end: the database size, each table's size with its
indexes and TOAST, and its rows; then the bytes each kind keeps per article at steady state,
from which the size at the shipped defaults and any rate follows. Results are in
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.dedup_scale import COPY_KINDS, _render, _sentence, copy_text  # noqa: E402
from kurilwatch.config import RetentionConfig  # noqa: E402
from kurilwatch.model import AlertPlan, Article, Evidence, FeedEntry, StoryState  # noqa: E402
from storage.articles import ingest_article  # noqa: E402
from storage.assign import prune_bands  # noqa: E402
from storage.engine import database_url, upgrade_schema  # noqa: E402
from storage.entries import add_entries  # noqa: E402
from storage.retention import KINDS, prune_kind  # noqa: E402

ADMIN = os.environ.get(
    "KURILWATCH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DAY = timedelta(days=1)
DEDUP_WINDOW_DAYS = 30.0
TABLES = ("articles", "stories", "alerts", "entries", "article_bands", "article_anchors")
EVIDENCE = Evidence(
    rule="protest",
    event="protest",
    sentences=("Japan lodged a protest with Russia over the drills on the islands.",),
    terms=("protest",),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _plan(state: StoryState) -> list[AlertPlan]:
    if "desk" in state.alerted:
        return []
    return [
        AlertPlan(channel="desk", events=("protest",), rules=("protest",), evidence=(EVIDENCE,))
    ]


def _payload(title: str, url: str) -> dict[str, Any]:
    """A webhook body of about the size kurilwatch sends."""
    return {
        "id": "00000000-0000-0000-0000-000000000000",
        "events": ["protest"],
        "rules": ["protest"],
        "evidence": [{"rule": "protest", "sentences": [EVIDENCE.sentences[0] * 4]}],
        "story": {
            "title": title,
            "url": url,
            "language": "en",
            "urls": [url] + [f"{url}?copy={n}" for n in range(4)],
            "summary": title * 6,
        },
    }


def simulate(engine: sa.Engine, args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = random.Random(args.seed)
    keep = RetentionConfig()
    windows = {kind: timedelta(seconds=getattr(keep, kind) * args.scale) for kind in KINDS}
    dedup = timedelta(days=DEDUP_WINDOW_DAYS * args.scale)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    recent: list[tuple[datetime, list[list[str]]]] = []
    samples: list[dict[str, Any]] = []
    serial = 0
    for day in range(args.days):
        today = start + day * DAY
        recent = [(at, s) for at, s in recent if today - at <= 3 * DAY]
        found: list[FeedEntry] = []
        for n in range(args.per_day):
            now = today + timedelta(seconds=n * 86400 / args.per_day)
            serial += 1
            if recent and rng.random() < 0.4:
                _, sentences = rng.choice(recent)
                text = copy_text(rng, sentences, rng.choice(COPY_KINDS))
            else:
                sentences = [_sentence(rng) for _ in range(rng.randint(25, 45))]
                recent.append((now, sentences))
                text = _render(sentences)
            url = f"https://outlet{serial % 40}.example/news/{serial}"
            title = text[:90]
            article = Article(
                url=url,
                source=f"src{serial % 40}",
                title=title,
                text=text,
                language="en",
                published_at=now,
                guid=str(serial),
                canonical_url=f"https://www.outlet{serial % 40}.example/news/{serial}",
            )
            ingest_article(engine, article, events=("protest",), plan=_plan, now=now)
            found.append(FeedEntry(url=url, guid=str(serial), title=title, summary=text[:300]))
        end = today + DAY - timedelta(seconds=1)
        add_entries(engine, "wire", found)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE entries SET status = 'done', verdict = 'stored', updated_at = :t,"
                    " first_seen_at = :t WHERE status = 'pending'"
                ),
                {"t": end},
            )
            conn.execute(
                sa.text(
                    "UPDATE alerts SET status = 'delivered', delivered_at = created_at,"
                    " attempts = 1, payload = CAST(:p AS jsonb) WHERE status = 'pending'"
                ),
                {"p": json.dumps(_payload("x" * 90, "https://outlet.example/news/1"))},
            )
        pruned: dict[str, int] = {}
        for kind in KINDS:
            if args.no_retention and kind != "entries":
                continue
            window = windows[kind] if kind != "entries" else windows["entries"]
            done = prune_kind(engine, kind, cutoff=end - window, batch=1000, now=end)
            for name, count in done.items():
                pruned[name] = pruned.get(name, 0) + count
        pruned["bands"] = prune_bands(engine, older_than=end - dedup)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        if day % args.every == args.every - 1 or day == args.days - 1:
            sample = {"day": day + 1, **_sizes(engine), "pruned": pruned}
            samples.append(sample)
            log(
                f"day {day + 1}: database {sample['database'] / 2**20:.1f} MiB,"
                f" articles {sample['rows']['articles']}, stories {sample['rows']['stories']}"
            )
    return samples


def _sizes(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        database = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        tables = {
            t: conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar()
            for t in TABLES
        }
        rows = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
        kept_text = conn.execute(sa.text("SELECT count(*) FROM articles WHERE text <> ''")).scalar()
    return {"database": database, "tables": tables, "rows": rows, "texts_kept": kept_text}


def report(samples: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    mib = 2**20
    print(
        f"\n{args.per_day} articles a day, windows {args.scale:g} x the defaults,"
        f" {'NO retention (entries and bands only)' if args.no_retention else 'retention on'}"
    )
    header = f"{'day':>4} {'database':>9}" + "".join(f" {t[:14]:>14}" for t in TABLES)
    print(header + f" {'texts kept':>10}")
    for s in samples:
        line = f"{s['day']:>4} {s['database'] / mib:>8.1f}M"
        line += "".join(f" {s['tables'][t] / mib:>9.1f}M/{s['rows'][t]:<5}"[-15:] for t in TABLES)
        print(line + f" {s['texts_kept']:>10}")
    last = samples[-1]
    half = next((s for s in samples if s["day"] >= last["day"] // 2), samples[0])
    growth = (last["database"] - half["database"]) / max(1, last["day"] - half["day"])
    print(
        f"\ngrowth over the second half: {growth / mib:.2f} MiB a day"
        f" ({(last['database'] / half['database'] - 1) * 100:+.1f} % from day {half['day']})"
    )
    per_article = {t: last["tables"][t] / max(1, last["rows"]["articles"]) for t in TABLES}
    print(
        "bytes kept per stored article at the end:", {t: round(b) for t, b in per_article.items()}
    )
    return {
        "benchmark": "retention_size",
        "retention": not args.no_retention,
        "days": args.days,
        "per_day": args.per_day,
        "scale": args.scale,
        "database_mib": round(last["database"] / mib, 1),
        "half_database_mib": round(half["database"] / mib, 1),
        "growth_mib_per_day_second_half": round(growth / mib, 3),
        "rows": last["rows"],
        "tables_mib": {t: round(v / mib, 2) for t, v in last["tables"].items()},
        "loadavg": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=150)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--every", type=int, default=5, help="sample every N days")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-retention", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    name = f"kw_bench_retention_{os.getpid()}"
    admin = sa.create_engine(database_url(ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(database_url(url))
    started = time.perf_counter()
    try:
        upgrade_schema(engine)
        samples = simulate(engine, args)
        figures = report(samples, args)
        print(f"\ntotal run {time.perf_counter() - started:.0f} s")
        if args.json:
            print(json.dumps(figures))
    finally:
        engine.dispose()
        if args.keep:
            log(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
