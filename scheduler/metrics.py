"""Prometheus metrics and the health summary, served on `listen:` with aiohttp (with the web
pages of `web.app` beside them when `ui.enabled`).

`Metrics` holds its own `CollectorRegistry` (no process-wide singleton): counters and
histograms the jobs update as they work, and a collector that reads outbox depth and source
staleness from the database at scrape time. `serve(...)` starts `GET /metrics` (text format)
and `GET /healthz` (200 with a JSON summary while the scheduler runs and the database answers,
503 otherwise). Both count only the sources a running configuration claims; `/healthz` gives
the others as `unconfigured_sources`. Database reads run in a worker thread, never on the
event loop.
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
        self.registry.register(_DatabaseCollector(engine, clock))

    def render(self) -> bytes:
        """The text exposition of every series (reads the database: call off the loop)."""
        return generate_latest(self.registry)


class _DatabaseCollector(Collector):
    """Outbox depth and source staleness, read when scraped."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

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
                counts: dict[str, int] = dict(
                    conn.execute(
                        sa.select(alerts.c.status, sa.func.count()).group_by(alerts.c.status)
                    ).all()
                )
                now = self.clock()
                rows = conn.execute(
                    sa.select(sources.c.name, sources.c.last_new_at, sources.c.last_ok_at).where(
                        sources.c.configured_until >= now
                    )
                ).all()
                kept: dict[str, int] = dict(
                    conn.execute(
                        sa.select(entries.c.status, sa.func.count()).group_by(entries.c.status)
                    ).all()
                )
        except sa.exc.SQLAlchemyError:
            log.warning("metrics.database_unavailable")
            return
        for status in ("pending", "delivered", "dead"):
            depth.add_metric([status], counts.get(status, 0))
        for name, last_new, last_ok in rows:
            since = last_new or last_ok
            if since is not None:
                stale.add_metric([name], (now - since).total_seconds())
        for status in ("pending", "retrying", "done", "feed"):
            backlog.add_metric([status], kept.get(status, 0))
        yield depth
        yield backlog
        yield stale


def health(engine: Engine, *, scheduler_running: bool) -> tuple[int, dict[str, Any]]:
    """The `/healthz` status code and body (reads the database: call off the loop)."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {"scheduler": scheduler_running, "time": now.isoformat()}
    try:
        with engine.connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(
                    sa.select(alerts.c.status, sa.func.count()).group_by(alerts.c.status)
                ).all()
            )
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
