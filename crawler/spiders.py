"""The poll spider: one long-lived spider that carries out every poll of every source.

A daemon (or one `run --once`) opens ONE Scrapy crawl and keeps it open; each poll of a source
is a `Poll` submitted to it (`PollSpider.submit`), so crawler start-up is paid once, and
per-host politeness (AutoThrottle, per-domain concurrency, per-host `delay:`/`concurrency:`)
is shared by every source on a host. A poll sends a conditional GET for the index document
(If-None-Match / If-Modified-Since from the last poll); a 304, or a body whose SHA-256 did not
change, ends it. Otherwise the index is parsed off the event loop (a feed, a sitemap and the
child sitemaps of a sitemap index, or an HTML listing), storage says which entry URLs are new,
only those are fetched, each is extracted off the loop (in the extraction process pool), and
the articles go to the item pipeline as `Harvest` items. The poll counts its requests and
items in flight; when the last one is done, `Poll.done` is set and `Poll.report` says what
happened.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.feeds import parse_feed
from crawler.index import parse_listing, parse_sitemap
from crawler.pipeline import Ingestor
from crawler.robots import RobotsCache, RobotsForbidden
from crawler.safety import AddressForbidden, forbid_entity_declarations
from crawler.workers import Extractor
from kurilwatch.errors import ExtractionError
from kurilwatch.model import Article, FeedEntry, Source
from storage.articles import mark_seen, unseen_urls
from storage.fingerprint import body_hash

log = logging.getLogger(__name__)

PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410, 451})
MAX_CHILD_SITEMAPS = 50


@dataclass(slots=True)
class PollReport:
    """What one poll of a source found; read by the job when the crawl ends."""

    not_modified: bool = False
    error: str | None = None
    entries: int = 0
    new_urls: int = 0
    transient_failures: int = 0
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    outcomes: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: str) -> None:
        """Add one article outcome (stored, joined, duplicate, off_topic, unusable)."""
        self.outcomes[outcome] += 1


def parse_index(
    source: Source, body: bytes, url: str, headers: Mapping[str, str], *, since: datetime
) -> tuple[list[FeedEntry], list[str]]:
    """Entries and child sitemaps of an index document of `source.kind`. Pure.

    Raises:
        ExtractionError: the document is not of the expected kind.
    """
    if source.kind != "listing":
        forbid_entity_declarations(body)
    if source.kind == "sitemap":
        page = parse_sitemap(body, url, since=since)
        return list(page.entries), list(page.sitemaps)
    if source.kind == "listing":
        return list(parse_listing(body, url, links=source.links)), []
    return parse_feed(body, url, headers), []


@dataclass(eq=False, slots=True)
class Poll:
    """One poll of one source, in flight in the shared spider."""

    source: Source
    ingestor: Ingestor
    since: datetime
    report: PollReport = field(default_factory=PollReport)
    queued: set[str] = field(default_factory=set)
    pending: int = 0
    """Requests and items of this poll not yet finished."""
    closed: bool = False
    """Given up (timed out or crawl stopped): callbacks still running follow nothing more."""
    deadline: float = math.inf
    """`time.monotonic()` by which the poll must be done; no request of it outlives it."""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self) -> None:
        """One more request or item in flight."""
        self.pending += 1

    def end(self) -> None:
        """One request or item finished; the last one finishes the poll."""
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()

    def close(self, reason: str) -> None:
        """Stop following anything for this poll, and finish it now."""
        if not self.done.is_set():
            self.report.error = self.report.error or reason
        self.closed = True
        self.done.set()


@dataclass(frozen=True, slots=True)
class Harvest:
    """The item the spider yields: an extracted article and the poll that found it."""

    article: Article
    poll: Poll


POLL = "kurilwatch_poll"
SOURCE = "kurilwatch_source"


class PollSpider(scrapy.Spider):
    """Carries out every submitted poll; stays open until the crawl is stopped."""

    name = "kurilwatch"

    def __init__(
        self,
        *args: Any,
        robots_cache: RobotsCache | None = None,
        extract: Extractor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.robots_cache = robots_cache
        self.extract = extract or Extractor()
        self.polls: set[Poll] = set()
        self.opened = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PollSpider:
        """Scrapy's constructor hook: stay open when idle, finish polls when closed."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        """Nothing at start: polls arrive through `submit`."""
        return
        yield

    def submit(self, poll: Poll) -> None:
        """Start `poll`: its conditional index request enters the crawl."""
        headers = {}
        if poll.source.etag:
            headers["If-None-Match"] = poll.source.etag
        if poll.source.last_modified:
            headers["If-Modified-Since"] = poll.source.last_modified
        self.polls.add(poll)
        request = self._request(
            poll,
            poll.source.url,
            self.parse_index,
            self.index_failed,
            headers=headers,
            meta={"handle_httpstatus_list": [304]},
        )
        self.crawler.engine.crawl(request)

    def forget(self, poll: Poll) -> None:
        """The job is done with `poll`."""
        self.polls.discard(poll)

    def _request(
        self,
        poll: Poll,
        url: str,
        callback: Any,
        errback: Any,
        *,
        meta: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Request:
        meta = {**(meta or {}), POLL: poll, SOURCE: poll.source}
        poll.begin()
        return Request(
            url, callback=callback, errback=errback, dont_filter=True, meta=meta, **kwargs
        )

    async def parse_index(self, response: Response) -> AsyncIterator[Any]:
        """Decide from the index document which article pages to fetch."""
        poll: Poll = response.meta[POLL]
        try:
            if response.status == 304:
                poll.report.not_modified = True
                return
            digest = body_hash(response.body)
            poll.report.etag = _header(response, b"ETag")
            poll.report.last_modified = _header(response, b"Last-Modified")
            poll.report.body_sha256 = digest
            if digest == poll.source.body_sha256:
                poll.report.not_modified = True
                return
            try:
                entries, children = await asyncio.to_thread(
                    parse_index,
                    poll.source,
                    response.body,
                    response.url,
                    _headers(response),
                    since=poll.since,
                )
            except ExtractionError as exc:
                poll.report.error = str(exc)
                return
            for child in children[:MAX_CHILD_SITEMAPS]:
                if not poll.closed:
                    yield self._request(poll, child, self.parse_child_sitemap, self.child_failed)
            async for request in self._follow(poll, entries):
                yield request
        finally:
            poll.end()

    async def parse_child_sitemap(self, response: Response) -> AsyncIterator[Any]:
        """A sitemap listed by the source's sitemap index (one level deep)."""
        poll: Poll = response.meta[POLL]
        try:
            try:
                forbid_entity_declarations(response.body)
                page = await asyncio.to_thread(
                    parse_sitemap, response.body, response.url, since=poll.since
                )
            except ExtractionError as exc:
                log.warning(
                    "sitemap.unreadable",
                    extra={"source": poll.source.name, "url": response.url, "reason": str(exc)},
                )
                poll.report.transient_failures += 1
                return
            async for request in self._follow(poll, page.entries):
                yield request
        finally:
            poll.end()

    async def _follow(self, poll: Poll, entries: Iterable[FeedEntry]) -> AsyncIterator[Request]:
        wanted = [e for e in entries if e.url not in poll.queued]
        poll.report.entries += len(wanted)
        if not wanted or poll.closed:
            return
        fresh = await asyncio.to_thread(unseen_urls, poll.ingestor.engine, [e.url for e in wanted])
        if fresh:
            self.extract.warm(len(fresh))
        for entry in wanted:
            if entry.url in fresh and entry.url not in poll.queued and not poll.closed:
                poll.queued.add(entry.url)
                poll.report.new_urls += 1
                yield self._request(
                    poll,
                    entry.url,
                    self.parse_article,
                    self.article_failed,
                    cb_kwargs={"entry": entry},
                )

    async def parse_article(self, response: Response, entry: FeedEntry) -> AsyncIterator[Any]:
        """Extract the article off the loop and hand it to the pipeline."""
        poll: Poll = response.meta[POLL]
        try:
            try:
                article = await self.extract(
                    response.body, entry.url, source=poll.source.name, entry=entry
                )
            except ExtractionError as exc:
                log.warning(
                    "article.unusable",
                    extra={"source": poll.source.name, "url": entry.url, "reason": str(exc)},
                )
                await self._forget(poll, entry.url, "unusable")
                return
            poll.begin()  # the item, until the pipeline is done with it
            yield Harvest(article, poll)
        finally:
            poll.end()

    async def index_failed(self, failure: Failure) -> None:
        """The index document itself could not be fetched: the poll failed."""
        poll: Poll = failure.request.meta[POLL]  # type: ignore[attr-defined]
        try:
            poll.report.error = _describe(failure)
        finally:
            poll.end()

    async def child_failed(self, failure: Failure) -> None:
        """A child sitemap failed: try the whole index again next poll."""
        poll: Poll = failure.request.meta[POLL]  # type: ignore[attr-defined]
        try:
            poll.report.transient_failures += 1
            log.warning(
                "sitemap.fetch_failed",
                extra={"source": poll.source.name, "reason": _describe(failure)},
            )
        finally:
            poll.end()

    async def article_failed(self, failure: Failure) -> None:
        """An article page failed: gone for good, or to be tried on the next poll."""
        request = failure.request  # type: ignore[attr-defined]
        poll: Poll = request.meta[POLL]
        try:
            status = _status(failure)
            log.warning(
                "article.fetch_failed",
                extra={
                    "source": poll.source.name,
                    "url": request.url,
                    "reason": _describe(failure),
                },
            )
            if status in PERMANENT_STATUSES or _permanent(failure):
                await self._forget(poll, request.url, "unusable")
            else:
                poll.report.transient_failures += 1
        finally:
            poll.end()

    async def _forget(self, poll: Poll, url: str, verdict: str) -> None:
        poll.report.count(verdict)
        now = poll.ingestor.clock()
        await asyncio.to_thread(
            mark_seen, poll.ingestor.engine, url, source=poll.source.name, verdict=verdict, now=now
        )

    def _idle(self) -> None:
        raise DontCloseSpider

    def _opened(self, spider: Any) -> None:
        self.opened.set()

    def _closed(self, spider: Any, reason: str) -> None:
        for poll in list(self.polls):
            poll.close(f"crawl stopped ({reason})")
        self.polls.clear()
        self.extract.close()

    def _dropped(self, request: Request, spider: Any) -> None:
        poll = request.meta.get(POLL)
        if isinstance(poll, Poll):
            poll.end()


class PollDeadlineMiddleware:
    """Downloader middleware: no download of a poll outlives the poll.

    Every attempt (retries included) gets `download_timeout` cut to what is left of its
    poll's `crawl.timeout`, and an attempt after the deadline is dropped: a poll that timed
    out would otherwise leave a hanging download, and its retry, holding one of the host's
    `concurrency_per_domain` places for the full download timeout, starving the host's
    other sources.
    """

    MIN_TIMEOUT = 0.5

    def __init__(self, crawler: Any) -> None:
        self.download_timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")

    @classmethod
    def from_crawler(cls, crawler: Any) -> PollDeadlineMiddleware:
        """Scrapy's constructor hook."""
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        """Cut the attempt's timeout to the poll's deadline; drop it past the deadline."""
        poll = request.meta.get(POLL)
        if not isinstance(poll, Poll):
            return
        left = poll.deadline - time.monotonic()
        if left <= 0 or poll.closed:
            raise IgnoreRequest("the poll is over")
        request.meta["download_timeout"] = max(self.MIN_TIMEOUT, min(self.download_timeout, left))


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _headers(response: Response) -> dict[str, str]:
    return {k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v}


def _status(failure: Failure) -> int | None:
    error = failure.value
    if isinstance(error, HttpError):
        return int(error.response.status)
    return None


def _permanent(failure: Failure) -> bool:
    """Failed in a way that another try would repeat: forget the URL instead of retrying.

    Refused by robots.txt rules (not an outage) or the address policy, or larger than the
    size cap (cut while downloading, or while decompressing: Scrapy names the setting).
    """
    error = failure.value
    if isinstance(error, AddressForbidden | DownloadCancelledError):
        return True
    if isinstance(error, RobotsForbidden):
        return error.permanent
    return isinstance(error, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(error)


def _describe(failure: Failure) -> str:
    status = _status(failure)
    if status is not None:
        return f"HTTP {status}"
    kind = type(failure.value).__name__
    return f"{kind}: {failure.getErrorMessage()}"[:300]
