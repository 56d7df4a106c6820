"""Durable entries on the real PostgreSQL: keeping, leasing, settling, judging, pruning."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.rules import compile_rules
from crawler.pages import Transient, Unusable
from crawler.pipeline import Ingestor
from kurilwatch.backoff import Backoff
from kurilwatch.model import Article, FeedEntry, Rule
from storage.engine import MIGRATIONS, upgrade_schema
from storage.entries import (
    add_entries,
    claim_entries,
    count_entries,
    finish_entry,
    list_entries,
    retry_entry,
)
from storage.outbox import list_alerts
from storage.stories import list_stories

NOW = datetime.now(UTC)
SUMMARY = (
    "Japan lodged a diplomatic protest with Russia on Tuesday over military drills on "
    "Etorofu in the Kuril Islands, the foreign ministry said."
)


def _entries(*urls: str) -> list[FeedEntry]:
    return [
        FeedEntry(
            url=url,
            title=f"Japan protests Kuril drills - Example Wire {i}",
            summary=SUMMARY,
            published_at=NOW,
        )
        for i, url in enumerate(urls)
    ]


def _ingestor(engine: Engine, *, owner: str = "a", give_up: float = 86400.0) -> Ingestor:
    rules = (
        Rule(name="protest", event="protest", query="kuril* AND protest*"),
        Rule(name="drill", event="exercise", query="kuril* AND drill*"),
    )
    ruleset = compile_rules("kuril*", rules)
    return Ingestor(
        engine=engine,
        ruleset=ruleset,
        rules=rules,
        channels=("desk",),
        max_age_seconds=72 * 3600.0,
        clock=lambda: datetime.now(UTC),
        owner=owner,
        backoff=Backoff(initial=10.0, cap=3600.0, give_up=give_up),
        rng=random.Random(7),
    )


def test_an_entry_is_kept_once_whatever_lists_it(engine: Engine) -> None:
    assert add_entries(engine, "wire", _entries("https://a.test/1", "https://a.test/2")) == 2
    assert add_entries(engine, "other", _entries("https://a.test/2", "https://a.test/3")) == 1
    kept = {e.url: e for e in list_entries(engine)}
    assert set(kept) == {"https://a.test/1", "https://a.test/2", "https://a.test/3"}
    assert kept["https://a.test/2"].source == "wire"  # the first index to list it
    assert kept["https://a.test/1"].summary == SUMMARY
    assert count_entries(engine)["pending"] == 3


def test_a_claim_takes_only_the_entries_of_the_sources_named(engine: Engine) -> None:
    add_entries(engine, "wire", _entries("https://a.test/w1", "https://a.test/w2"))
    add_entries(engine, "other", _entries("https://b.test/o1"))
    add_entries(engine, "third", _entries("https://c.test/t1"))
    # a daemon of many sources names them all: one array parameter, however many
    names = ["wire", *(f"unused-{i}" for i in range(10_000)), "third"]
    claimed = claim_entries(engine, owner="a", lease_seconds=60, limit=50, sources=names)
    assert sorted(e.url for e in claimed) == [
        "https://a.test/w1",
        "https://a.test/w2",
        "https://c.test/t1",
    ]
    assert claim_entries(engine, owner="a", lease_seconds=60, limit=50, sources=[]) == []
    [other] = claim_entries(engine, owner="a", lease_seconds=60, limit=50, sources=["other"])
    assert other.url == "https://b.test/o1"


def test_claims_never_overlap_and_a_dead_holders_lease_runs_out(engine: Engine) -> None:
    add_entries(engine, "wire", _entries(*(f"https://a.test/{i}" for i in range(40))))
    got: dict[str, list[int]] = {}

    def claim(owner: str) -> None:
        got[owner] = [e.id for e in claim_entries(engine, owner=owner, lease_seconds=60, limit=25)]

    threads = [threading.Thread(target=claim, args=(o,)) for o in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 40
    assert claim_entries(engine, owner="c", lease_seconds=60, limit=50) == []
    # "a" dies: its leases end (on the database's clock), and "c" takes its entries over
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE entries SET leased_until = now() - interval '1 second' WHERE id = ANY(:ids)"
            ),
            {"ids": got["a"]},
        )
    taken = claim_entries(engine, owner="c", lease_seconds=60, limit=50)
    assert sorted(e.id for e in taken) == sorted(got["a"])
    assert all(e.attempts == 2 for e in taken)
    # a late settle from "a" changes nothing
    assert not finish_entry(engine, got["a"][0], owner="a", judged_on="page", verdict="stored")
    assert finish_entry(engine, got["a"][0], owner="c", judged_on="page", verdict="stored")


def test_a_transient_failure_waits_for_its_own_next_attempt(engine: Engine) -> None:
    add_entries(engine, "wire", _entries("https://a.test/1"))
    (entry,) = claim_entries(engine, owner="a", lease_seconds=60, limit=5)
    assert retry_entry(engine, entry.id, owner="a", error="HTTP 503", delay_seconds=3600)
    assert claim_entries(engine, owner="a", lease_seconds=60, limit=5) == []
    (shown,) = list_entries(engine, statuses=["retrying"])
    assert shown.last_error == "HTTP 503"
    assert shown.next_attempt_at is not None
    assert shown.next_attempt_at > datetime.now(UTC) + timedelta(minutes=59)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE entries SET next_attempt_at = now()"))
    (again,) = claim_entries(engine, owner="a", lease_seconds=60, limit=5)
    assert again.attempts == 2


def test_an_unusable_page_is_judged_on_the_feed_text_and_alerts(engine: Engine) -> None:
    add_entries(engine, "wire", _entries("https://a.test/blocked"))
    (entry,) = claim_entries(engine, owner="a", lease_seconds=60, limit=5)
    verdict = _ingestor(engine).judge(entry, Unusable("the page answered HTTP 403"))
    assert verdict == "stored"
    (done,) = list_entries(engine)
    assert (done.status, done.verdict, done.reason) == (
        "feed",
        "stored",
        "the page answered HTTP 403",
    )
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT title, outlet, text, text_source, text_reason FROM articles")
        ).one()
    assert row.title == "Japan protests Kuril drills"
    assert row.outlet == "Example Wire 0"  # the trailing " - Publisher" moved
    assert row.text == SUMMARY
    assert (row.text_source, row.text_reason) == ("feed", "the page answered HTTP 403")
    (alert,) = list_alerts(engine)
    assert set(alert["events"]) == {"protest", "exercise"}


def test_transient_failures_retry_then_give_up_to_the_feed_text(engine: Engine) -> None:
    add_entries(engine, "wire", _entries("https://a.test/flaky"))
    ingestor = _ingestor(engine, give_up=86400.0)
    (entry,) = claim_entries(engine, owner="a", lease_seconds=60, limit=5)
    assert ingestor.judge(entry, Transient("HTTP 503", after=30.0)) == "retrying"
    (waiting,) = list_entries(engine)
    assert waiting.status == "retrying"
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=25)  # Retry-After
    assert list_stories(engine) == []
    # a day later the next try would be too late: judged on what the feed said
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE entries SET next_attempt_at = now(), "
                "first_seen_at = now() - interval '25 hours'"
            )
        )
    (entry,) = claim_entries(engine, owner="a", lease_seconds=60, limit=5)
    assert ingestor.judge(entry, Transient("TimeoutError: took too long")) == "stored"
    (done,) = list_entries(engine)
    assert done.status == "feed"
    assert done.reason is not None
    assert done.reason.startswith("the page failed 2 times")


def test_a_page_read_in_full_is_judged_on_its_page(engine: Engine) -> None:
    add_entries(engine, "wire", _entries("https://a.test/full"))
    (entry,) = claim_entries(engine, owner="a", lease_seconds=60, limit=5)
    article = Article(
        url="https://a.test/full",
        source="wire",
        title="Japan protests Kuril drills",
        text=SUMMARY + " More paragraphs of the full report follow here.",
        canonical_url="https://a.test/full-story",
    )
    assert _ingestor(engine).judge(entry, article) == "stored"
    (done,) = list_entries(engine)
    assert (done.status, done.verdict, done.reason) == ("done", "stored", None)


def test_the_entries_migration_keeps_what_was_decided(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO seen_urls (url, source, verdict, seen_at) "
                "VALUES ('https://a.test/off', 'wire', 'off_topic', now())"
            )
        )
    upgrade_schema(engine)
    (kept,) = list_entries(engine)
    assert (kept.url, kept.status, kept.verdict) == ("https://a.test/off", "done", "off_topic")
    assert add_entries(engine, "wire", _entries("https://a.test/off")) == 0
