"""The poll spider: one long-lived spider that carries out every poll of every source.

A daemon (or one `run --once`) opens ONE Scrapy crawl and keeps it open; each poll of a source
is a `Poll` submitted to it (`PollSpider.submit`), so crawler start-up is paid once, and
per-host politeness (AutoThrottle, per-domain concurrency, per-host `delay:`/`concurrency:`)
is shared by every source on a host. A poll sends a conditional GET for the index document
(If-None-Match / If-Modified-Since from the last poll); a 304, or a body whose SHA-256 did not
change, ends it. Otherwise the index is parsed off the event loop (a feed, a sitemap and the
child sitemaps of a sitemap index, an HTML listing, or a Telegram channel's preview, read page
by older page while `crawler.telegram.page_back` says so) and its entries are handed to the
poll's `keep` callable, which makes them durable entries (`storage.entries`) and says how many
were new. Reading the pages is separate work: `PageBatch` fetches the pages of claimed
entries, extracts each off the loop (in the extraction process pool) and hands every outcome
(`crawler.pages`: an article, unusable, transient) to the batch's `judge` callable. Polls and
batches count their requests in flight; when the last one is done, `done` is set.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.http import basic_auth_header

from crawler.dates import zone
from crawler.failures import network_failure
from crawler.feeds import parse_feed
from crawler.index import SitemapPage, parse_listing, parse_sitemap
from crawler.pages import PageOutcome, Transient, Unusable
from crawler.robots import RobotsCache, RobotsForbidden
from crawler.safety import AddressForbidden, forbid_entity_declarations
from crawler.telegram import DEFAULT_MAX_PAGES, page_back, page_url, parse_channel
from crawler.workers import Extractor
from kurilwatch.backoff import retry_after
from kurilwatch.errors import ExtractionError
from kurilwatch.model import Entry, FeedEntry, Source
from storage.fingerprint import body_hash

log = logging.getLogger(__name__)

PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410, 451})
MAX_CHILD_SITEMAPS = 50

Keep = Callable[[Sequence[FeedEntry]], int]
"""Makes entries durable (called in a worker thread); returns how many were new."""
Judge = Callable[[Entry, PageOutcome], Awaitable[str]]
"""Decides on one entry's page outcome and records it; returns the outcome's name."""


@dataclass(slots=True)
class PollReport:
    """What one poll of a source found; read by the job when the crawl ends."""

    not_modified: bool = False
    error: str | None = None
    entries: int = 0
    new_urls: int = 0
    parts_failed: int = 0
    """Child sitemaps, or older pages of a channel's preview, that could not be read: the
    index must be read whole again."""
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    status: int | None = None
    """The index's HTTP status, when it answered."""
    content_type: str | None = None
    failure: BaseException | None = None
    """What stopped the index request, when it failed (`sources check` words it)."""
    too_old: int = 0
    """Sitemap entries and child sitemaps left out for being older than `alert_max_age`."""

    @property
    def note(self) -> str | None:
        """Why an index that was read and listed things gave no entry, if that is why."""
        if self.error is None and not self.not_modified and not self.entries and self.too_old:
            return f"all {self.too_old} entries older than alert_max_age"
        return None


def parse_index(
    source: Source, body: bytes, url: str, headers: Mapping[str, str], *, since: datetime
) -> SitemapPage:
    """Entries (and, of a sitemap index, child sitemaps) of an index of `source.kind`. Pure.

    Raises:
        ExtractionError: the document is not of the expected kind.
    """
    if source.kind == "telegram":  # the newest page only: paging back is the spider's
        return SitemapPage(entries=parse_channel(body, source.url).posts)
    if source.kind != "listing":
        forbid_entity_declarations(body)
    tz = zone(source.timezone)
    if source.kind == "sitemap":
        return parse_sitemap(body, url, since=since, tz=tz)
    if source.kind == "listing":
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        return SitemapPage(
            entries=parse_listing(body, url, links=source.links, content_type=content_type, tz=tz)
        )
    return SitemapPage(entries=tuple(parse_feed(body, url, headers, tz=tz)))


