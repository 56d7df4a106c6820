"""Source ownership on the real PostgreSQL: claims, renewal, prune, recreation on take."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kurilwatch.errors import SourceNotFound
from kurilwatch.model import Article, FeedEntry, Source
from scheduler.metrics import Metrics, health
from storage.articles import ingest_article
from storage.engine import HEAD, MIGRATIONS, upgrade_schema
from storage.entries import add_entries, claim_entries
from storage.source_checks import StoredCheck, checks_by_source, store_checks, unpolled_checks
from storage.sources import (
    PollRecord,
    list_sources,
    prune_sources,
    record_poll,
    renew_sources,
    sync_sources,
    take_source,
)
from tests.support.timeline import ServedUi

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
CLAIM = 300.0


def _source(name: str, url: str | None = None) -> Source:
    return Source(
        name=name, kind="feed", url=url or f"https://{name}.test/rss.xml", every_seconds=60
    )


def _record(engine: Engine, source: Source, record: PollRecord, *, now: datetime = NOW) -> None:
    """Take `source` and record one poll of it, as a daemon does."""
    assert take_source(engine, source, owner="daemon", seconds=60) is not None
    assert record_poll(engine, source.name, record, owner="daemon", now=now) is not None


def _lapse(engine: Engine, *names: str, ago: float = 1.0) -> None:
    """The claims on `names` lapsed `ago` seconds ago, on the database's clock."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE sources SET configured_until = now() - make_interval(secs => :ago) "
                "WHERE name = ANY(:names)"
            ),
            {"ago": ago, "names": list(names)},
        )


def _claim_left(engine: Engine, name: str) -> float:
    """Seconds left of the claim on `name`, on the database's clock."""
    with engine.connect() as conn:
        return float(
            conn.execute(
                sa.text(
                    "SELECT extract(epoch FROM configured_until - now()) FROM sources "
                    "WHERE name = :name"
                ),
                {"name": name},
            ).scalar_one()
        )


def _until(engine: Engine, name: str) -> datetime:
    with engine.connect() as conn:
        return conn.execute(  # type: ignore[no-any-return]
            sa.text("SELECT configured_until FROM sources WHERE name = :name"), {"name": name}
        ).scalar_one()


def _by_name(engine: Engine, now: datetime) -> dict[str, dict[str, object]]:
    return {r["name"]: r for r in list_sources(engine, now=now)}


def test_a_run_with_another_configuration_removes_nothing(engine: Engine) -> None:
    daemon = [_source("wire"), _source("agency")]
    sync_sources(engine, daemon, claim_seconds=CLAIM)
    _record(engine, daemon[0], PollRecord(ok=True, etag='"v1"'))
    # a one-off run with another file, and a later restart of it with nothing in common
    sync_sources(engine, [_source("other")], claim_seconds=CLAIM)
    sync_sources(engine, [_source("other2")], claim_seconds=CLAIM)
    rows = _by_name(engine, NOW + timedelta(seconds=10))
    assert set(rows) == {"wire", "agency", "other", "other2"}
    assert all(r["configured"] for r in rows.values())
    taken = take_source(engine, daemon[0], owner="daemon", seconds=60)
    assert taken is not None and taken.etag == '"v1"'  # its validators survived too


def test_a_claim_is_extended_never_shortened(engine: Engine) -> None:
    sync_sources(engine, [_source("wire")], claim_seconds=CLAIM)
    # a replica of the same file with a shorter claim does not cut the daemon's
    sync_sources(engine, [_source("wire")], claim_seconds=5)
    assert renew_sources(engine, [_source("wire")], claim_seconds=5) == []
    [row] = list_sources(engine, now=NOW)
    assert row["configured"] and row["not_configured_since"] is None
    assert _claim_left(engine, "wire") > CLAIM / 2  # the longest claim stands (5 s would not)


