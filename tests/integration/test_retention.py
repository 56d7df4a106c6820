"""Retention on the real PostgreSQL: what is pruned, in batches, what is never touched, and
the counts the job reports; the duplicate check's canonical-URL index; cheap metrics."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kurilwatch.config import validate_settings
from kurilwatch.model import AlertPlan, Article, Evidence, FeedEntry, StoryState
from scheduler.jobs import Runtime, prune
from scheduler.metrics import TALLY_SECONDS, Metrics, health
from storage.articles import duplicate_query, ingest_article
from storage.engine import together
from storage.entries import add_entries, claim_entries, finish_entry, list_entries
from storage.retention import prune_batch, prune_kind, pruned_counts
from storage.tables import alerts, articles, labels, stories

NOW = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
EVIDENCE = Evidence(
    rule="protest", event="protest", sentences=("Japan lodged a protest.",), terms=("protest",)
)


def _text(n: int) -> str:
    """A text of its own for story `n`: no two share a shingle worth speaking of."""
    rng = random.Random(n)
    words = [f"w{rng.randrange(10**6)}" for _ in range(80)]
    return " ".join(words) + "."


def _article(n: int, *, url: str | None = None, canonical: str | None = None) -> Article:
    return Article(
        url=url or f"https://a.test/{n}",
        source="wire",
        title=f"Story {n}",
        text=_text(n),
        language="en",
        published_at=NOW - 2 * YEAR,
        canonical_url=canonical,
    )


def _alert(state: StoryState) -> list[AlertPlan]:
    if "desk" in state.alerted:
        return []
    return [
        AlertPlan(channel="desk", events=("protest",), rules=("protest",), evidence=(EVIDENCE,))
    ]


def _ingest(engine: Engine, article: Article, at: datetime) -> int:
    result = ingest_article(engine, article, events=("protest",), plan=_alert, now=at)
    assert result.story_id is not None, result
    return result.story_id


def _set(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_old_stories_go_in_batches_with_their_copies_and_alerts(engine: Engine) -> None:
    old_at = NOW - YEAR - timedelta(days=20)
    old = [_ingest(engine, _article(n), old_at) for n in range(25)]
    recent = [_ingest(engine, _article(n), NOW - timedelta(days=1)) for n in range(100, 102)]
    _set(engine, "UPDATE alerts SET status = 'delivered', delivered_at = created_at")
    # kept: an alert still pending; a copy fetched within the year; a pending alert of a
    # story grouped under it; a label of the desk
    pending, copied, grouping, labelled = old[0], old[1], old[2], old[3]
    _set(engine, "UPDATE alerts SET status = 'pending' WHERE story_id = :s", s=pending)
    assert _ingest(engine, _article(1, url="https://b.test/1"), NOW - timedelta(days=10)) == copied
    _set(
        engine,
        "UPDATE alerts SET status = 'pending', group_story_id = :g WHERE story_id = :s",
        g=grouping,
        s=recent[0],
    )
    _set(
        engine,
        "INSERT INTO labels (story_id, event, verdict) VALUES (:s, 'protest', 'wrong')",
        s=old[3],
    )

    cutoff = NOW - YEAR
    first = prune_batch(engine, "stories", cutoff=cutoff, limit=10, now=NOW)
    assert first == {"stories": 10, "articles": 10, "alerts": 10}  # one batch: at most 10
    rest = prune_kind(engine, "stories", cutoff=cutoff, batch=10, now=NOW)
    assert rest == {"stories": 11, "articles": 11, "alerts": 11}

    with engine.connect() as conn:
        left = set(conn.execute(sa.select(stories.c.id)).scalars())
        statuses = dict(conn.execute(sa.select(alerts.c.story_id, alerts.c.status)).all())
    assert left == {pending, copied, grouping, labelled, *recent}
    assert statuses[pending] == "pending" and statuses[recent[0]] == "pending"
    assert _count(engine, labels) == 1
    assert _count(engine, articles) == 7  # six stories, one of them with two copies
    record = {p.kind: p for p in pruned_counts(engine)}
    assert (record["stories"].total, record["stories"].last_count) == (21, 21)
    assert (record["articles"].total, record["alerts"].total) == (21, 21)
    assert record["stories"].last_run_at == NOW and record["stories"].last_cutoff == cutoff

    # a later run starts its own last count; the total goes on
    later = NOW + timedelta(days=1)
    assert prune_kind(engine, "stories", cutoff=cutoff, batch=10, now=later) == {"stories": 0}
    record = {p.kind: p for p in pruned_counts(engine)}
    assert (record["stories"].total, record["stories"].last_count) == (21, 0)
    assert record["stories"].last_run_at == later

    # a copy of a forgotten story is a new story, not an error
    again = ingest_article(
        engine, _article(5, url="https://c.test/5"), events=(), plan=_alert, now=NOW
    )
    assert again.outcome == "stored"


def test_old_texts_are_dropped_and_their_copies_still_known(engine: Engine) -> None:
    for n in range(3):
        _ingest(
            engine,
            _article(n, canonical=f"https://canon.test/{n}"),
            NOW - timedelta(days=100),
        )
    _ingest(engine, _article(9), NOW - timedelta(days=10))
    labelled = _ingest(engine, _article(8), NOW - timedelta(days=100))
    _set(
        engine,
        "INSERT INTO labels (story_id, event, verdict) VALUES (:s, 'protest', 'missed')",
        s=labelled,
    )
    cutoff = NOW - timedelta(days=90)
    assert prune_batch(engine, "article_text", cutoff=cutoff, limit=2, now=NOW) == {
        "article_text": 2
    }
    assert prune_kind(engine, "article_text", cutoff=cutoff, batch=2, now=NOW) == {
        "article_text": 1
    }
    with engine.connect() as conn:
        texts = dict(conn.execute(sa.select(articles.c.url, articles.c.text)).all())
    assert sorted(u for u, t in texts.items() if t == "") == [
        f"https://a.test/{n}" for n in range(3)
    ]
    assert texts["https://a.test/9"] == _text(9)
    assert texts["https://a.test/8"] == _text(8)  # labelled: `labels export` needs it
    # the rows stay: the same URL, or a page declaring a stored canonical URL, is a duplicate
    for article in (
        _article(0),
        _article(7, url="https://amp.test/1", canonical="https://canon.test/1"),
    ):
        result = ingest_article(engine, article, events=("protest",), plan=_alert, now=NOW)
        assert result.outcome == "duplicate"
    assert {p.kind: p.total for p in pruned_counts(engine)} == {"article_text": 3}


def test_finished_alerts_and_payloads_go_pending_ones_never(engine: Engine) -> None:
    ids = [_ingest(engine, _article(n), NOW - 2 * YEAR) for n in range(4)]
    delivered, dead, pending, fresh = ids
    _set(
        engine,
        "UPDATE alerts SET status = 'delivered', delivered_at = created_at,"
        " payload = '{\"id\": 1}' WHERE story_id IN (:a, :b)",
        a=delivered,
        b=fresh,
    )
    _set(
        engine,
        "UPDATE alerts SET created_at = :t, delivered_at = :t WHERE story_id = :s",
        t=NOW - timedelta(days=5),
        s=fresh,
    )
    _set(engine, "UPDATE alerts SET status = 'dead' WHERE story_id = :s", s=dead)
    payloads = prune_kind(engine, "payloads", cutoff=NOW - timedelta(days=90), batch=10, now=NOW)
    assert payloads == {"payloads": 1}
    gone = prune_kind(engine, "alerts", cutoff=NOW - YEAR, batch=10, now=NOW)
    assert gone == {"alerts": 2}
    with engine.connect() as conn:
        left = conn.execute(sa.select(alerts.c.story_id, alerts.c.status, alerts.c.payload)).all()
    assert {(r.story_id, r.status, r.payload is not None) for r in left} == {
        (pending, "pending", False),
        (fresh, "delivered", True),
    }
    assert _count(engine, stories) == 4  # alerts go; their stories follow only by `stories`


def test_judged_entries_go_open_ones_stay(engine: Engine) -> None:
    found = [FeedEntry(url=f"https://a.test/e{n}", title=f"e{n}") for n in range(5)]
    add_entries(engine, "wire", found)
    for entry in claim_entries(engine, owner="a", lease_seconds=60, limit=3):
        finish_entry(engine, entry.id, owner="a", judged_on="page", verdict="off_topic")
    _set(engine, "UPDATE entries SET updated_at = now() - interval '100 days'")
    cutoff = datetime.now(UTC) - timedelta(days=90)
    assert prune_kind(engine, "entries", cutoff=cutoff, batch=2, now=NOW) == {"entries": 3}
    assert sorted(e.status for e in list_entries(engine)) == ["pending", "pending"]


def test_the_prune_job_logs_counts_and_updates_the_metric(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = validate_settings({}, Path("kw.yaml"))
    old = [_ingest(engine, _article(n), NOW - YEAR - timedelta(days=1)) for n in range(3)]
    _set(engine, "UPDATE alerts SET status = 'delivered', delivered_at = created_at")
    metrics = Metrics(engine, lambda: NOW)
    rt = Runtime(
        settings=settings,
        engine=engine,
        poller=None,  # type: ignore[arg-type]  # pruning crawls nothing
        ingestor=None,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        clock=lambda: NOW,
        metrics=metrics,
    )
    with caplog.at_level(logging.INFO, logger="scheduler.jobs"):
        counts = asyncio.run(prune(rt))
    (logged,) = [r for r in caplog.records if r.getMessage() == "storage.pruned"]
    assert logged.counts["stories"] == len(old)  # type: ignore[attr-defined]
    assert counts["stories"] == len(old) and counts["articles"] == len(old)
    assert counts["alerts"] == len(old) and counts["article_text"] == 0
    text = metrics.render().decode()
    assert 'kurilwatch_pruned_total{kind="stories"} 3.0' in text
    assert 'kurilwatch_pruned_total{kind="alerts"} 3.0' in text
    record = {p.kind: p for p in pruned_counts(engine)}
    assert set(record) >= {"article_text", "stories", "alerts", "payloads", "entries"}
    assert record["stories"].last_count == 3 and record["payloads"].last_run_at == NOW


def test_the_duplicate_check_uses_the_canonical_url_index(engine: Engine) -> None:
    with engine.begin() as conn:
        story = conn.execute(
            sa.insert(stories)
            .values(title="t", url="u", first_seen_at=NOW, content_hash="h")
            .returning(stories.c.id)
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO articles (story_id, source, url, guid, title, text, fetched_at,"
                " content_hash, canonical_url)"
                " SELECT :s, 'wire', 'https://a.test/' || n, 'g' || n, 't', 'x', :t, 'h' || n,"
                " CASE WHEN n % 2 = 0 THEN 'https://canon.test/' || n END"
                " FROM generate_series(1, 20000) AS n"
            ),
            {"s": story, "t": NOW},
        )
        conn.execute(sa.text("ANALYZE articles"))
    probe = Article(
        url="https://amp.test/1",
        canonical_url="https://canon.test/4",
        guid="probe",
        source="wire",
        title="t",
        text="x",
    )
    query = duplicate_query(probe)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", query.sql)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", query.sql)
    with engine.begin() as conn:
        [[known]] = together(conn, [query])
        assert known.known is True
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PREPARE duplicate AS {numbered}")
        values = ", ".join(["%s"] * len(names))
        # planned for these values, and for any values (psycopg prepares a statement it
        # runs often, and PostgreSQL may then keep one plan for all)
        for mode in ("force_custom_plan", "force_generic_plan"):
            raw.execute(f"SET plan_cache_mode = {mode}")
            cursor = psycopg.ClientCursor(raw).execute(  # the values written into the SQL
                f"EXPLAIN EXECUTE duplicate({values})", [query.params[n] for n in names]
            )
            plan = "\n".join(row[0] for row in cursor)
            assert "ix_articles_canonical_url" in plan, (mode, plan)
            assert "Seq Scan" not in plan, (mode, plan)
        raw.execute("DEALLOCATE duplicate")
        raw.execute("RESET plan_cache_mode")


def test_metrics_count_open_work_live_and_the_archive_at_most_once_a_tally(
    engine: Engine,
) -> None:
    now = [NOW]
    metrics = Metrics(engine, lambda: now[0])
    _ingest(engine, _article(1), NOW)
    assert 'kurilwatch_outbox{status="pending"} 1.0' in metrics.render().decode()
    _set(engine, "UPDATE alerts SET status = 'delivered', delivered_at = created_at")
    text = metrics.render().decode()
    assert 'kurilwatch_outbox{status="pending"} 0.0' in text  # read live
    assert 'kurilwatch_outbox{status="delivered"} 0.0' in text  # the tally is not yet due
    now[0] += timedelta(seconds=TALLY_SECONDS)
    assert 'kurilwatch_outbox{status="delivered"} 1.0' in metrics.render().decode()
    status, body = health(engine, scheduler_running=True)
    assert status == 200 and body["outbox"] == {"pending": 0, "dead": 0}
