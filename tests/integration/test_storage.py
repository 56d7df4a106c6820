"""Storage on the real PostgreSQL: exact dedup, stories, the outbox, migrations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kurilwatch.model import AlertPlan, Article, Evidence, Source, StoryState
from storage.articles import ingest_article
from storage.assign import lock_keys
from storage.containment import contain_print
from storage.engine import (
    HEAD,
    MIGRATIONS,
    Statement,
    schema_is_current,
    together,
    upgrade_schema,
)
from storage.fingerprint import content_hash as content_hash_of
from storage.fingerprint import near_print
from storage.outbox import claim_due, list_alerts, mark_delivered, mark_failed
from storage.sources import (
    PollRecord,
    list_sources,
    load_source,
    record_poll,
    sync_sources,
    take_source,
)
from storage.stories import list_stories
from storage.tables import metadata

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
OTHER_TEXT = "Russia held artillery drills on Kunashiri, its Eastern Military District said. " * 3
TEXT = "Japan lodged a protest with Russia over drills on Etorofu, officials said on Monday. " * 3
EVIDENCE = Evidence(
    rule="protest", event="protest", sentences=("Japan lodged a protest.",), terms=("protest",)
)


def _article(
    url: str, text: str = TEXT, *, source: str = "wire", guid: str | None = None
) -> Article:
    return Article(
        url=url,
        source=source,
        title="Japan protests drills",
        text=text,
        language="en",
        published_at=NOW,
        guid=guid,
    )


def _alert_once(state: StoryState) -> list[AlertPlan]:
    if "desk" in state.alerted:
        return []
    return [
        AlertPlan(channel="desk", events=("protest",), rules=("protest",), evidence=(EVIDENCE,))
    ]


def _ingest(engine: Engine, article: Article, now: datetime = NOW) -> object:
    return ingest_article(engine, article, events=("protest",), plan=_alert_once, now=now)


def test_migrations_match_the_table_definitions(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    assert schema_is_current(engine)
    # the start-up shortcut trusts HEAD: it must be Alembic's head
    assert ScriptDirectory(str(MIGRATIONS)).get_heads() == [HEAD]
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []


def test_an_older_schema_is_upgraded_and_a_current_one_left_alone(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    assert not schema_is_current(engine)
    assert upgrade_schema(engine) == HEAD  # not fooled by the shortcut: Alembic ran
    assert schema_is_current(engine)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("sources")}
    assert {"leased_until", "leased_by"} <= columns
    assert upgrade_schema(engine) == HEAD  # at head: nothing to do


def test_exact_copies_join_one_story_and_alert_once(engine: Engine) -> None:
    first = _ingest(engine, _article("https://a.test/1"))
    again = _ingest(engine, _article("https://a.test/1"))
    copy = _ingest(
        engine, _article("https://b.test/x", "TOKYO (Kyodo) -- " + TEXT + "\n© 2026 Kyodo")
    )
    other = _ingest(engine, _article("https://c.test/y", TEXT.replace("Etorofu", "Kunashiri")))
    assert [r.outcome for r in (first, again, copy, other)] == [
        "stored",
        "duplicate",
        "joined",
        "stored",
    ]  # type: ignore[attr-defined]
    stories = list_stories(engine)
    assert len(stories) == 2
    joined = next(s for s in stories if s["id"] == first.story_id)  # type: ignore[attr-defined]
    assert joined["urls"] == ["https://a.test/1", "https://b.test/x"]
    assert len(list_alerts(engine)) == 2


def test_same_guid_in_one_source_is_a_duplicate(engine: Engine) -> None:
    assert _ingest(engine, _article("https://a.test/1", guid="g1")).outcome == "stored"  # type: ignore[attr-defined]
    moved = _article("https://a.test/1?amp=1", TEXT + " Updated.", guid="g1")
    assert _ingest(engine, moved).outcome == "duplicate"  # type: ignore[attr-defined]
    elsewhere = _article("https://b.test/1", TEXT + " Updated.", source="other", guid="g1")
    assert _ingest(engine, elsewhere).outcome == "stored"  # type: ignore[attr-defined]


def test_concurrent_copies_end_in_one_story(engine: Engine) -> None:
    barrier = threading.Barrier(6)
    results: list[object] = []

    def worker(n: int) -> None:
        barrier.wait()
        results.append(_ingest(engine, _article(f"https://outlet{n}.test/story")))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.outcome for r in results) == ["joined"] * 5 + ["stored"]  # type: ignore[attr-defined]
    assert len(list_stories(engine)) == 1
    assert len(list_alerts(engine)) == 1


def _record(engine: Engine, source: Source, record: PollRecord, *, now: datetime = NOW) -> None:
    """Take `source` and record one poll of it, as a daemon does."""
    assert take_source(engine, source, owner="daemon", seconds=60) is not None
    assert record_poll(engine, source.name, record, owner="daemon", now=now) is not None


def _claim(engine: Engine, owner: str, now: datetime = NOW, limit: int = 10) -> list:  # type: ignore[type-arg]
    return claim_due(engine, owner=owner, now=now, lease_seconds=60, limit=limit, channels={"desk"})


def _lapse(engine: Engine, table: str) -> None:
    """Every lease in `table` ran out a second ago, on the database's clock."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET leased_until = now() - interval '1 second'"))