def test_a_source_nobody_renews_is_not_configured_since_its_claim_lapsed(engine: Engine) -> None:
    sync_sources(engine, [_source("wire"), _source("gone")], claim_seconds=CLAIM)
    _lapse(engine, "wire", "gone")  # time passes, on the database's clock
    renew_sources(engine, [_source("wire")], claim_seconds=CLAIM)  # still running
    rows = _by_name(engine, NOW)
    assert rows["wire"]["configured"] is True and rows["wire"]["not_configured_since"] is None
    assert rows["gone"]["configured"] is False
    assert rows["gone"]["not_configured_since"] == _until(engine, "gone").isoformat()


def test_prune_removes_only_what_no_configuration_claims(engine: Engine) -> None:
    sync_sources(engine, [_source("wire"), _source("gone"), _source("busy")], claim_seconds=CLAIM)
    ingest_article(
        engine,
        Article(
            url="https://gone.test/a",
            source="gone",
            title="Japan protests drills on Etorofu",
            text="Japan lodged a protest with Russia over drills on Etorofu. " * 4,
            language="en",
            published_at=NOW,
        ),
        events=(),
        plan=lambda _: [],
        now=NOW,
    )
    _lapse(engine, "wire", "gone", "busy", ago=60)
    renew_sources(engine, [_source("wire")], claim_seconds=CLAIM)
    # "busy" lapsed too, but a poll holds it: whoever polls it owns it
    assert take_source(engine, _source("busy"), owner="x", seconds=60) is not None

    lapsed = _until(engine, "gone")
    dry = prune_sources(engine, dry_run=True)
    assert [(s.name, s.url) for s in dry] == [("gone", "https://gone.test/rss.xml")]
    assert dry[0].configured_until == lapsed
    assert set(_by_name(engine, NOW)) == {"wire", "gone", "busy"}  # a dry run removes nothing

    assert [s.name for s in prune_sources(engine)] == ["gone"]
    assert set(_by_name(engine, NOW)) == {"wire", "busy"}
    assert prune_sources(engine) == []
    with engine.connect() as conn:  # its articles stay
        stored = conn.execute(sa.text("select count(*) from articles where source = 'gone'"))
        assert stored.scalar_one() == 1


def test_a_claim_is_judged_on_the_database_clock(engine: Engine) -> None:
    sync_sources(engine, [_source("wire")], claim_seconds=CLAIM)
    _lapse(engine, "wire", ago=-5)  # five seconds left on the database's clock
    # whatever the caller's clock says, a live claim is live: nothing is pruned
    assert prune_sources(engine) == []
    assert list_sources(engine, now=NOW + timedelta(days=365))[0]["configured"] is True


def test_a_pruned_source_is_recreated_by_the_configuration_that_still_names_it(
    engine: Engine,
) -> None:
    wire = _source("wire")
    sync_sources(engine, [wire], claim_seconds=CLAIM)
    _lapse(engine, "wire")  # the daemon was suspended past its claim
    assert [s.name for s in prune_sources(engine)] == ["wire"]
    with pytest.raises(SourceNotFound):
        take_source(engine, wire, owner="daemon", seconds=60)
    assert renew_sources(engine, [wire, _source("agency")], claim_seconds=CLAIM) == [
        "agency",
        "wire",
    ]
    assert renew_sources(engine, [wire], claim_seconds=CLAIM) == []
    taken = take_source(engine, wire, owner="daemon", seconds=60)
    assert taken is not None and taken.etag is None
    [row] = [r for r in list_sources(engine, now=NOW) if r["name"] == "wire"]
    assert row["configured"] and row["url"] == wire.url
    # held by one daemon: the other is told so, not that the row is missing
    assert take_source(engine, wire, owner="replica", seconds=60) is None


def test_one_name_for_two_urls_never_mixes_their_validators(engine: Engine) -> None:
    ours = _source("wire", "https://a.test/rss.xml")
    theirs = _source("wire", "https://b.test/rss.xml")
    sync_sources(engine, [ours], claim_seconds=CLAIM)
    take_source(engine, ours, owner="a", seconds=60)
    record_poll(
        engine, "wire", PollRecord(ok=True, etag='"a"', last_modified="A"), owner="a", now=NOW
    )
    got = take_source(engine, theirs, owner="b", seconds=60)
    assert got is not None and (got.url, got.etag, got.last_modified) == (theirs.url, None, None)
    record_poll(engine, "wire", PollRecord(ok=True, etag='"b"'), owner="b", now=NOW)
    again = take_source(engine, ours, owner="a", seconds=60)
    assert again is not None and (again.url, again.etag) == (ours.url, None)


