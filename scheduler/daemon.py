"""The process: Scrapy's asyncio reactor, one shared crawl (`Poller`), APScheduler, httpx.

`run(settings, engine, once=…)` installs the asyncio reactor, claims the configured sources
(renewed while it runs; see `storage.sources`), builds the shared resources in an
`AsyncExitStack` (closed in reverse order), and either polls every source once and
delivers what is due (`--once`), or schedules one interval job per source (first polled at
`first_poll`: at start for a few sources, spread over the interval for many; then every
`every:` on average with jitter, `max_instances=1`, `coalesce=True`, explicit misfire grace)
plus one outbox drain per channel (so a slow receiver holds up only its own channel), until
SIGTERM or SIGINT. On a signal it stops scheduling, lets
in-flight work finish within `SHUTDOWN_GRACE` seconds, stops what is left, and exits 0.
Every time the run writes (first seen, due, delivered) is read from the database's clock
(`storage.clock`), measured at start and every minute; its schedule runs on the local one.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import random
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy.engine import Engine

from alerts.decide import Grouping
from alerts.rules import rules_in_force
from crawler.pipeline import Ingestor
from crawler.poller import Poller
from crawler.settings import REACTOR, host_policies, scrapy_settings
from crawler.workers import Extractor
from kurilwatch.backoff import Backoff
from kurilwatch.config import Settings
from kurilwatch.errors import KurilwatchError
from kurilwatch.worker import worker_id
from scheduler.jobs import (
    ENTRY_SECONDS,
    DeliveryClient,
    Runtime,
    deliver_due,
    drain_channel,
    poll_source,
    prune,
    renew_claims,
    work_entries,
)
from scheduler.logs import worker_logging
from scheduler.metrics import Metrics, serve
from storage.clock import DatabaseClock
from storage.sources import sync_sources

if TYPE_CHECKING:
    from apscheduler.triggers.interval import IntervalTrigger

    from web.app import WebUi

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 15.0
CLOCK_SYNC_SECONDS = 60.0
"""How often a run measures the database's clock again (`storage.clock`)."""
CONFIG_POLL_SECONDS = 2.0
SPREAD_RATE = 20.0
"""First polls a second at start: the sources of a larger configuration are spread out."""
DATABASE_THREADS = 16
"""Threads the jobs' database statements (and index parsing) run in; at most the engine's
pool (`storage.engine.POOL_SIZE`), so no thread waits for a connection."""


def first_poll(name: str, every: float, count: int, now: datetime) -> datetime:
    """When source `name` (of `count` sources polled every `every` s) is first polled.

    Each source gets a fixed point, drawn from a hash of its name, within the first
    `count / SPREAD_RATE` seconds, or within its interval if that is shorter: a few sources
    are all polled at start, and ten thousand every minute are spread over the minute rather
    than all asked for at once (and again at once every interval after). The same name
    gets the same point at every start.
    """
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2.0**64
    return now + timedelta(seconds=fraction * min(every, count / SPREAD_RATE))


def poll_trigger(every: float) -> IntervalTrigger:
    """A source's schedule: polls `every` seconds on average, each gap within ± a twentieth
    of it (at most ± 15 s), so sources that share an interval drift apart."""
    from apscheduler.triggers.interval import IntervalTrigger

    jitter = min(every * 0.1, 30.0)
    # APScheduler adds 0..jitter to each interval and counts the next from there: half of
    # it comes off the interval, so `every` stays the mean gap
    return IntervalTrigger(seconds=every - jitter / 2, jitter=jitter, timezone=UTC)