def test_outbox_claims_under_lease_and_records_outcomes(engine: Engine) -> None:
    _ingest(engine, _article("https://a.test/1"))
    _ingest(engine, _article("https://a.test/2", TEXT + " Second story."))
    claimed = _claim(engine, "a")
    assert len(claimed) == 2
    assert claimed[0].story.urls == ("https://a.test/1",)
    # leased: a second worker gets nothing until the lease lapses on the database's clock
    assert _claim(engine, "b") == []
    _lapse(engine, "alerts")
    assert len(_claim(engine, "a")) == 2  # "a" again: its own write-backs below still count
    assert mark_delivered(engine, claimed[0].alert.id, owner="a", now=NOW)
    assert mark_failed(
        engine,
        claimed[1].alert.id,
        owner="a",
        error="HTTP 503",
        retry_at=NOW + timedelta(minutes=5),
    )
    later = NOW + timedelta(minutes=2)
    assert _claim(engine, "a", later) == []
    due = _claim(engine, "a", NOW + timedelta(minutes=6))
    assert [c.alert.id for c in due] == [claimed[1].alert.id]
    assert mark_failed(engine, due[0].alert.id, owner="a", error="HTTP 404", retry_at=None)
    states = {a["id"]: (a["status"], a["attempts"], a["last_error"]) for a in list_alerts(engine)}
    assert states[claimed[0].alert.id] == ("delivered", 1, None)
    assert states[claimed[1].alert.id] == ("dead", 2, "HTTP 404")
    # recorded: a second write-back of either changes nothing
    assert not mark_delivered(engine, claimed[1].alert.id, owner="a", now=NOW)


def test_skip_locked_keeps_two_workers_apart(engine: Engine) -> None:
    for n in range(20):
        _ingest(engine, _article(f"https://a.test/{n}", f"{TEXT} Story number {n}."))
    got: list[list[str]] = [[], []]

    def worker(i: int) -> None:
        for item in _claim(engine, f"w{i}", limit=15):
            got[i].append(item.alert.id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got[0]) & set(got[1])
    assert len(got[0]) + len(got[1]) == 20


def test_replicas_share_polls_a_scheduled_take_skips_a_source_another_just_polled(
    engine: Engine,
) -> None:
    configured = Source(name="wire", kind="feed", url="https://a.test/rss", every_seconds=60)
    sync_sources(engine, [configured], claim_seconds=300)
    assert take_source(engine, configured, owner="a", seconds=60, fresh_seconds=30, scheduled=True)
    assert record_poll(engine, "wire", PollRecord(ok=True), owner="a", now=NOW) is not None
    # b's turn comes before a's poll has aged: skipped; a's own next turn is not
    assert take_source(engine, configured, owner="b", seconds=60, scheduled=True) is None
    assert take_source(engine, configured, owner="a", seconds=60, fresh_seconds=30, scheduled=True)
    assert record_poll(engine, "wire", PollRecord(ok=True), owner="a", now=NOW) is not None
    # an unscheduled poll (run --once) always polls, and marks the source fresh for b
    assert take_source(engine, configured, owner="c", seconds=60, fresh_seconds=30)
    assert record_poll(engine, "wire", PollRecord(ok=True), owner="c", now=NOW) is not None
    assert take_source(engine, configured, owner="a", seconds=60, scheduled=True) is None
    # once fresh time has passed on the database's clock, any replica's turn polls it
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sources SET fresh_until = now() - interval '1 second'"))
    assert take_source(engine, configured, owner="b", seconds=60, scheduled=True) is not None


