"""Leases on the real PostgreSQL: granted and judged on the database's clock, held by an
owner, and a write-back from a worker whose lease was taken over changes nothing.

Outbox rows and sources alike. A worker's own clock never decides whether a lease is live:
a claim made with a Python clock a day ahead still finds a live lease held. Lapsing a lease
is done the way time does it, by moving `leased_until` behind the database's `now()`.
Delivery runs through the real drain (`scheduler.jobs.drain_channel`) to real receivers on
127.0.0.1, among them an Apprise channel whose target never answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.apprise_worker import START_SECONDS
from alerts.delivery import LEASE_MARGIN, attempt_lease
from kurilwatch.config import Settings
from kurilwatch.model import AlertPlan, Article, Evidence, Source, StoryState
from kurilwatch.worker import worker_id
from scheduler.jobs import DeliveryClient, DeliveryStats, Runtime, drain_channel
from storage.articles import ingest_article
from storage.outbox import claim_due, list_alerts, mark_delivered, mark_failed, requeue
from storage.sources import PollRecord, list_sources, record_poll, sync_sources, take_source
from tests.support.receiver import WebhookReceiver

EVIDENCE = Evidence(
    rule="protest", event="protest", sentences=("Japan lodged a protest.",), terms=("protest",)
)
TEXT = "Japan lodged a protest with Russia over drills on Etorofu, officials said on Monday. " * 3


def _story(engine: Engine, n: int = 1, *, channel: str = "desk") -> None:
    """One story with one pending alert on `channel`, written now (so it is due at once)."""

    def plan(state: StoryState) -> list[AlertPlan]:
        return [
            AlertPlan(
                channel=channel, events=("protest",), rules=("protest",), evidence=(EVIDENCE,)
            )
        ]

    now = datetime.now(UTC)
    article = Article(
        url=f"https://a.test/{n}",
        source="wire",
        title=f"Japan protests drills {n}",
        text=f"{TEXT} Story {n}.",
        language="en",
        published_at=now,
    )
    ingest_article(engine, article, events=("protest",), plan=plan, now=now)


def _claim(engine: Engine, owner: str, *, skew: timedelta = timedelta(0)) -> list:  # type: ignore[type-arg]
    """Claim as `owner` whose Python clock is `skew` off the true time."""
    return claim_due(
        engine,
        owner=owner,
        now=datetime.now(UTC) + skew,
        lease_seconds=60,
        limit=10,
        channels={"desk"},
    )


def _set_lease(engine: Engine, table: str, seconds_from_db_now: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"UPDATE {table} SET leased_until = now() + make_interval(secs => :s) "
                "WHERE leased_until IS NOT NULL"
            ),
            {"s": seconds_from_db_now},
        )


def _row(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.text(
                    "SELECT status, attempts, leased_by, last_error, delivered_at, next_attempt_at "
                    "FROM alerts"
                )
            )
            .mappings()
            .one()
        )


def test_an_outbox_lease_is_granted_and_judged_on_the_database_clock(engine: Engine) -> None:
    _story(engine)
    [held] = _claim(engine, "a")
    with engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT extract(epoch FROM leased_until - now()), leased_by FROM alerts")
        ).one()
    assert 0 < left[0] <= 60 and left[1] == "a"  # now() + lease, on the database's clock
    # a worker whose clock runs a day ahead sees the lease as the database does: live
    assert _claim(engine, "b", skew=timedelta(days=1)) == []
    # five seconds left on the database's clock: still live, whatever the worker's clock says
    _set_lease(engine, "alerts", 5)
    assert _claim(engine, "b", skew=timedelta(seconds=90)) == []
    # lapsed on the database's clock: taken
    _set_lease(engine, "alerts", -1)
    [taken] = _claim(engine, "b")
    assert taken.alert.id == held.alert.id and _row(engine)["leased_by"] == "b"


def test_a_write_back_after_the_lease_was_taken_over_changes_nothing(engine: Engine) -> None:
    _story(engine)
    [mine] = _claim(engine, "a")
    _set_lease(engine, "alerts", -1)  # "a" stalled past its lease
    [theirs] = _claim(engine, "b")
    before = _row(engine)
    # "a" wakes up: neither its success nor its failure is recorded over "b"'s live attempt
    alert_id = mine.alert.id
    assert not mark_delivered(engine, alert_id, owner="a", now=datetime.now(UTC))
    assert not mark_failed(engine, alert_id, owner="a", error="HTTP 404", retry_at=None)
    retry_at = datetime.now(UTC) + timedelta(minutes=5)
    assert not mark_failed(engine, alert_id, owner="a", error="HTTP 503", retry_at=retry_at)
    assert _row(engine) == before
    assert before["status"] == "pending" and before["leased_by"] == "b"
    # "b" records its own attempt; after that, nobody's write-back counts
    assert mark_delivered(engine, theirs.alert.id, owner="b", now=datetime.now(UTC))
    assert not mark_failed(engine, alert_id, owner="b", error="HTTP 404", retry_at=None)
    [alert] = list_alerts(engine)
    assert (alert["status"], alert["attempts"], alert["last_error"]) == ("delivered", 1, None)


def test_requeue_leaves_a_row_being_sent_to_its_sender(engine: Engine) -> None:
    _story(engine)
    [held] = _claim(engine, "a")
    assert requeue(engine, now=datetime.now(UTC), alert_id=held.alert.id) == 0
    assert _claim(engine, "b") == []
    assert mark_failed(engine, held.alert.id, owner="a", error="HTTP 404", retry_at=None)
    assert requeue(engine, now=datetime.now(UTC), alert_id=held.alert.id) == 1
    assert [c.alert.id for c in _claim(engine, "b")] == [held.alert.id]


def test_a_source_lease_is_judged_on_the_database_clock_and_kept_by_its_owner(
    engine: Engine,
) -> None:
    wire = Source(name="wire", kind="feed", url="https://a.test/rss", every_seconds=60)
    now = datetime.now(UTC)
    sync_sources(engine, [wire], claim_seconds=300)
    assert take_source(engine, wire, owner="a", seconds=60) is not None
    _set_lease(engine, "sources", 5)  # five seconds left on the database's clock
    assert take_source(engine, wire, owner="b", seconds=60) is None
    _set_lease(engine, "sources", -1)
    assert take_source(engine, wire, owner="b", seconds=60) is not None
    # "a"'s poll ends late: its record would overwrite "b"'s lease and health; it changes nothing
    late = PollRecord(ok=False, error="HTTP 500")
    assert record_poll(engine, "wire", late, owner="a", now=now) is None
    [row] = list_sources(engine, now=now)
    assert row["last_error"] is None and row["consecutive_failures"] == 0
    assert take_source(engine, wire, owner="c", seconds=60) is None  # "b" still holds it
    health = record_poll(engine, "wire", PollRecord(ok=True, items=3), owner="b", now=now)
    assert health is not None and health.consecutive_failures == 0
    assert take_source(engine, wire, owner="c", seconds=60) is not None  # given back


def test_one_worker_id_per_process_fits_the_owner_columns() -> None:
    assert worker_id() == worker_id()
    assert len(worker_id()) <= 64 and f":{os.getpid()}:" in worker_id()


def test_the_lease_outlasts_the_longest_attempt() -> None:
    assert attempt_lease("webhook", 15) == 15 + LEASE_MARGIN
    assert attempt_lease("apprise", 15) == START_SECONDS + 15 + LEASE_MARGIN


# --- the drain: what a worker does with a lost lease, and a hung Apprise target ------------


def _settings(channel: dict[str, str], *, timeout: str = "30s") -> Settings:
    return Settings.model_validate(
        {
            "channels": [channel],
            "delivery": {"timeout": timeout, "retry_initial": "1h", "retry_max": "1h"},
        }
    )


async def _drain(rt: Runtime) -> DeliveryStats:
    """Drain the runtime's one channel, then stop its clients (an Apprise sender with them)."""
    try:
        return await drain_channel(rt, rt.settings.channels[0])
    finally:
        await rt.http.aclose()


