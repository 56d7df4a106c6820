"""Prometheus metrics and the health summary, served on `listen:` with aiohttp (with the web
pages of `web.app` beside them when `ui.enabled`).

`Metrics` holds its own `CollectorRegistry` (no process-wide singleton): counters and
histograms the jobs update as they work, and a collector that reads outbox depth and source
staleness from the database at scrape time. A scrape reads no table whole: pending and dead
alerts and open entries are counted through partial indexes (bounded by the work not done),
and the counts that grow with the archive (delivered alerts, judged entries) come from a tally
taken at most every `TALLY_SECONDS`, whatever the number of scrapes. `serve(...)` starts
`GET /metrics` (text format) and `GET /healthz` (200 with a JSON summary while the scheduler
runs and the database answers, 503 otherwise). Both count only the sources a running
configuration claims; `/healthz` gives the others as `unconfigured_sources`. Database reads
run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from storage.tables import alerts, entries, sources

if TYPE_CHECKING:
    from web.app import WebUi

TALLY_SECONDS = 60.0
"""The longest a scrape serves the counts that need a whole table read (delivered, judged)."""

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)


class Metrics:
    """Every `kurilwatch_` series of one daemon."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "kurilwatch_polls",
            "Polls of a source by outcome (ok, not_modified, error).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.articles = Counter(
            "kurilwatch_articles",
            "Entries judged or retried, by outcome (stored, joined, duplicate, off_topic, "
            "unusable, retrying).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.stories = Counter(
            "kurilwatch_stories_created", "Stories started by a first copy.", registry=self.registry
        )
        self.alerts = Counter(
            "kurilwatch_alerts",
            "Alerts that reached a final state (delivered, dead).",
            ["channel", "status"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "kurilwatch_delivery_attempts",
            "Delivery attempts by result (delivered, retry, dead).",
            ["channel", "result"],
            registry=self.registry,
        )
        self.attempt_seconds = Histogram(
            "kurilwatch_delivery_attempt_seconds",
            "Seconds one delivery attempt took.",
            ["channel"],
            registry=self.registry,
        )
        self.alert_latency = Histogram(
            "kurilwatch_alert_latency_seconds",
            "Seconds from an article's publication (or first sight) to its alert's delivery.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pruned = Counter(
            "kurilwatch_pruned",
            "Rows the retention job removed (texts and payloads: emptied), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(engine, clock))

    def render(self) -> bytes:
        """The text exposition of every series (reads the database: call off the loop)."""
        return generate_latest(self.registry)


def open_counts(conn: sa.Connection) -> dict[str, int]:
    """Pending and dead alerts, pending and retrying entries: each read through its partial
    index, so the cost follows the work waiting, not the archive."""
    found: dict[str, int] = {}
    for name, table, status in (
        ("pending", alerts, "pending"),
        ("dead", alerts, "dead"),
        ("entries_pending", entries, "pending"),
        ("entries_retrying", entries, "retrying"),
    ):
        found[name] = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.status == status)
        ).scalar_one()
    return found


class _Tally:
    """Delivered alerts and judged entries, counted at most every `TALLY_SECONDS`."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.at: datetime | None = None
        self.counts: dict[str, int] = {}

    def read(self, conn: sa.Connection) -> dict[str, int]:
        now = self.clock()
        if self.at is None or (now - self.at).total_seconds() >= TALLY_SECONDS:
            delivered = conn.execute(
                sa.select(sa.func.count()).where(alerts.c.status == "delivered")
            ).scalar_one()
            judged: dict[str, int] = dict(
                conn.execute(
                    sa.select(entries.c.status, sa.func.count())
                    .where(entries.c.status.in_(("done", "feed")))
                    .group_by(entries.c.status)
                ).all()
            )
            self.counts = {"delivered": delivered, "done": judged.get("done", 0)}
            self.counts["feed"] = judged.get("feed", 0)
            self.at = now
        return self.counts


class _DatabaseCollector(Collector):
    """Outbox depth and source staleness, read when scraped."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self.tally = _Tally(clock)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "kurilwatch_outbox", "Alerts in the outbox by status.", labels=["status"]
        )
        backlog = GaugeMetricFamily(
            "kurilwatch_entries",
            "Entries by status (pending, retrying, done, feed).",
            labels=["status"],
        )
        stale = GaugeMetricFamily(
            "kurilwatch_source_staleness_seconds",
            "Seconds since a source last yielded something new (or last succeeded).",
            labels=["source"],
        )
        try:
            with self.engine.connect() as conn:
                live = open_counts(conn)
                tally = self.tally.read(conn)
                now = self.clock()
                rows = conn.execute(
                    sa.select(sources.c.name, sources.c.last_new_at, sources.c.last_ok_at).where(
                        sources.c.configured_until >= now
                    )
                ).all()
        except sa.exc.SQLAlchemyError:
            log.warning("metrics.database_unavailable")
            return
        depth.add_metric(["pending"], live["pending"])
        depth.add_metric(["delivered"], tally["delivered"])
        depth.add_metric(["dead"], live["dead"])
        for name, last_new, last_ok in rows:
            since = last_new or last_ok
            if since is not None:
                stale.add_metric([name], (now - since).total_seconds())
        backlog.add_metric(["pending"], live["entries_pending"])
        backlog.add_metric(["retrying"], live["entries_retrying"])
        backlog.add_metric(["done"], tally["done"])
        backlog.add_metric(["feed"], tally["feed"])
        yield depth
        yield backlog
        yield stale


def health(engine: Engine, *, scheduler_running: bool) -> tuple[int, dict[str, Any]]:
    """The `/healthz` status code and body (reads the database: call off the loop).

    `outbox` gives the pending and dead alerts (read through their partial indexes)."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {"scheduler": scheduler_running, "time": now.isoformat()}
    try:
        with engine.connect() as conn:
            live = open_counts(conn)
            counts = {"pending": live["pending"], "dead": live["dead"]}
            configured = sources.c.configured_until >= now
            total, failing, unconfigured = conn.execute(
                sa.select(
                    sa.func.count().filter(configured),
                    sa.func.count().filter(configured, sources.c.consecutive_failures > 0),
                    sa.func.count().filter(sa.not_(configured)),
                )
            ).one()
        body.update(
            database=True,
            sources=total,
            failing_sources=failing,
            unconfigured_sources=unconfigured,
            outbox=counts,
        )
    except sa.exc.SQLAlchemyError as exc:
        body.update(database=False, error=type(exc).__name__)
    healthy = scheduler_running and body["database"]
    body["status"] = "ok" if healthy else "unavailable"
    return (200 if healthy else 503), body


async def serve(
    listen: str,
    metrics: Metrics,
    engine: Engine,
    scheduler_running: Callable[[], bool],
    ui: WebUi | None = None,
) -> Callable[[], Any]:
    """Start the HTTP endpoints on `listen`, and the web pages (`web.app`) when `ui` is
    given; return the coroutine function that stops them."""
    from aiohttp import web

    async def metrics_handler(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.render)
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    async def health_handler(_: web.Request) -> web.Response:
        status, body = await asyncio.to_thread(
            health, engine, scheduler_running=scheduler_running()
        )
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", health_handler)
    if ui is not None:
        from web.app import install

        install(app, ui)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    await web.TCPSite(runner, host.strip("[]"), int(port)).start()
    log.info("http.listening", extra={"listen": listen})
    return runner.cleanup