def test_a_source_is_taken_with_its_validators_and_given_back_with_its_record(
    engine: Engine,
) -> None:
    configured = Source(name="wire", kind="feed", url="https://a.test/rss", every_seconds=60)
    sync_sources(engine, [configured], claim_seconds=300)
    _record(engine, configured, PollRecord(ok=True, etag='"v1"', last_modified="M"))
    taken = take_source(engine, configured, owner="a", seconds=60)
    assert taken is not None and (taken.etag, taken.last_modified) == ('"v1"', "M")
    assert taken.name == "wire" and taken.url == configured.url
    # held: another daemon does not get it, until the lease lapses on the database's clock
    assert take_source(engine, configured, owner="b", seconds=60) is None
    _lapse(engine, "sources")
    assert take_source(engine, configured, owner="b", seconds=60) is not None
    # b holds it now; a's record changes nothing (b's poll is the one that counts)
    assert (
        record_poll(engine, "wire", PollRecord(ok=False, error="late"), owner="a", now=NOW) is None
    )
    assert take_source(engine, configured, owner="c", seconds=60) is None
    assert list_sources(engine, now=NOW)[0]["last_error"] is None
    record = PollRecord(ok=True, keep_validators=True)
    assert record_poll(engine, "wire", record, owner="b", now=NOW) is not None
    again = take_source(engine, configured, owner="c", seconds=60)
    assert again is not None and again.etag == '"v1"'
    # many sources in one batched statement: each keeps its own row
    many = [
        Source(name=f"s{i}", kind="feed", url=f"https://a.test/{i}", every_seconds=60)
        for i in range(50)
    ]
    sync_sources(engine, [configured, *many], claim_seconds=300)
    assert [r["url"] for r in list_sources(engine, now=NOW, names=["s7", "wire"])] == [
        "https://a.test/7",
        "https://a.test/rss",
    ]
    assert load_source(engine, configured).etag == '"v1"'  # an unchanged URL keeps them


def test_source_health_and_validators(engine: Engine) -> None:
    configured = Source(name="wire", kind="feed", url="https://a.test/rss", every_seconds=60)
    sync_sources(engine, [configured], claim_seconds=300)
    _record(engine, configured, PollRecord(ok=True, items=5, etag='"v1"', body_sha256="ab"))
    assert load_source(engine, configured).etag == '"v1"'
    _record(engine, configured, PollRecord(ok=False, error="HTTP 500"))
    _record(engine, configured, PollRecord(ok=False, error="HTTP 502"))
    [row] = list_sources(engine, now=NOW)
    assert row["last_error"] == "HTTP 502" and row["consecutive_failures"] == 2
    assert row["last_ok_at"] == NOW.isoformat()
    moved = Source(name="wire", kind="feed", url="https://a.test/feed", every_seconds=60)
    sync_sources(engine, [moved], claim_seconds=300)
    assert load_source(engine, moved).etag is None  # a new URL starts without validators
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from sources")).scalar_one() == 1


def test_a_stored_copy_counts_for_its_source_and_indexes_its_bands_and_anchors(
    engine: Engine,
) -> None:
    from storage.containment import contain_print
    from storage.fingerprint import near_print
    from tests.support.stories import story_by_key

    story = story_by_key("etorofu-drill-protest")
    sync_sources(
        engine,
        [Source(name="wire", kind="feed", url="https://a.test/rss", every_seconds=60)],
        claim_seconds=300,
    )
    copy = Article(
        url="https://a.test/1", source="wire", title=story.title, text=story.text, language="en"
    )
    first = ingest_article(engine, copy, events=("protest",), plan=_alert_once, now=NOW)
    again = ingest_article(engine, copy, events=("protest",), plan=_alert_once, now=NOW)
    assert (first.outcome, again.outcome) == ("stored", "duplicate")
    [row] = list_sources(engine, now=NOW)
    assert row["articles_stored"] == 1  # the duplicate is not counted
    near = near_print(story.text)
    contain = contain_print(story.title, story.text)
    assert near is not None and contain is not None
    with engine.connect() as conn:
        bands = conn.execute(sa.text("SELECT band, story_id, seen_at FROM article_bands")).all()
        anchors = conn.execute(
            sa.text("SELECT anchor, story_id, anchor_count, seen_at FROM article_anchors")
        ).all()
    assert sorted(b.band for b in bands) == sorted(set(near.bands))
    assert sorted(a.anchor for a in anchors) == sorted(set(contain.anchors))
    assert {(b.story_id, b.seen_at) for b in bands} == {(first.story_id, NOW)}
    assert {(a.story_id, a.anchor_count, a.seen_at) for a in anchors} == {
        (first.story_id, len(contain.anchors), NOW)
    }