async def _arrived(rx: WebhookReceiver, n: int, timeout: float = 60) -> None:
    """Wait on the event loop, taking no thread, until `rx` has received `n` posts."""
    deadline = time.monotonic() + timeout
    while len(rx.received) < n:
        assert time.monotonic() < deadline, f"{n} post(s) expected, got {len(rx.received)}"
        await asyncio.sleep(0.05)


def _runtime(engine: Engine, settings: Settings, owner: str) -> Runtime:
    """What `drain_channel` uses; it neither polls nor ingests, so it has no crawler."""
    return Runtime(
        settings=settings,
        engine=engine,
        poller=None,  # type: ignore[arg-type]
        ingestor=None,  # type: ignore[arg-type]
        http=DeliveryClient(settings.delivery.timeout),
        clock=lambda: datetime.now(UTC),
        instance=owner,
    )


def test_a_worker_whose_lease_was_taken_over_records_nothing_and_logs_it(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    _story(engine)
    with WebhookReceiver() as rx:
        settings = _settings({"name": "desk", "kind": "webhook", "url": rx.url})
        slow = _runtime(engine, settings, "slow-worker")
        fast = _runtime(engine, settings, "fast-worker")
        channel = settings.channels[0]

        async def scenario() -> None:
            rx.delay(3600)  # the first post hangs until the receiver hangs up
            first = asyncio.ensure_future(drain_channel(slow, channel))
            await _arrived(rx, 1)
            _set_lease(engine, "alerts", -1)  # "slow-worker" stalled past its lease
            rx.delay(0)
            taken_over = await drain_channel(fast, channel)
            assert taken_over.delivered == 1
            rx.stop()  # the hung post ends without an answer: a retryable failure
            stalled = await first
            assert (stalled.delivered, stalled.retried, stalled.dead) == (0, 0, 0)
            await slow.http.aclose()
            await fast.http.aclose()

        with caplog.at_level(logging.WARNING, logger="scheduler.jobs"):
            asyncio.run(scenario())
        ids = [r.headers["webhook-id"] for r in rx.received]
    [alert] = list_alerts(engine)
    assert ids == [alert["id"], alert["id"]]  # one attempt each, under the same id
    assert (alert["status"], alert["attempts"], alert["last_error"]) == ("delivered", 1, None)
    [lost] = [r for r in caplog.records if r.getMessage() == "alert.lease_lost"]
    assert lost.alert_id == alert["id"] and lost.owner == "slow-worker"  # type: ignore[attr-defined]
    assert rx.url not in caplog.text  # the webhook URL is a secret


def _connections_to(port: int) -> int:
    """How many TCP connections to 127.0.0.1:`port` are open from this side (/proc, Linux)."""
    peer = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[2] == peer and row.split()[3] == "01")