@dataclass(eq=False, slots=True, kw_only=True)
class Work:
    """Requests of one poll or page batch in flight in the shared spider.

    Its `timeout` is its own time: it counts from when its first request is handed to the
    network (`sent_at`, set by `SentClock`), not while that request waits its turn behind
    other work in the crawl's queues; no request of it outlives `deadline`.
    """

    pending: int = 0
    """Requests and callbacks not yet finished."""
    closed: bool = False
    """Given up (timed out or crawl stopped): callbacks still running follow nothing more."""
    timeout: float = math.inf
    """Seconds the work may take from its first request sent."""
    queued_at: float = field(default_factory=time.monotonic)
    """`time.monotonic()` when the work entered the crawl."""
    sent_at: float | None = None
    """`time.monotonic()` when its first request was handed to the network; None before."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the work is sent or done: whoever waits on it looks again."""
    error: str | None = None
    what: str = "work"

    @property
    def deadline(self) -> float:
        """`time.monotonic()` by which the work must be done (none before it is sent)."""
        return math.inf if self.sent_at is None else self.sent_at + self.timeout

    @property
    def give_up_at(self) -> float:
        """`time.monotonic()` when the work is given up: its deadline once sent, else when
        it has waited `QUEUED_TIMEOUTS` of its timeouts for its turn."""
        if self.sent_at is None:
            return self.queued_at + QUEUED_TIMEOUTS * self.timeout
        return self.deadline

    def over(self) -> str:
        """Why the work is over when its time has run out, in words for `last_error`."""
        if self.sent_at is None:
            waited = QUEUED_TIMEOUTS * self.timeout
            return f"{self.what} queued {waited:g}s behind other requests, never requested"
        return f"{self.what} timed out after {self.timeout:g}s"

    def sending(self, now: float) -> None:
        """A request of this work is being handed to the network now."""
        if self.sent_at is None:
            self.sent_at = now
            self.wake.set()

    def begin(self) -> None:
        """One more request in flight."""
        self.pending += 1

    def end(self) -> None:
        """One request finished; the last one finishes the work."""
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()
            self.wake.set()

    def close(self, reason: str) -> None:
        """Stop following anything for this work, and finish it now."""
        if not self.done.is_set():
            self.error = self.error or reason
        self.closed = True
        self.done.set()
        self.wake.set()


class PollOver(IgnoreRequest):
    """A request of a poll (or page batch) that is over: given up, or out of time."""


@dataclass(eq=False, slots=True, kw_only=True)
class Poll(Work):
    """One poll of one source's index."""

    source: Source
    keep: Keep
    since: datetime
    report: PollReport = field(default_factory=PollReport)
    what: str = "poll"

    def close(self, reason: str) -> None:
        """Stop following anything for this poll; the report names the reason."""
        if not self.done.is_set():
            self.report.error = self.report.error or reason
        Work.close(self, reason)


@dataclass(eq=False, slots=True, kw_only=True)
class PageBatch(Work):
    """The pages of some claimed entries, each judged as soon as it is read or fails."""

    entries: Sequence[Entry]
    judge: Judge
    sources: Mapping[str, Source] = field(default_factory=dict)
    """The configured sources by name: a page is held to its source's address policy."""
    outcomes: Counter[str] = field(default_factory=Counter)
    judged: set[int] = field(default_factory=set)
    """Ids of the entries whose outcome was handed to `judge`."""
    what: str = "page fetch"


