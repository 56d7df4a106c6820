"""Jobs: poll one source, read entries' pages, drain the outbox. Each loads, decides (pure),
acts and records.

`poll_source` carries out one poll of one source's index in the shared crawl
(`crawler.poller`), never two at once for the same source (a lock here, a lease in the
database for replicas), bounded by `crawl.timeout`, keeps its entries (`storage.entries`),
and records the outcome as the source's health (a broken source is recorded and the others
carry on); the index's validators are stored after every index read whole, and a source whose
row was pruned is recreated from the configuration. Taking the lease loads the source's
validators in the same statement, and recording the outcome gives the lease back in the same
statement. Then the source's due entries are read at once (`work_entries`; a Telegram post is
judged on its own text, no page fetched), which the daemon
also runs every `ENTRY_SECONDS` for entries due again after a transient failure, under leases
other replicas respect. `renew_claims` keeps the run's claim on its sources. `drain_channel`
claims one channel's due outbox rows one at a time under a lease and sends them in order
(Slack at most one message a second), recording each attempt; `deliver_due` drains every
channel side by side.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

import httpx
from sqlalchemy.engine import Engine

from alerts.apprise_worker import AppriseSender
from alerts.delivery import Delivered, Reject, Retry, attempt_lease, next_attempt, send
from crawler.pages import PageOutcome, Transient, Unusable
from crawler.pipeline import Ingestor
from crawler.poller import Poller
from crawler.spiders import PollReport
from crawler.telegram import post_article
from kurilwatch.config import ChannelConfig, Settings
from kurilwatch.errors import SourceNotFound
from kurilwatch.model import Entry, Notice, Source
from kurilwatch.redact import Redactor
from kurilwatch.worker import worker_id
from scheduler.metrics import Metrics
from storage.assign import prune_bands
from storage.entries import add_entries, claim_entries
from storage.outbox import claim_due, mark_delivered, mark_failed, record_channel
from storage.retention import KINDS, prune_kind, record_pruned
from storage.sources import (
    PollRecord,
    is_stale,
    record_poll,
    release_source,
    renew_sources,
    take_source,
)

log = logging.getLogger(__name__)

SLACK_MIN_INTERVAL = 1.0
ENTRY_SECONDS = 2.0
"""How often a daemon looks for entries due again."""
FETCH_NEVER = "fetch: never"
"""Why an entry of a `fetch: never` source is judged on its feed text."""
ENTRY_BATCH = 64
"""Entries claimed at once; a source with more new entries is read in several batches."""


class DeliveryClient:
    """The HTTP client Slack and webhook deliveries post with, made on first use, and one
    Apprise sender process per Apprise channel (`alerts.apprise_worker`).

    Making an `httpx.AsyncClient` loads the TLS trust store (0.06-0.15 s), which a run with
    nothing to post (most `run --once`) need not pay. Once closed it stays closed: a delivery
    still running while the daemon stops fails instead of opening a client nobody closes.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self._apprise: dict[str, AppriseSender] = {}

    def apprise(self, channel: str) -> AppriseSender:
        """The Apprise sender of `channel` (its process starts on its first send)."""
        if self._closed:
            raise RuntimeError("the delivery client is closed: the daemon is stopping")
        return self._apprise.setdefault(channel, AppriseSender())

    def get(self) -> httpx.AsyncClient:
        """The client, made now if this is the first call.

        Raises:
            RuntimeError: It was closed (the daemon is stopping).
        """
        if self._closed:
            raise RuntimeError("the delivery client is closed: the daemon is stopping")
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, timeout=self._timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the client if one was made and stop the Apprise senders; later `get()` and
        `apprise()` calls fail."""
        self._closed = True
        if self._client is not None:
            await self._client.aclose()
        for sender in self._apprise.values():
            await sender.aclose()


@dataclass(slots=True)
class Runtime:
    """What the jobs share: settings, database, the shared crawl, HTTP client, clock."""

    settings: Settings
    engine: Engine
    poller: Poller
    ingestor: Ingestor
    http: DeliveryClient
    clock: Callable[[], datetime]
    rng: random.Random = field(default_factory=random.Random)
    out: TextIO | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    on_alerts: Callable[[], None] | None = None
    """Called when a poll stored articles, so delivery can run at once."""
    reschedule: Callable[[str, float], None] | None = None
    """Called with a source name and a delay when a failing source should back off."""
    started_at: datetime | None = None
    metrics: Metrics | None = None
    polls: asyncio.Semaphore | None = None
    """At most `crawl.max_polls` crawls at once (made on first use, inside the loop)."""
    stopping: bool = False
    """The daemon is stopping: polls still waiting for a place are not started (nor failed)."""
    instance: str = field(default_factory=worker_id)
    """Who holds the leases this run takes (sources, entries, outbox rows)."""
    _sources: dict[str, Source] = field(default_factory=dict)

    def configured(self) -> dict[str, Source]:
        """The configured sources by name (built once: every poll's page reading asks)."""
        if len(self._sources) != len(self.settings.sources):
            self._sources = {s.name: s.to_source() for s in self.settings.sources}
        return self._sources

    @property
    def channels(self) -> dict[str, ChannelConfig]:
        """The configured channels by name."""
        return {c.name: c for c in self.settings.channels}


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """How one drain of the outbox went."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0


def poll_delay(every: float, failures: int, *, cap: float) -> float:
    """Seconds until the next poll of a source after `failures` consecutive failures.

    The interval doubles with each failure, up to `cap` (or the interval itself if longer);
    the first success brings it back to `every`.
    """
    if failures <= 0:
        return every
    return min(max(cap, every), every * 2.0 ** min(failures, 30))


FRESH_SHARE = 0.5
"""A scheduled poll counts as fresh for the other replicas for this share of its interval."""


async def poll_source(
    rt: Runtime, configured: Source, scheduled: bool = False
) -> PollReport | None:
    """Crawl `configured` once and record the outcome; None if a poll of it is running, or,
    for a `scheduled` poll, if another daemon on the database has polled it within
    `FRESH_SHARE` of its interval (replicas share the polls; see `take_source`)."""
    lock = rt.locks.setdefault(configured.name, asyncio.Lock())
    if rt.polls is None:
        rt.polls = asyncio.Semaphore(rt.settings.crawl.max_polls)
    if lock.locked():
        log.info("source.poll_skipped", extra={"source": configured.name, "reason": "running"})
        return None
    async with lock, rt.polls:
        if rt.stopping:  # waited for a place while the daemon began to stop: not started
            log.info("source.poll_skipped", extra={"source": configured.name, "reason": "stopping"})
            return None
        try:
            source = await _take(rt, configured, scheduled)
        except SourceNotFound:  # pruned while this run names it: it is ours again
            await renew_claims(rt, [configured])
            source = await _take(rt, configured, scheduled)
        if source is None:
            log.info(
                "source.poll_skipped",
                extra={"source": configured.name, "reason": "polled by another daemon"},
            )
            return None
        try:
            report = await _poll(rt, source)
        except BaseException:
            await asyncio.to_thread(release_source, rt.engine, configured.name, owner=rt.instance)
            raise
        if report.new_urls:
            await work_entries(rt, source=configured.name)
        return report


async def _take(rt: Runtime, configured: Source, scheduled: bool) -> Source | None:
    lease = rt.settings.crawl.timeout + 60  # a poll is ended at crawl.timeout
    return await asyncio.to_thread(
        functools.partial(
            take_source,
            rt.engine,
            configured,
            owner=rt.instance,
            seconds=lease,
            fresh_seconds=configured.every_seconds * FRESH_SHARE,
            scheduled=scheduled,
        )
    )


async def renew_claims(rt: Runtime, sources: Sequence[Source]) -> list[str]:
    """Claim `sources` for another `crawl.source_claim`; recreate (and log) any pruned row."""
    recreated = await asyncio.to_thread(
        renew_sources,
        rt.engine,
        sources,
        claim_seconds=rt.settings.crawl.source_claim,
    )
    for name in recreated:
        log.warning(
            "source.recreated",
            extra={"source": name, "reason": "its row was pruned while this run names it"},
        )
    return recreated


async def _poll(rt: Runtime, source: Source) -> PollReport:
    started = time.monotonic()
    since = rt.clock() - timedelta(seconds=rt.settings.alert_max_age)

    def keep(found: Any) -> int:
        return add_entries(rt.engine, source.name, found)

    try:
        report = await rt.poller.poll(source, keep, since=since, timeout=rt.settings.crawl.timeout)
    except Exception as exc:  # a crawl that blew up is this source's error, not ours
        log.exception("source.crawl_crashed", extra={"source": source.name})
        report = PollReport(error=f"crawl failed: {type(exc).__name__}: {exc}"[:300])
    if report.error is not None:  # Scrapy's messages quote the URL, secrets and all
        report.error = Redactor.for_sources([source])(report.error)
    await _record(rt, source, report)
    # a failed poll (an unreachable host, an HTTP error, no feed) is expected, and worth a look
    log.log(
        logging.INFO if report.error is None else logging.WARNING,
        "source.polled",
        extra={
            "source": source.name,
            "ok": report.error is None,
            "error": report.error,
            "note": report.note,
            "not_modified": report.not_modified,
            "entries": report.entries,
            "new": report.new_urls,
            "seconds": round(time.monotonic() - started, 3),
        },
    )
    return report


async def work_entries(rt: Runtime, *, source: str | None = None) -> Counter[str]:
    """Read the pages of the due entries (of `source`, or of any source this run configures),
    batch by batch, and judge each; return how many ended in each outcome.

    An entry of a source that does not fetch pages (`fetch: never`) is judged on its feed
    text at once. An entry whose outcome was not handed over before the batch's deadline
    counts as a transient failure. Entries due again at once are left for the next call.
    """
    outcomes: Counter[str] = Counter()
    timeout = rt.settings.crawl.timeout
    sources = rt.configured()
    seen: set[int] = set()
    while True:
        claimed = await asyncio.to_thread(
            claim_entries,
            rt.engine,
            owner=rt.instance,
            lease_seconds=2 * timeout + 10,
            limit=ENTRY_BATCH,
            sources=[source] if source is not None else list(sources),
        )
        fresh = [e for e in claimed if e.id not in seen]
        if not claimed:
            break
        seen.update(e.id for e in claimed)

        async def judge(
            entry: Entry, outcome: PageOutcome, ingestor: Ingestor = rt.ingestor
        ) -> str:
            verdict = await asyncio.to_thread(ingestor.judge, entry, outcome)
            if rt.metrics is not None:
                rt.metrics.articles.labels(entry.source, verdict).inc()
            return verdict

        fetched: list[Entry] = []
        for entry in claimed:
            source_of = sources.get(entry.source)
            if source_of is not None and source_of.kind == "telegram":
                told = post_article(entry) or Unusable("the post has no text")
                outcomes[await judge(entry, told)] += 1
            elif _fetches_pages(sources, entry.source):
                fetched.append(entry)
            else:  # fetch: never: the index's own text is all there is
                outcomes[await judge(entry, Unusable(FETCH_NEVER))] += 1
        if fetched:
            batch = await rt.poller.fetch_pages(fetched, judge, sources=sources, timeout=timeout)
            for entry in fetched:
                if entry.id not in batch.judged:
                    batch.judged.add(entry.id)
                    late = Transient(batch.error or "the page was not read in time")
                    outcomes[await judge(entry, late)] += 1
            outcomes.update(batch.outcomes)
        if len(fresh) < len(claimed) or len(claimed) < ENTRY_BATCH:
            break
    if outcomes:
        _count_outcomes(rt, outcomes)
        log.info("entries.judged", extra={"source": source, "outcomes": dict(outcomes)})
    return outcomes


def _fetches_pages(sources: dict[str, Source], name: str) -> bool:
    source = sources.get(name)
    return source is None or source.fetch_pages


def _count_outcomes(rt: Runtime, outcomes: Counter[str]) -> None:
    if rt.metrics is not None:
        rt.metrics.stories.inc(outcomes.get("stored", 0))
    stored = outcomes.get("stored", 0) + outcomes.get("joined", 0)
    if stored and rt.on_alerts is not None:
        rt.on_alerts()


async def _record(rt: Runtime, source: Source, report: PollReport) -> None:
    if rt.metrics is not None:
        outcome = "error" if report.error else "not_modified" if report.not_modified else "ok"
        rt.metrics.polls.labels(source.name, outcome).inc()
    record = PollRecord(
        ok=report.error is None,
        error=report.error,
        items=report.entries,
        etag=report.etag,
        last_modified=report.last_modified,
        body_sha256=report.body_sha256,
        keep_validators=report.not_modified or report.parts_failed > 0,
        new_items=report.new_urls,
        note=report.note,
        keep_note=report.not_modified,
    )
    now = rt.clock()
    health = await asyncio.to_thread(
        record_poll, rt.engine, source.name, record, owner=rt.instance, now=now
    )
    if health is None:  # our lease lapsed and another daemon took the source: its poll counts
        log.warning(
            "source.lease_lost",
            extra={"source": source.name, "owner": rt.instance, "ok": record.ok},
        )
        return
    if health.consecutive_failures and rt.reschedule is not None:
        delay = poll_delay(
            source.every_seconds,
            health.consecutive_failures,
            cap=rt.settings.crawl.failure_backoff_max,
        )
        rt.reschedule(source.name, delay)
        log.warning(
            "source.backing_off",
            extra={
                "source": source.name,
                "failures": health.consecutive_failures,
                "next_poll_in": round(delay, 1),
            },
        )
    if is_stale(
        source.expect_every_seconds,
        last_new_at=health.last_new_at,
        since=rt.started_at or now,
        now=now,
    ):
        log.warning(
            "source.stale",
            extra={
                "source": source.name,
                "last_new_at": health.last_new_at,
                "expect_every": source.expect_every_seconds,
            },
        )


async def prune(rt: Runtime) -> dict[str, int]:
    """Prune every kind `retention:` names past its window (`storage.retention`), and bands
    and anchors older than the dedup window; log and count what went, by kind.

    Each kind is pruned in batches of `retention.batch` rows, each its own transaction run
    in a worker thread, so ingest and delivery go on between them.
    """
    now = rt.clock()
    keep = rt.settings.retention
    counts: Counter[str] = Counter()
    for kind in KINDS:
        cutoff = now - timedelta(seconds=getattr(keep, kind))
        counts.update(
            await asyncio.to_thread(
                prune_kind, rt.engine, kind, cutoff=cutoff, batch=keep.batch, now=now
            )
        )
    window = now - timedelta(seconds=rt.settings.dedup_window)
    counts["bands"] = await asyncio.to_thread(prune_bands, rt.engine, older_than=window)
    if counts["bands"]:
        await asyncio.to_thread(
            record_pruned, rt.engine, "bands", counts["bands"], now=now, cutoff=window
        )
    if rt.metrics is not None:
        for name, count in counts.items():
            rt.metrics.pruned.labels(name).inc(count)
    log.info("storage.pruned", extra={"counts": dict(counts), "batch": keep.batch})
    return dict(counts)


async def deliver_due(rt: Runtime) -> DeliveryStats:
    """Drain every channel side by side (see `drain_channel`)."""
    results = await asyncio.gather(*(drain_channel(rt, c) for c in rt.channels.values()))
    return DeliveryStats(
        delivered=sum(r.delivered for r in results),
        retried=sum(r.retried for r in results),
        dead=sum(r.dead for r in results),
    )


async def drain_channel(rt: Runtime, channel: ChannelConfig) -> DeliveryStats:
    """Send the channel's due alerts one by one until none is due; record each attempt.

    Each alert is claimed alone just before its attempt, under a lease that outlasts the
    longest attempt (`attempt_lease`), so a worker that dies loses at most one row for one
    lease, and a slow or dead receiver holds up only its own channel. Slack gets at most one
    message a second, counted from the end of one post to the start of the next. An attempt
    whose lease was lost is logged (`alert.lease_lost`) and counted in none of the stats.
    """
    delivered = retried = dead = 0
    last_post = 0.0
    delivery = rt.settings.delivery
    # made before any alert is claimed (a failure leaves none leased) and before Slack's
    # pacing clock starts; console and Apprise channels need none
    client = rt.http.get() if channel.kind in ("slack", "webhook") else None
    apprise = rt.http.apprise(channel.name) if channel.kind == "apprise" else None
    while True:
        if channel.kind == "slack" and last_post:
            await asyncio.sleep(max(0.0, SLACK_MIN_INTERVAL - (time.monotonic() - last_post)))
        claimed = await asyncio.to_thread(
            claim_due,
            rt.engine,
            owner=rt.instance,
            now=rt.clock(),
            lease_seconds=attempt_lease(channel.kind, delivery.timeout),
            limit=1,
            channels={channel.name},
        )
        if not claimed:
            break
        item = claimed[0]
        started = time.monotonic()
        outcome = await send(
            client,
            channel,
            item,
            timeout=delivery.timeout,
            now=rt.clock(),
            out=rt.out,
            apprise=apprise,
        )
        # paced from the end of one post to the start of the next: then the receiver, too,
        # sees the posts at least a second apart, whatever each took in transit
        last_post = time.monotonic()
        result = await _record_attempt(rt, channel, item, outcome)
        if rt.metrics is not None:
            _observe(rt.metrics, channel.name, item, result, last_post - started, rt.clock())
        delivered += result == "delivered"
        retried += result == "retry"
        dead += result == "dead"
    return DeliveryStats(delivered=delivered, retried=retried, dead=dead)


def _observe(
    metrics: Metrics, channel: str, item: Notice, result: str, seconds: float, now: datetime
) -> None:
    metrics.attempts.labels(channel, result).inc()
    metrics.attempt_seconds.labels(channel).observe(seconds)
    if result in ("delivered", "dead"):
        metrics.alerts.labels(channel, result).inc()
    if result == "delivered":
        born = item.story.published_at or item.story.first_seen_at
        metrics.alert_latency.labels(channel).observe(max(0.0, (now - born).total_seconds()))


async def _record_attempt(rt: Runtime, channel: ChannelConfig, item: Notice, outcome: Any) -> str:
    """Record the attempt's answer on the alert (if this worker still holds it) and on the
    channel's health; return `delivered`, `retry`, `dead` or `lease_lost`."""
    attempt = item.alert.attempts + 1
    fields = {
        "alert_id": item.alert.id,
        "channel": channel.name,
        "attempt": attempt,
        "stories": len(item.members) or 1,
    }
    now = rt.clock()
    retry_at = None
    if isinstance(outcome, Delivered):
        kept = await asyncio.to_thread(
            mark_delivered,
            rt.engine,
            item.alert.id,
            owner=rt.instance,
            now=now,
            payload=outcome.payload,
        )
    else:
        if isinstance(outcome, Retry):
            retry_at = next_attempt(
                outcome,
                attempts=attempt,
                created_at=item.alert.created_at or now,
                now=now,
                config=rt.settings.delivery,
                rng=rt.rng,
            )
        kept = await asyncio.to_thread(
            mark_failed,
            rt.engine,
            item.alert.id,
            owner=rt.instance,
            error=outcome.reason,
            retry_at=retry_at,
        )
    if not kept:
        # our lease lapsed and another worker took the alert (or it was recorded): its
        # record stands, ours is only logged
        log.warning(
            "alert.lease_lost",
            extra={
                **fields,
                "owner": rt.instance,
                "outcome": "delivered" if isinstance(outcome, Delivered) else outcome.reason,
            },
        )
        return "lease_lost"
    if isinstance(outcome, Delivered):
        await asyncio.to_thread(
            record_channel, rt.engine, channel.name, channel.kind, ok=True, error=None, now=now
        )
        log.info("alert.delivered", extra={**fields, "status": outcome.status})
        return "delivered"
    permanent = isinstance(outcome, Reject)
    await asyncio.to_thread(
        record_channel,
        rt.engine,
        channel.name,
        channel.kind,
        ok=False,
        error=outcome.reason,
        now=now,
        permanent=permanent,
    )
    if permanent:
        log.error("channel.unhealthy", extra={"channel": channel.name, "reason": outcome.reason})
    if retry_at is None:
        log.error(
            f"alert.{'rejected' if permanent else 'gave_up'}",
            extra={**fields, "reason": outcome.reason},
        )
        return "dead"
    log.warning(
        "alert.retry_scheduled",
        extra={
            **fields,
            "reason": outcome.reason,
            "next_attempt_at": retry_at.isoformat(),
            "in_seconds": round((retry_at - now) / timedelta(seconds=1), 1),
        },
    )
    return "retry"
