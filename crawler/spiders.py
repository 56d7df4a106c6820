"""The source spider: one poll of one source. It only moves requests and responses.

For its `Source` it sends a conditional GET for the index document (If-None-Match /
If-Modified-Since from the last poll); a 304, or a body whose SHA-256 did not change, ends the
poll. Otherwise it parses the index off the event loop (a feed, a sitemap and the child
sitemaps of a sitemap index, or an HTML listing), asks storage which entry URLs are new,
fetches only those, extracts each off the loop, and yields `Article` items for the pipeline.
What happened is kept in `self.report` for the job to record.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.extract import extract_article, parse_feed
from crawler.index import parse_listing, parse_sitemap
from crawler.pipeline import Ingestor
from crawler.robots import RobotsCache, RobotsForbidden
from crawler.safety import AddressForbidden, forbid_entity_declarations
from kurilwatch.errors import ExtractionError
from kurilwatch.model import FeedEntry, Source
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


class SourceSpider(scrapy.Spider):
    """Polls one source of any kind; see the module docstring."""

    name = "kurilwatch-source"

    def __init__(
        self,
        *args: Any,
        source: Source,
        ingestor: Ingestor,
        since: datetime,
        robots_cache: RobotsCache | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        self.ingestor = ingestor
        self.since = since
        self.robots_cache = robots_cache
        self.report = PollReport()
        self._queued: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        """The index request, conditional on what the last poll saw."""
        headers = {}
        if self.source.etag:
            headers["If-None-Match"] = self.source.etag
        if self.source.last_modified:
            headers["If-Modified-Since"] = self.source.last_modified
        yield Request(
            self.source.url,
            headers=headers,
            callback=self.parse_index,
            errback=self.index_failed,
            dont_filter=True,
            meta={"handle_httpstatus_list": [304]},
        )

    async def parse_index(self, response: Response) -> AsyncIterator[Any]:
        """Decide from the index document which article pages to fetch."""
        if response.status == 304:
            self.report.not_modified = True
            return
        digest = body_hash(response.body)
        self.report.etag = _header(response, b"ETag")
        self.report.last_modified = _header(response, b"Last-Modified")
        self.report.body_sha256 = digest
        if digest == self.source.body_sha256:
            self.report.not_modified = True
            return
        try:
            entries, children = await asyncio.to_thread(
                parse_index,
                self.source,
                response.body,
                response.url,
                _headers(response),
                since=self.since,
            )
        except ExtractionError as exc:
            self.report.error = str(exc)
            return
        for child in children[:MAX_CHILD_SITEMAPS]:
            yield Request(child, callback=self.parse_child_sitemap, errback=self.child_failed)
        async for request in self._follow(entries):
            yield request

    async def parse_child_sitemap(self, response: Response) -> AsyncIterator[Any]:
        """A sitemap listed by the source's sitemap index (one level deep)."""
        try:
            forbid_entity_declarations(response.body)
            page = await asyncio.to_thread(
                parse_sitemap, response.body, response.url, since=self.since
            )
        except ExtractionError as exc:
            log.warning(
                "sitemap.unreadable",
                extra={"source": self.source.name, "url": response.url, "reason": str(exc)},
            )
            self.report.transient_failures += 1
            return
        async for request in self._follow(page.entries):
            yield request

    async def _follow(self, entries: Iterable[FeedEntry]) -> AsyncIterator[Request]:
        wanted = [e for e in entries if e.url not in self._queued]
        self.report.entries += len(wanted)
        fresh = await asyncio.to_thread(unseen_urls, self.ingestor.engine, [e.url for e in wanted])
        for entry in wanted:
            if entry.url in fresh and entry.url not in self._queued:
                self._queued.add(entry.url)
                self.report.new_urls += 1
                yield Request(
                    entry.url,
                    callback=self.parse_article,
                    errback=self.article_failed,
                    cb_kwargs={"entry": entry},
                )

    async def parse_article(self, response: Response, entry: FeedEntry) -> AsyncIterator[Any]:
        """Extract the article off the loop and hand it to the pipeline."""
        try:
            article = await asyncio.to_thread(
                extract_article, response.body, entry.url, source=self.source.name, entry=entry
            )
        except ExtractionError as exc:
            log.warning(
                "article.unusable",
                extra={"source": self.source.name, "url": entry.url, "reason": str(exc)},
            )
            await self._forget(entry.url, "unusable")
            return
        yield article

    async def index_failed(self, failure: Failure) -> None:
        """The index document itself could not be fetched: the poll failed."""
        self.report.error = _describe(failure)

    async def child_failed(self, failure: Failure) -> None:
        """A child sitemap failed: try the whole index again next poll."""
        self.report.transient_failures += 1
        log.warning(
            "sitemap.fetch_failed", extra={"source": self.source.name, "reason": _describe(failure)}
        )

    async def article_failed(self, failure: Failure) -> None:
        """An article page failed: gone for good, or to be tried on the next poll."""
        request = failure.request  # type: ignore[attr-defined]
        status = _status(failure)
        log.warning(
            "article.fetch_failed",
            extra={"source": self.source.name, "url": request.url, "reason": _describe(failure)},
        )
        if status in PERMANENT_STATUSES or _permanent(failure):
            await self._forget(request.url, "unusable")
        else:
            self.report.transient_failures += 1

    async def _forget(self, url: str, verdict: str) -> None:
        self.report.count(verdict)
        now = self.ingestor.clock()
        await asyncio.to_thread(
            mark_seen, self.ingestor.engine, url, source=self.source.name, verdict=verdict, now=now
        )


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