def test_concurrent_near_duplicate_copies_end_in_one_story(engine: Engine) -> None:
    from tests.support.stories import story_by_key
    from tests.support.syndicate import STYLES, syndicate

    original = story_by_key("etorofu-drill-protest")
    copies = [syndicate(original.title, original.text, style)[1] for style in STYLES]
    assert len({content_hash_of(c) for c in copies}) >= 4  # most differ beyond normalization
    barrier = threading.Barrier(len(copies))
    results: list[object] = []

    def worker(n: int) -> None:
        barrier.wait()
        results.append(_ingest(engine, _article(f"https://outlet{n}.test/x", copies[n])))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(copies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.outcome for r in results) == ["joined"] * (len(copies) - 1) + ["stored"]  # type: ignore[attr-defined]
    assert "near" in {r.how for r in results}  # type: ignore[attr-defined]
    assert len(list_stories(engine)) == 1
    assert len(list_alerts(engine)) == 1


def test_different_stories_about_one_event_stay_apart(engine: Engine) -> None:
    from tests.e2e.test_syndication import SAME_EVENT_A, SAME_EVENT_B

    a = _ingest(engine, _article("https://a.test/a", SAME_EVENT_A.text))
    b = _ingest(engine, _article("https://b.test/b", SAME_EVENT_B.text))
    assert (a.outcome, b.outcome) == ("stored", "stored")  # type: ignore[attr-defined]
    assert a.story_id != b.story_id  # type: ignore[attr-defined]


def test_an_amp_copy_declaring_a_stored_page_canonical_is_a_duplicate(engine: Engine) -> None:
    _ingest(engine, _article("https://a.test/story"))
    amp = Article(
        url="https://a.test/amp/story",
        source="wire",
        title="Japan protests drills",
        text=TEXT + " (AMP)",
        canonical_url="https://a.test/story",
    )
    assert _ingest(engine, amp).outcome == "duplicate"  # type: ignore[attr-defined]


def test_near_duplicates_are_only_looked_for_within_the_window(engine: Engine) -> None:
    from tests.support.stories import story_by_key
    from tests.support.syndicate import syndicate

    original = story_by_key("kunashir-bastion")
    copy = syndicate(original.title, original.text, "footer")[1]
    first = ingest_article(
        engine,
        _article("https://a.test/1", original.text),
        events=("exercise",),
        plan=_alert_once,
        now=NOW - timedelta(days=40),
        window_seconds=30 * 86400,
    )
    late = ingest_article(
        engine,
        _article("https://b.test/1", copy),
        events=("exercise",),
        plan=_alert_once,
        now=NOW,
        window_seconds=30 * 86400,
    )
    assert first.outcome == "stored" and late.outcome == "stored"


def test_a_joining_copy_adds_its_events_to_the_story_and_the_plan_sees_its_alerts(
    engine: Engine,
) -> None:
    seen: list[StoryState] = []

    def plan(state: StoryState) -> list[AlertPlan]:
        seen.append(state)
        return _alert_once(state)

    def ingest(url: str, text: str, events: tuple[str, ...]) -> object:
        return ingest_article(engine, _article(url, text), events=events, plan=plan, now=NOW)

    ingest("https://a.test/1", TEXT, ("protest",))
    ingest("https://b.test/1", "TOKYO (Kyodo) -- " + TEXT, ("exercise",))
    ingest("https://c.test/1", TEXT + "\n© Kyodo", ("protest",))
    [story] = list_stories(engine)
    assert story["events"] == ["exercise", "protest"]  # kept sorted, each once
    assert [s.is_new for s in seen] == [True, False, False]
    assert [dict(s.alerted) for s in seen] == [{}, {"desk": {"protest"}}, {"desk": {"protest"}}]
    assert [s.published_at for s in seen] == [NOW] * 3
    assert len(list_alerts(engine)) == 1