QUEUED_TIMEOUTS = 3
"""A poll (or page batch) whose first request waited this many of its timeouts for its turn
is given up unsent."""
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
        self.polls: set[Work] = set()
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

    def forget(self, work: Work) -> None:
        """The job is done with `work` (a poll or a page batch)."""
        self.polls.discard(work)

    def _request(
        self,
        poll: Work,
        url: str,
        callback: Any,
        errback: Any,
        *,
        meta: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Request:
        source = poll.source if isinstance(poll, Poll) else None
        meta = {SOURCE: source, **(meta or {}), POLL: poll}
        url, authorization = _without_userinfo(url)
        if authorization is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": authorization}
        poll.begin()
        return Request(
            url, callback=callback, errback=errback, dont_filter=True, meta=meta, **kwargs
        )

    async def parse_index(self, response: Response) -> AsyncIterator[Any]:
        """Decide from the index document which article pages to fetch."""
        poll: Poll = response.meta[POLL]
        try:
            poll.report.status = response.status
            poll.report.content_type = _header(response, b"Content-Type")
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
            if poll.source.kind == "telegram":
                async for request in self._read_channel(poll, response.body, pages=1):
                    yield request
                return
            try:
                page = await asyncio.to_thread(
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
            poll.report.too_old += page.too_old
            await self._keep(poll, page.entries)
            for child in page.sitemaps[:MAX_CHILD_SITEMAPS]:
                if not poll.closed:
                    yield self._request(poll, child, self.parse_child_sitemap, self.child_failed)
        finally:
            poll.end()

    async def parse_child_sitemap(self, response: Response) -> AsyncIterator[Any]:
        """A sitemap listed by the source's sitemap index (one level deep)."""
        poll: Poll = response.meta[POLL]
        try:
            try:
                forbid_entity_declarations(response.body)
                page = await asyncio.to_thread(
                    parse_sitemap,
                    response.body,
                    response.url,
                    since=poll.since,
                    tz=zone(poll.source.timezone),
                )
            except ExtractionError as exc:
                log.warning(
                    "sitemap.unreadable",
                    extra={"source": poll.source.name, "url": response.url, "reason": str(exc)},
                )
                poll.report.parts_failed += 1
                return
            poll.report.too_old += page.too_old
            await self._keep(poll, page.entries)
        finally:
            poll.end()
        return
        yield

    async def parse_channel_page(self, response: Response, pages: int) -> AsyncIterator[Any]:
        """An older page of a Telegram channel's preview (the `pages`-th read this poll)."""
        poll: Poll = response.meta[POLL]
        try:
            async for request in self._read_channel(poll, response.body, pages=pages):
                yield request
        finally:
            poll.end()

    async def _read_channel(self, poll: Poll, body: bytes, *, pages: int) -> AsyncIterator[Any]:
        """Keep one preview page's posts, then ask for the older page if `page_back` says so."""
        try:
            page = await asyncio.to_thread(parse_channel, body, poll.source.url)
        except ExtractionError as exc:
            if pages == 1:
                poll.report.error = str(exc)
                return
            log.warning(
                "telegram.page_unreadable",
                extra={"source": poll.source.name, "page": pages, "reason": str(exc)},
            )
            poll.report.parts_failed += 1
            return
        new = await self._keep(poll, page.posts)
        more = page_back(
            page,
            new=new,
            pages_read=pages,
            max_pages=poll.source.max_pages or DEFAULT_MAX_PAGES,
            since=poll.since,
        )
        if more and page.before is not None and not poll.closed:
            yield self._request(
                poll,
                page_url(poll.source.url, page.before),
                self.parse_channel_page,
                self.channel_page_failed,
                cb_kwargs={"pages": pages + 1},
            )

    async def _keep(self, poll: Poll, entries: Sequence[FeedEntry]) -> int:
        poll.report.entries += len(entries)
        if not entries or poll.closed:
            return 0
        new = await asyncio.to_thread(poll.keep, entries)
        poll.report.new_urls += new
        return new

    def fetch_pages(self, batch: PageBatch) -> None:
        """Start reading the pages of `batch.entries`; each outcome goes to `batch.judge`."""
        self.polls.add(batch)
        if not batch.entries:
            batch.done.set()
            return
        self.extract.warm(len(batch.entries))
        for entry in batch.entries:
            request = self._request(
                batch,
                entry.url,
                self.parse_page,
                self.page_failed,
                cb_kwargs={"entry": entry},
                # the entry's own backoff retries, with its attempts counted and kept
                meta={"dont_retry": True, SOURCE: batch.sources.get(entry.source)},
            )
            self.crawler.engine.crawl(request)

    async def parse_page(self, response: Response, entry: Entry) -> AsyncIterator[Any]:
        """Extract the article off the loop and hand the outcome to the batch's judge."""
        batch: PageBatch = response.meta[POLL]
        try:
            outcome: PageOutcome
            try:
                outcome = await self.extract(
                    response.body,
                    entry.url,
                    source=entry.source,
                    entry=entry.feed_entry(),
                    content_type=_header(response, b"Content-Type"),
                )
            except ExtractionError as exc:
                outcome = Unusable(str(exc))
            await self._judge(batch, entry, outcome)
        finally:
            batch.end()
        return
        yield

    async def page_failed(self, failure: Failure) -> None:
        """A page could not be fetched: unusable for good, or worth another try later."""
        request = failure.request  # type: ignore[attr-defined]
        batch: PageBatch = request.meta[POLL]
        entry: Entry = request.cb_kwargs["entry"]
        try:
            outcome: PageOutcome
            if _status(failure) in PERMANENT_STATUSES or _permanent(failure):
                outcome = Unusable(_unusable(failure))
            else:
                outcome = Transient(_describe(failure), after=_retry_after(failure))
            await self._judge(batch, entry, outcome)
        finally:
            batch.end()

    async def index_failed(self, failure: Failure) -> None:
        """The index document itself could not be fetched: the poll failed."""
        poll: Poll = failure.request.meta[POLL]  # type: ignore[attr-defined]
        try:
            poll.report.error = _describe(failure)
            poll.report.status = _status(failure)
            poll.report.failure = failure.value
        finally:
            poll.end()

    async def child_failed(self, failure: Failure) -> None:
        """A child sitemap failed: read the whole index again next poll."""
        poll: Poll = failure.request.meta[POLL]  # type: ignore[attr-defined]
        try:
            poll.report.parts_failed += 1
            log.warning(
                "sitemap.fetch_failed",
                extra={"source": poll.source.name, "reason": _describe(failure)},
            )
        finally:
            poll.end()

    async def channel_page_failed(self, failure: Failure) -> None:
        """An older page of a channel's preview failed: what it holds is not read."""
        poll: Poll = failure.request.meta[POLL]  # type: ignore[attr-defined]
        try:
            poll.report.parts_failed += 1
            log.warning(
                "telegram.page_failed",
                extra={"source": poll.source.name, "reason": _describe(failure)},
            )
        finally:
            poll.end()

    async def _judge(self, batch: PageBatch, entry: Entry, outcome: PageOutcome) -> None:
        batch.judged.add(entry.id)
        batch.outcomes[await batch.judge(entry, outcome)] += 1

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
        work = request.meta.get(POLL)
        if isinstance(work, Work):
            work.end()


class PollDeadlineMiddleware:
    """Downloader middleware: no request of a poll that is over enters the downloader.

    A request of a poll (or page batch) that was given up, or whose deadline has passed, is
    dropped here; `SentClock` cuts the timeout of the ones that are sent.
    """

    @classmethod
    def from_crawler(cls, crawler: Any) -> PollDeadlineMiddleware:
        """Scrapy's constructor hook."""
        return cls()

    async def process_request(self, request: Request) -> None:
        """Drop the request of a poll that is over."""
        poll = request.meta.get(POLL)
        if isinstance(poll, Work) and (poll.closed or poll.deadline <= time.monotonic()):
            raise PollOver(poll.error or poll.over())


class SentClock(HTTP11DownloadHandler):
    """Scrapy's HTTP download handler, starting each poll's own clock as its request is sent.

    The handler is called when the downloader hands a request to the network, after it
    waited its turn for the host's slot: the first request of a poll (or page batch) starts
    the poll's `timeout` then (`Work.sending`), and every attempt (retries included) gets
    `download_timeout` cut to what is left of it. A request of a poll that is over by then
    is not sent. Without the cut, a poll that timed out would leave a hanging download, and
    its retry, holding one of the host's `concurrency_per_domain` places for the full
    download timeout, starving the host's other sources.
    """

    MIN_TIMEOUT = 0.5

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.download_timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")

    async def download_request(self, request: Request) -> Response:
        """Start the poll's clock, cut the attempt's timeout to it, then download."""
        work = request.meta.get(POLL)
        if isinstance(work, Work):
            now = time.monotonic()
            if work.closed:
                raise PollOver(work.error or work.over())
            work.sending(now)
            left = work.deadline - now
            if left <= 0:
                raise PollOver(work.over())
            timeout = request.meta.get("download_timeout") or self.download_timeout
            request.meta["download_timeout"] = max(self.MIN_TIMEOUT, min(timeout, left))
        return await super().download_request(request)


def _without_userinfo(url: str) -> tuple[str, str | None]:
    """`url` without its user info, and that user info as HTTP Basic credentials (Scrapy
    refuses a URL that carries it)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    header = basic_auth_header(unquote(user), unquote(password)).decode("latin-1")
    return urlunsplit(parts._replace(netloc=host)), header


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


def _retry_after(failure: Failure) -> float | None:
    error = failure.value
    if isinstance(error, HttpError):
        value = _header(error.response, b"Retry-After")
        return retry_after(value, now=datetime.now(UTC))
    return None


def _unusable(failure: Failure) -> str:
    """Why a page that failed for good is not used, in words for `entries list`."""
    error = failure.value
    status = _status(failure)
    if status is not None:
        return f"the page answered HTTP {status}"
    if isinstance(error, DownloadCancelledError) or (
        isinstance(error, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(error)
    ):
        return "the page is larger than crawl.max_size"
    return _describe(failure)


def _permanent(failure: Failure) -> bool:
    """Failed in a way that another try would repeat: judge the entry without its page.

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
    """Why a request failed: the HTTP status, an expected failure in our own words (a network
    failure, robots.txt), or the exception's name and message."""
    status = _status(failure)
    if status is not None:
        return f"HTTP {status}"
    error = failure.value
    request = getattr(failure, "request", None)
    words = network_failure(error, request.url if request is not None else None)
    if words is not None:
        return words
    if isinstance(error, RobotsForbidden | PollOver):
        return str(error)[:300]
    kind = type(error).__name__
    return f"{kind}: {failure.getErrorMessage()}"[:300]