def utcnow() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def run(
    settings: Settings,
    engine: Engine,
    *,
    once: bool,
    out: TextIO | None = None,
    reload: Callable[[], Settings] | None = None,
    loaded_mtime: float | None = None,
) -> int:
    """Run the daemon (or one pass with `once`) to the end; return the exit status.

    `reload` reads the configuration file again; it is called whenever the file's
    modification time differs from `loaded_mtime` (the file's when `settings` were read, so
    an edit made while the daemon starts is not missed) and on SIGHUP.
    """
    from scrapy.utils.reactor import install_reactor

    install_reactor(REACTOR)
    from twisted.internet import reactor as installed

    reactor: Any = installed  # Twisted's interfaces do not type the module-level reactor

    status = {"code": 0}

    def finished(future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            error = future.exception()
            log.error("daemon.crashed", exc_info=error)
            status["code"] = 1
        reactor.stop()

    def begin() -> None:
        future = asyncio.ensure_future(
            _main(settings, engine, once=once, out=out, reload=reload, loaded_mtime=loaded_mtime)
        )
        future.add_done_callback(finished)

    reactor.callWhenRunning(begin)
    reactor.run(installSignalHandlers=False)
    return status["code"]


async def _main(
    settings: Settings,
    engine: Engine,
    *,
    once: bool,
    out: TextIO | None,
    reload: Callable[[], Settings] | None,
    loaded_mtime: float | None,
) -> None:
    from scrapy.crawler import AsyncCrawlerRunner

    rules, ruleset = rules_in_force(settings)

    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="kurilwatch")
    )
    sources = [s.to_source() for s in settings.sources]
    claim = settings.crawl.source_claim
    await asyncio.to_thread(sync_sources, engine, sources, claim_seconds=claim)
    async with AsyncExitStack() as stack:
        http = DeliveryClient(settings.delivery.timeout)
        stack.push_async_callback(http.aclose)  # closed last, after the crawl has stopped
        hosts = host_policies(settings.sources)
        runner = AsyncCrawlerRunner(scrapy_settings(settings.crawl, hosts))
        stack.push_async_callback(runner.stop)
        extract = Extractor(settings.crawl.extract_workers, setup=worker_logging())
        poller = Poller(runner, extract=extract)
        stack.push_async_callback(poller.stop)
        instance = worker_id()
        crawl = settings.crawl
        clock = DatabaseClock(engine)
        await asyncio.to_thread(_sync_clock, clock)
        rt = Runtime(
            settings=settings,
            engine=engine,
            poller=poller,
            http=http,
            ingestor=Ingestor(
                engine=engine,
                ruleset=ruleset,
                rules=rules,
                channels=[c.name for c in settings.channels],
                max_age_seconds=settings.alert_max_age,
                clock=clock,
                window_seconds=settings.dedup_window,
                grouping=Grouping(
                    window_seconds=settings.group_window,
                    interval_seconds=settings.group_interval,
                )
                if settings.group_events
                else None,
                owner=instance,
                backoff=Backoff(
                    initial=crawl.entry_retry_initial,
                    cap=crawl.entry_retry_max,
                    give_up=crawl.entry_give_up,
                ),
            ),
            instance=instance,
            clock=clock,
            rng=random.Random(),
            out=out,
            started_at=clock(),
            metrics=Metrics(engine, clock),
        )
        synced = asyncio.ensure_future(_keep_clock(clock))
        stack.push_async_callback(_cancel, synced)
        claims = asyncio.ensure_future(_keep_claims(rt, sources))
        stack.push_async_callback(_cancel, claims)  # first to go: the run is over
        if once:
            await _run_once(rt, sources)
        else:
            await _run_forever(rt, sources, reload, loaded_mtime)


async def _keep_claims(rt: Runtime, sources: list[Any]) -> None:
    """Renew the run's claim on its sources every fifth of `crawl.source_claim`, until cancelled.

    A failed renewal (the database away) is logged and tried again next time; the claim
    outlives four of them.
    """
    every = rt.settings.crawl.source_claim / 5
    while True:
        await asyncio.sleep(every)
        try:
            await renew_claims(rt, sources)
        except Exception:
            log.exception("job.failed", extra={"job": "renew_claims"})


