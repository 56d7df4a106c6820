"""Lossless grouping on the real PostgreSQL: stories of a told event wait in the outbox and
are claimed as one "also reported" batch; every flagged story is named by a notification."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.decide import Grouping, plan_alerts, routed_channels
from alerts.grouping import key_terms
from kurilwatch.model import Article, Evidence, IngestResult, Match, Rule
from storage.articles import ingest_article
from storage.outbox import (
    claim_due,
    list_alerts,
    mark_delivered,
    mark_failed,
    requeue,
    unnotified,
)

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
OWNER = "worker"
INTERVAL = 1800.0
GROUPING = Grouping(window_seconds=48 * 3600, interval_seconds=INTERVAL)
RULES = (
    Rule(name="protest", event="protest", query="protest*"),
    Rule(name="exercise", event="exercise", query="drill*"),
)
PROTEST = Evidence(
    rule="protest", event="protest", sentences=("Japan lodged a protest.",), terms=("protest",)
)
EXERCISE = Evidence(
    rule="exercise",
    event="exercise",
    sentences=("Bastion crews drilled on Iturup.",),
    terms=("drilled",),
)
DRILLS = Match(topic=True, events=("exercise",), evidence=(EXERCISE,))
BOTH = Match(topic=True, events=("protest", "exercise"), evidence=(PROTEST, EXERCISE))
NAMES = (
    "The Eastern Military District said 1,500 troops of the Bastion and Tor units drilled on "
    "Iturup, and Yoshimasa Hayashi was told of the manoeuvres near Kunashiri."
)
_WORDS = [
    "coastal",
    "crews",
    "moved",
    "launchers",
    "along",
    "the",
    "shore",
    "while",
    "observers",
    "counted",
    "vehicles",
    "ships",
    "radar",
    "batteries",
    "supply",
    "convoys",
    "crossed",
    "roads",
    "bridges",
    "harbour",
    "fog",
    "rain",
    "wind",
    "patrols",
]


def _article(n: int, *, extra: str = "") -> Article:
    """Story `n`: the same names as every other, in words of its own (no near-duplicate)."""
    rng = random.Random(n)
    own = " ".join(rng.choice(_WORDS) for _ in range(80))
    return Article(
        url=f"https://outlet{n}.test/story",
        source="wire",
        title=f"Report {n}: troops drill on Iturup",
        text=f"{NAMES} {extra} {own}.",
        language="en",
        published_at=NOW,
        outlet=f"Outlet {n}",
    )


def _ingest(
    engine: Engine,
    article: Article,
    match: Match = DRILLS,
    *,
    now: datetime = NOW,
    channels: tuple[str, ...] = ("desk",),
) -> IngestResult:
    plan = partial(
        plan_alerts,
        match=match,
        rules=RULES,
        channels=channels,
        now=now,
        max_age_seconds=72 * 3600,
        grouping=GROUPING,
    )
    result = ingest_article(
        engine,
        article,
        events=match.events,
        plan=plan,
        now=now,
        key_terms=key_terms(article.title, article.text),
        group_window_seconds=GROUPING.window_seconds,
    )
    assert result.outcome == "stored", result
    return result


def _claim(engine: Engine, now: datetime, **kw: int) -> list:  # type: ignore[type-arg]
    return claim_due(
        engine, owner=OWNER, now=now, lease_seconds=60, limit=10, channels={"desk"}, **kw
    )


def _kinds(engine: Engine) -> dict[int, tuple[str, str]]:
    return {a["story_id"]: (a["kind"], a["status"]) for a in list_alerts(engine)}


def test_stories_of_a_told_event_wait_for_the_interval_then_go_in_one_batch(
    engine: Engine,
) -> None:
    first = _ingest(engine, _article(0))
    [alert] = _claim(engine, NOW)
    assert alert.members == () and alert.story.id == first.story_id
    mark_delivered(engine, owner=OWNER, alert_id=alert.alert.id, now=NOW)
    grouped = [
        _ingest(engine, _article(n), now=NOW + timedelta(minutes=n)).story_id for n in range(1, 13)
    ]
    assert all(_kinds(engine)[s] == ("also_reported", "pending") for s in grouped)
    # nothing is due before the group's interval has passed since its last notification
    assert _claim(engine, NOW + timedelta(seconds=INTERVAL - 1)) == []
    [batch] = _claim(engine, NOW + timedelta(seconds=INTERVAL))
    assert [m.story.id for m in batch.members] == grouped  # all of them, first written first
    assert batch.group is not None and batch.group.id == first.story_id
    assert batch.is_update and batch.alert.id == batch.members[0].alert.id
    assert batch.members[3].story.outlet == "Outlet 4"
    assert batch.members[3].alert.evidence == (EXERCISE,)
    mark_delivered(
        engine,
        owner=OWNER,
        alert_id=batch.alert.id,
        now=NOW + timedelta(seconds=INTERVAL),
        payload={"x": 1},
    )
    rows = [a for a in list_alerts(engine) if a["story_id"] in grouped]
    assert {(a["status"], a["batch_id"], a["attempts"]) for a in rows} == {
        ("delivered", batch.alert.id, 1)
    }
    with engine.connect() as conn:  # the body is kept once, on the batch's first row
        kept = conn.execute(sa.text("select id from alerts where payload is not null")).scalars()
        assert set(kept) == {batch.alert.id}
    # a story arriving after that batch waits one interval from the batch, not from the alert
    late = _ingest(engine, _article(20), now=NOW + timedelta(seconds=INTERVAL + 60))
    assert _claim(engine, NOW + timedelta(seconds=2 * INTERVAL - 1)) == []
    [after] = _claim(engine, NOW + timedelta(seconds=2 * INTERVAL))
    assert [m.story.id for m in after.members] == [late.story_id]


def test_a_batch_is_capped_and_the_rest_go_into_the_next(engine: Engine) -> None:
    _ingest(engine, _article(0))
    mark_delivered(engine, owner=OWNER, alert_id=_claim(engine, NOW)[0].alert.id, now=NOW)
    stories = [_ingest(engine, _article(n)).story_id for n in range(1, 6)]
    due = NOW + timedelta(seconds=INTERVAL)
    got = []
    for expected in (2, 2, 1):
        [batch] = _claim(engine, due, batch_limit=2)
        assert len(batch.members) == expected
        got += [m.story.id for m in batch.members]
        mark_delivered(engine, owner=OWNER, alert_id=batch.alert.id, now=due)
    assert got == stories


def test_a_batch_is_retried_together_and_later_stories_go_into_the_next(engine: Engine) -> None:
    first = _ingest(engine, _article(0))
    mark_delivered(engine, owner=OWNER, alert_id=_claim(engine, NOW)[0].alert.id, now=NOW)
    members = {_ingest(engine, _article(n)).story_id for n in (1, 2, 3)}
    due = NOW + timedelta(seconds=INTERVAL)
    [batch] = _claim(engine, due)
    retry_at = due + timedelta(minutes=1)
    mark_failed(engine, batch.alert.id, owner=OWNER, error="HTTP 503", retry_at=retry_at)
    late = _ingest(engine, _article(4), now=due + timedelta(seconds=10)).story_id
    [again] = _claim(engine, retry_at)  # the same batch, under the same id; not the late story
    assert again.alert.id == batch.alert.id and again.alert.attempts == 1
    assert {m.story.id for m in again.members} == members
    mark_failed(engine, again.alert.id, owner=OWNER, error="HTTP 404", retry_at=None)
    kinds = _kinds(engine)
    assert {kinds[s] for s in members} == {("also_reported", "dead")}
    assert kinds[late] == ("also_reported", "pending")
    # re-queued by any of its rows, the batch is due again whole
    assert requeue(engine, now=retry_at, alert_id=batch.members[2].alert.id) == 3
    [requeued] = _claim(engine, retry_at)
    assert requeued.alert.id == batch.alert.id and len(requeued.members) == 3
    assert kinds[first.story_id] == ("alert", "delivered")


def test_a_protest_after_drill_reports_of_the_event_is_alerted_at_once(engine: Engine) -> None:
    first = _ingest(engine, _article(0))
    mark_delivered(engine, owner=OWNER, alert_id=_claim(engine, NOW)[0].alert.id, now=NOW)
    second = _ingest(engine, _article(1), now=NOW + timedelta(minutes=1))
    protest = _ingest(
        engine,
        _article(2, extra="Tokyo lodged a protest."),
        BOTH,
        now=NOW + timedelta(minutes=2),
    )
    [alert] = _claim(engine, NOW + timedelta(minutes=2))  # the drill report still waits
    assert alert.story.id == protest.story_id and alert.members == ()
    assert alert.alert.events == ("protest", "exercise") and not alert.is_update
    assert alert.group is not None and alert.group.id == first.story_id
    assert _kinds(engine)[second.story_id] == ("also_reported", "pending")
    mark_delivered(engine, owner=OWNER, alert_id=alert.alert.id, now=NOW + timedelta(minutes=2))
    # the group has now told the protest: another report of both is listed, not alerted
    third = _ingest(
        engine, _article(3, extra="Japan protested."), BOTH, now=NOW + timedelta(minutes=3)
    )
    assert _kinds(engine)[third.story_id] == ("also_reported", "pending")
    [batch] = _claim(engine, NOW + timedelta(seconds=INTERVAL))
    assert [m.story.id for m in batch.members] == [second.story_id, third.story_id]


def test_one_claimer_at_a_time_batches_a_group(engine: Engine) -> None:
    _ingest(engine, _article(0))
    mark_delivered(engine, owner=OWNER, alert_id=_claim(engine, NOW)[0].alert.id, now=NOW)
    stories = {_ingest(engine, _article(n)).story_id for n in range(1, 9)}
    due = NOW + timedelta(seconds=INTERVAL)
    barrier = threading.Barrier(4)
    got: list[list[int]] = []

    def worker() -> None:
        barrier.wait()
        for notice in _claim(engine, due):
            got.append([m.story.id for m in notice.members])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # never the same story twice; in one batch unless a claimer held a row as it was made
    assert sorted(s for batch in got for s in batch) == sorted(stories)
    assert len(got) <= 2


def test_every_flagged_story_is_named_by_a_notification_on_each_routed_channel(
    engine: Engine,
) -> None:
    channels = ("desk", "ops")
    routes = routed_channels(RULES, channels)
    _ingest(engine, _article(0), channels=channels)
    for n in range(1, 30):
        match = BOTH if n % 10 == 0 else DRILLS
        extra = "Tokyo lodged a protest." if match is BOTH else ""
        _ingest(
            engine,
            _article(n, extra=extra),
            match,
            now=NOW + timedelta(minutes=n),
            channels=channels,
        )
    later = NOW + timedelta(hours=1)
    assert unnotified(engine, now=later, max_age_seconds=72 * 3600, routes=routes) == []
    # delivered or dead still counts as named
    claimed = claim_due(
        engine, owner=OWNER, now=later, lease_seconds=60, limit=100, channels=set(channels)
    )
    for notice in claimed:
        mark_failed(engine, notice.alert.id, owner=OWNER, error="HTTP 404", retry_at=None)
    assert unnotified(engine, now=later, max_age_seconds=72 * 3600, routes=routes) == []
    # a flagged story that no notification names is found (what dropping used to leave)
    dropped = ingest_article(
        engine,
        _article(99),
        events=("exercise",),
        plan=lambda state: (),
        now=NOW,
        key_terms=frozenset(),
    )
    [missing] = unnotified(engine, now=later, max_age_seconds=72 * 3600, routes=routes)
    assert missing.story_id == dropped.story_id and missing.channels == channels
    assert missing.events == ("exercise",)
    # outside alert_max_age it is not expected any more
    too_late = NOW + timedelta(hours=73)
    assert unnotified(engine, now=too_late, max_age_seconds=72 * 3600, routes=routes) == []


def test_rows_written_before_the_migration_get_their_kind(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    from storage.engine import MIGRATIONS

    _ingest(engine, _article(0))
    mark_delivered(engine, owner=OWNER, alert_id=_claim(engine, NOW)[0].alert.id, now=NOW)
    member = _ingest(engine, _article(1)).story_id
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        command.upgrade(config, "head")
    assert _kinds(engine)[member] == ("also_reported", "pending")
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("select count(*) from alerts where kind = 'alert'")).scalar() == 1
        )