def _apprise(rx: WebhookReceiver) -> dict[str, str]:
    # rto: Apprise's own read timeout, an hour: only our deadline can end the wait
    url = rx.url.replace("http://", "json://") + "?rto=3600"
    return {"name": "desk", "kind": "apprise", "url": url}


def test_the_database_answers_while_an_apprise_send_hangs(engine: Engine) -> None:
    _story(engine)
    with WebhookReceiver() as rx:
        rt = _runtime(engine, _settings(_apprise(rx), timeout="1h"), worker_id())

        async def scenario() -> None:
            # one thread for everything asyncio.to_thread runs: a send holding it would
            # starve the database calls until the receiver answers (never, here)
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
            rx.delay(3600)  # accepts the post and never answers
            drain = asyncio.ensure_future(drain_channel(rt, rt.settings.channels[0]))
            await _arrived(rx, 1)
            try:
                await asyncio.wait_for(asyncio.to_thread(list_alerts, engine), 60)
            except TimeoutError:
                pytest.fail("the database waited for the hung send")
            assert not drain.done()  # still hanging: only the receiver can end it now
            rx.stop()  # it hangs up: a failed attempt, retried later
            stats = await drain
            await rt.http.aclose()
            assert (stats.delivered, stats.retried) == (0, 1)

        asyncio.run(scenario())
    [alert] = list_alerts(engine)
    assert (alert["status"], alert["attempts"]) == ("pending", 1)


def test_a_hung_apprise_send_is_cut_at_the_deadline_and_sent_once_later(
    engine: Engine,
) -> None:
    _story(engine)
    with WebhookReceiver() as rx:
        channel = _apprise(rx)
        rt = _runtime(engine, _settings(channel, timeout="2s"), worker_id())
        rx.delay(3600)  # accepts the post and never answers
        stats = asyncio.run(_drain(rt))
        assert (stats.delivered, stats.retried) == (0, 1)
        [hung] = rx.received
        # the attempt is over for good: nothing of it still holds the connection, so it
        # cannot deliver behind the retry's back
        assert _connections_to(urlsplit(rx.url).port or 80) == 0
        [alert] = list_alerts(engine)
        assert (alert["status"], alert["attempts"]) == ("pending", 1)
        assert alert["last_error"] == "no answer within 2s"
        # the receiver answers again: the retry (made due now) is sent once and recorded
        rx.delay(0)
        assert requeue(engine, now=datetime.now(UTC), alert_id=alert["id"]) == 1
        rt = _runtime(engine, _settings(channel, timeout="1h"), worker_id())
        stats = asyncio.run(_drain(rt))
        assert stats.delivered == 1
        received = rx.received
    assert received[0] is not None and len(received) == 2  # the hung attempt, then the retry
    assert hung.json()["title"] == received[1].json()["title"]
    [alert] = list_alerts(engine)
    assert (alert["status"], alert["attempts"]) == ("delivered", 2)