async def _keep_clock(clock: DatabaseClock) -> None:
    """Measure the database's clock every `CLOCK_SYNC_SECONDS`, until cancelled; a failed
    reading is logged and the last offset kept."""
    while True:
        await asyncio.sleep(CLOCK_SYNC_SECONDS)
        try:
            await asyncio.to_thread(_sync_clock, clock)
        except Exception:
            log.exception("job.failed", extra={"job": "sync_clock"})


def _sync_clock(clock: DatabaseClock) -> None:
    """Measure the database's clock; warn when this host's differs by more than a second."""
    before = clock.offset
    offset = clock.sync().total_seconds()
    if abs(offset) > 1.0 and abs(offset - before.total_seconds()) > 1.0:
        log.warning(
            "clock.skewed",
            extra={
                "database_minus_local_seconds": round(offset, 3),
                "reason": "timestamps are written on the database's clock",
            },
        )


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _run_once(rt: Runtime, sources: list[Any]) -> None:
    await asyncio.gather(*(poll_source(rt, s) for s in sources))
    await work_entries(rt)  # entries due again since an earlier run
    stats = await deliver_due(rt)
    await prune(rt)
    log.info(
        "once.finished",
        extra={
            "sources": len(sources),
            "delivered": stats.delivered,
            "retried": stats.retried,
            "dead": stats.dead,
        },
    )


def web_ui(rt: Runtime) -> WebUi | None:
    """What the web pages need, or None with `ui.enabled: false`."""
    from zoneinfo import ZoneInfo

    from kurilwatch.redact import safe_urls
    from scheduler.commands_labels import events_of
    from web.app import WebUi

    ui = rt.settings.ui
    if not ui.enabled:
        return None
    return WebUi(
        engine=rt.engine,
        zone=ZoneInfo(ui.timezone),
        auth=ui.auth,
        events=lambda: events_of(rt.ingestor.rules),
        safe_urls=safe_urls(s.to_source() for s in rt.settings.sources),
    )


def reload_rules(rt: Runtime, load: Callable[[], Settings]) -> bool:
    """Swap in the rules of the configuration file as it is now; keep the old ones on error.

    Only `watch:` and `rules:` change; sources, channels and the rest need a restart.
    """
    try:
        fresh = load()
        rules, ruleset = rules_in_force(fresh)
    except KurilwatchError as exc:
        log.error("rules.reload_failed", extra={"reason": str(exc)})
        return False
    rt.ingestor = replace(rt.ingestor, rules=rules, ruleset=ruleset)
    log.info("rules.reloaded", extra={"rules": [r.name for r in rules]})
    return True


async def _settle(rt: Runtime) -> None:
    """Load what the daemon will need before any job runs, then exempt it from the GC.

    The crawl is opened (Scrapy imports its components on first use), the delivery client
    made, and the extraction and fingerprint modules imported now rather than under the first
    poll or alert; then `gc.freeze()` moves every object that lives as long as the process
    out of the collector's reach, so a full collection later walks only what the jobs made.
    Without it, a full collection of the ~1M start-up objects paused the event loop for
    ~0.12 s at random moments (seen delaying a webhook attempt).
    """
    await asyncio.to_thread(_preload)
    await rt.poller.open()
    rt.http.get()  # the daemon's first alert does not wait for the TLS trust store to load
    gc.collect()
    gc.freeze()


def _preload() -> None:
    import crawler.extract  # noqa: F401  # trafilatura, lxml
    from storage.fingerprint import signature

    signature({b"warm up datasketch"})


def config_stamp(path: Path | None) -> float | None:
    """The modification time of the configuration file at `path`, None if there is none."""
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