def _until_an_ingest_waits_on_a_lock(engine: Engine, waiting: threading.Thread) -> None:
    """Return once another backend waits on a lock (the ingest running in `waiting`)."""
    with engine.connect() as conn:
        for _ in range(600):
            assert waiting.is_alive()
            blocked = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            if blocked:
                return
            time.sleep(0.05)
    raise AssertionError("the ingest never waited on the lock")


def _in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(call()))
    thread.start()
    return thread, got


def test_a_copy_whose_url_is_stored_while_it_waits_for_its_locks_is_a_duplicate(
    engine: Engine,
) -> None:
    copy = _article("https://a.test/1")
    keys = lock_keys(
        content_hash_of(copy.text), near_print(copy.text), contain_print(copy.title, copy.text)
    )
    with engine.connect() as holder:  # holds one of the copy's advisory locks
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": keys[-1]})
        thread, got = _in_thread(lambda: _ingest(engine, copy))
        _until_an_ingest_waits_on_a_lock(engine, thread)
        # meanwhile another crawl stores another text under the same URL
        assert _ingest(engine, _article("https://a.test/1", OTHER_TEXT)).outcome == "stored"  # type: ignore[attr-defined]
        holder.rollback()
    thread.join()
    assert got[0].outcome == "duplicate"  # type: ignore[attr-defined]
    assert len(list_stories(engine)) == 1 and len(list_alerts(engine)) == 1  # nothing half kept


def test_a_copy_whose_story_is_pruned_while_it_joins_starts_a_story_of_its_own(
    engine: Engine,
) -> None:
    first = _ingest(engine, _article("https://a.test/1"))
    story = first.story_id  # type: ignore[attr-defined]
    with engine.connect() as pruner:  # holds the story's row, as a pruning job would
        pruner.execute(sa.text("SELECT id FROM stories WHERE id = :s FOR UPDATE"), {"s": story})
        thread, got = _in_thread(lambda: _ingest(engine, _article("https://b.test/1")))
        _until_an_ingest_waits_on_a_lock(engine, thread)
        for table in ("alerts", "article_bands", "article_anchors", "articles"):
            pruner.execute(sa.text(f"DELETE FROM {table} WHERE story_id = :s"), {"s": story})
        pruner.execute(sa.text("DELETE FROM stories WHERE id = :s"), {"s": story})
        pruner.commit()
    thread.join()
    assert got[0].outcome == "stored" and got[0].story_id != story  # type: ignore[attr-defined]
    [kept] = list_stories(engine)
    assert kept["id"] == got[0].story_id and len(list_alerts(engine)) == 1  # type: ignore[attr-defined]


def test_statements_sent_together_run_in_order_and_a_failure_fails_the_unit(
    engine: Engine,
) -> None:
    insert = "INSERT INTO together_probe (n) VALUES (%(n)s) RETURNING n"
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE together_probe (n int PRIMARY KEY)"))
    with engine.begin() as conn:
        first, count = together(
            conn,
            [
                Statement(insert, {"n": 1}),
                Statement("SELECT count(*) AS n FROM together_probe", {}),
            ],
        )
        assert [r.n for r in first] == [1] and count[0].n == 1  # the second saw the first
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        together(conn, [Statement(insert, {"n": 2}), Statement(insert, {"n": 1})])
    with engine.connect() as conn:  # the unit was rolled back whole; the connection is fine
        assert conn.execute(sa.text("SELECT array_agg(n) FROM together_probe")).scalar() == [1]


def test_a_connection_lost_under_statements_sent_together_is_replaced(engine: Engine) -> None:
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as lost:
            together(conn, [Statement("SELECT 1 AS one", {})])
        assert lost.value.connection_invalidated and conn.invalidated
    with engine.connect() as conn:  # the pool did not hand the dead connection out again
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