def test_health_and_metrics_count_only_configured_sources(engine: Engine) -> None:
    now = datetime.now(UTC)
    sync_sources(engine, [_source("wire"), _source("gone")], claim_seconds=CLAIM)
    _lapse(engine, "gone", ago=86400)  # claimed last a day ago
    for name in ("wire", "gone"):
        _record(engine, _source(name), PollRecord(ok=False, error="HTTP 500"), now=now)
    status, body = health(engine, scheduler_running=True)
    assert status == 200
    assert (body["sources"], body["failing_sources"], body["unconfigured_sources"]) == (1, 1, 1)
    _record(engine, _source("wire"), PollRecord(ok=True, new_items=1), now=now)
    text = Metrics(engine, lambda: now).render().decode()
    assert 'kurilwatch_source_staleness_seconds{source="wire"}' in text
    assert 'source="gone"' not in text


def test_rows_from_before_ownership_start_configured(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008_lossless_grouping")
        conn.execute(
            sa.text("insert into sources (name, kind, url) values ('wire', 'feed', 'https://a/')")
        )
        before = conn.execute(sa.text("select now()")).scalar_one()
    assert upgrade_schema(engine) == HEAD
    with engine.connect() as conn:
        after = conn.execute(sa.text("select now()")).scalar_one()
        until = conn.execute(sa.text("select configured_until from sources")).scalar_one()
    assert before <= until <= after  # claimed until the upgrade: the next run takes over
    [row] = list_sources(engine, now=until)
    assert row["not_configured_since"] == until.isoformat()


def test_a_source_locked_for_a_moment_is_waited_for_not_skipped(engine: Engine) -> None:
    wire = _source("wire")
    sync_sources(engine, [wire], claim_seconds=CLAIM)
    got: list[object] = []
    with engine.connect() as other:
        # a claim being renewed (or a poll recorded) holds the row's lock, uncommitted
        other.execute(sa.text("update sources set configured_until = configured_until"))
        taker = threading.Thread(
            target=lambda: got.append(take_source(engine, wire, owner="a", seconds=60))
        )
        taker.start()
        taker.join(timeout=0.5)
        assert not got  # waiting for the lock, not skipping the poll
        other.commit()
    taker.join(timeout=30)
    assert got and got[0] is not None
    # held under a lease by another daemon: that one is skipped at once
    assert take_source(engine, wire, owner="b", seconds=60) is None


def test_prune_skips_a_row_in_use_instead_of_waiting_for_it(engine: Engine) -> None:
    sync_sources(engine, [_source("gone")], claim_seconds=CLAIM)
    _lapse(engine, "gone")
    got: list[list[object]] = []
    with engine.connect() as other:
        # a claim being renewed by a process that then stalls (suspended, say)
        other.execute(sa.text("update sources set configured_until = configured_until"))
        pruner = threading.Thread(target=lambda: got.append(prune_sources(engine)))
        pruner.start()
        pruner.join(timeout=30)
        other.commit()
    pruner.join(timeout=30)
    assert got == [[]]  # answered at once, removing nothing
    assert [s.name for s in prune_sources(engine)] == ["gone"]


def test_a_run_works_only_the_entries_of_the_sources_it_configures(engine: Engine) -> None:
    # another file's entries go to that file's rules and channels, not this run's
    add_entries(engine, "ours", [FeedEntry(url="https://a.test/1", title="Kuril drills")])
    add_entries(engine, "theirs", [FeedEntry(url="https://b.test/1", title="Kuril drills")])
    mine = claim_entries(engine, owner="a", lease_seconds=60, limit=10, sources=["ours"])
    assert [e.source for e in mine] == ["ours"]
    assert claim_entries(engine, owner="a", lease_seconds=60, limit=10, sources=["ours"]) == []
    theirs = claim_entries(engine, owner="b", lease_seconds=60, limit=10, sources=["theirs"])
    assert [e.source for e in theirs] == ["theirs"]


def test_a_poll_note_stands_until_the_index_is_read_again(engine: Engine) -> None:
    old = _source("old")
    sync_sources(engine, [old], claim_seconds=CLAIM)
    note = "all 3 entries older than alert_max_age"
    _record(engine, old, PollRecord(ok=True, items=0, note=note))
    assert _by_name(engine, NOW)["old"]["last_note"] == note
    # not modified: the index was not read, so what was said of it still holds
    _record(engine, old, PollRecord(ok=True, items=0, keep_note=True))
    assert _by_name(engine, NOW)["old"]["last_note"] == note
    # a failure says nothing of the index: the note stays beside the error
    _record(engine, old, PollRecord(ok=False, error="HTTP 503"))
    row = _by_name(engine, NOW)["old"]
    assert (row["last_error"], row["last_note"]) == ("HTTP 503", note)
    _record(engine, old, PollRecord(ok=True, items=2, new_items=2))
    row = _by_name(engine, NOW)["old"]
    assert (row["last_error"], row["last_note"]) == (None, None)


def _check(name: str, verdict: str, at: datetime, url: str | None = None) -> StoredCheck:
    return StoredCheck(
        source=name,
        kind="feed",
        url=url or f"https://{name}.test/rss.xml",
        verdict=verdict,
        reason=f"{name} is {verdict}",
        answer="HTTP 200",
        robots="allowed",
        items=3,
        newest_at=at - timedelta(hours=1),
        checked_at=at,
    )


def test_the_latest_check_of_each_source_is_kept_and_goes_with_a_pruned_source(
    engine: Engine,
) -> None:
    sync_sources(engine, [_source("wire"), _source("gone")], claim_seconds=CLAIM)
    store_checks(engine, [_check("wire", "stale", NOW), _check("gone", "gone", NOW)])
    store_checks(
        engine, [_check("wire", "ok", NOW + timedelta(minutes=5)), _check("new", "ok", NOW)]
    )
    rows = _by_name(engine, NOW)
    wire = rows["wire"]["check"]
    assert isinstance(wire, dict)
    assert (wire["verdict"], wire["reason"]) == ("ok", "wire is ok")
    assert wire["checked_at"] == (NOW + timedelta(minutes=5)).isoformat()
    assert wire["newest"] == (NOW - timedelta(minutes=55)).isoformat()
    # checked before any daemon named it: kept, listed apart
    assert [c.source for c in unpolled_checks(engine)] == ["new"]
    # a source that is pruned takes its check with it; the others stay
    _lapse(engine, "gone")
    prune_sources(engine, dry_run=True)
    with engine.connect() as conn:
        assert set(checks_by_source(conn)) == {"wire", "gone", "new"}  # a dry run removes none
    assert [s.name for s in prune_sources(engine)] == ["gone"]
    with engine.connect() as conn:
        assert set(checks_by_source(conn)) == {"wire", "new"}


def test_the_sources_api_shows_urls_redacted_unless_marked_safe(engine: Engine) -> None:
    keyed = "https://keyed.test/rss.xml?api_key=k3y-Kuril-0123456789"
    plain = "https://plain.test/rss.xml?lang=en"
    sync_sources(engine, [_source("keyed", keyed), _source("plain", plain)], claim_seconds=CLAIM)
    store_checks(engine, [_check("keyed", "ok", NOW, url="https://keyed.test/rss.xml?api_key=***")])
    with (
        ServedUi(engine, safe_urls=frozenset({plain})) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
    ):
        body = http.get("/api/sources").json()
        html = http.get("/sources").text
    urls = {r["name"]: r["url"] for r in body["sources"]}
    assert urls == {"keyed": "https://keyed.test/rss.xml?api_key=***", "plain": plain}
    assert body["sources"][0]["check"]["verdict"] == "ok"
    assert "k3y-Kuril" not in html and "k3y-Kuril" not in json.dumps(body)
    assert "never checked" in html  # plain has no check yet