async def _run_forever(
    rt: Runtime,
    sources: list[Any],
    reload: Callable[[], Settings] | None,
    loaded_mtime: float | None,
) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.schedulers.base import STATE_RUNNING

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await _settle(rt)
    inflight: set[asyncio.Task[Any]] = set()

    busy: set[str] = set()

    def tracked(job: Callable[..., Any], key: str = "") -> Callable[..., Any]:
        async def wrapper(*args: Any) -> None:
            task = asyncio.current_task()
            if task is not None:
                inflight.add(task)
            busy.add(key)
            try:
                await job(*args)
            except Exception:
                log.exception("job.failed", extra={"job": job.__name__})
            finally:
                busy.discard(key)
                if task is not None:
                    inflight.discard(task)

        wrapper.__name__ = job.__name__
        return wrapper

    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"max_instances": 1, "coalesce": True},
    )
    now = utcnow()  # APScheduler's times are on the local clock
    for source in sources:
        scheduler.add_job(
            tracked(poll_source),
            poll_trigger(source.every_seconds),
            args=[rt, source, True],
            id=f"source:{source.name}",
            name=f"poll {source.name}",
            next_run_time=first_poll(source.name, source.every_seconds, len(sources), now),
            misfire_grace_time=max(30, int(source.every_seconds)),
        )
    drains = [
        scheduler.add_job(
            tracked(drain_channel, f"deliver:{channel.name}"),
            "interval",
            args=[rt, channel],
            id=f"deliver:{channel.name}",
            name=f"deliver to {channel.name}",
            seconds=rt.settings.delivery.interval,
            next_run_time=now,
            misfire_grace_time=60,
        )
        for channel in rt.channels.values()
    ]
    scheduler.add_job(
        tracked(work_entries, "entries"),
        "interval",
        args=[rt],
        id="entries",
        name="read the pages of entries due again",
        seconds=ENTRY_SECONDS,
        next_run_time=now,
        misfire_grace_time=60,
    )
    scheduler.add_job(
        tracked(prune),
        "interval",
        args=[rt],
        id="prune",
        name="prune what retention: no longer keeps",
        seconds=rt.settings.retention.every,
        next_run_time=now,
        misfire_grace_time=3600,
    )

    def deliver_now() -> None:
        for job in drains:
            if job.id not in busy:  # a running drain picks the new alerts up itself
                job.modify(next_run_time=utcnow())

    rt.on_alerts = deliver_now

    def reschedule(name: str, delay: float) -> None:
        job = scheduler.get_job(f"source:{name}")
        if job is not None:
            job.modify(next_run_time=utcnow() + timedelta(seconds=delay))

    rt.reschedule = reschedule
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, reload_rules, rt, reload)
        stamp = {"mtime": loaded_mtime}

        async def watch_config() -> None:
            mtime = config_stamp(rt.settings.config_path)
            if mtime != stamp["mtime"]:
                stamp["mtime"] = mtime
                reload_rules(rt, reload)

        scheduler.add_job(
            watch_config,
            "interval",
            id="watch-config",
            name="reload rules when the file changes",
            seconds=CONFIG_POLL_SECONDS,
            misfire_grace_time=60,
        )
    scheduler.start()
    stop_http = None
    if rt.settings.listen and rt.metrics is not None:
        try:
            stop_http = await serve(
                rt.settings.listen,
                rt.metrics,
                rt.engine,
                lambda: scheduler.state == STATE_RUNNING,
                web_ui(rt),
            )
        except OSError as exc:
            log.error(
                "http.unavailable", extra={"listen": rt.settings.listen, "reason": exc.strerror}
            )
    log.info("daemon.started", extra={"sources": len(sources), "channels": len(rt.channels)})
    await stop.wait()
    log.info("daemon.stopping", extra={"inflight": len(inflight)})
    # Pause first: APScheduler's asyncio executor cancels running jobs on shutdown, and a
    # drain cancelled between a receiver's 200 and its record would send the alert twice.
    scheduler.pause()
    rt.stopping = True  # polls waiting for a place end without a poll (and without an error)
    if inflight:
        _done, pending = await asyncio.wait(set(inflight), timeout=SHUTDOWN_GRACE)
        if pending:
            await rt.poller.stop()
            await asyncio.wait(pending, timeout=5)
    scheduler.shutdown(wait=False)
    if stop_http is not None:
        await stop_http()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(signum)
    log.info("daemon.stopped")
