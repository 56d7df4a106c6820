"""The feed spider: one poll of one source. It only moves requests and responses.

For its `Source` it sends a conditional GET (If-None-Match / If-Modified-Since from the last
poll); a 304, or a body whose SHA-256 did not change, ends the poll. Otherwise it parses the
feed off the event loop, asks storage which entry URLs are new, fetches only those, extracts
each off the loop, and yields `Article` items for the pipeline. What happened is kept in
`self.report` for the job to record.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import scrapy
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.extract import extract_article, parse_feed
from crawler.pipeline import Ingestor
from kurilwatch.errors import ExtractionError
from kurilwatch.model import FeedEntry, Source
from storage.articles import mark_seen, unseen_urls
from storage.fingerprint import body_hash

log = logging.getLogger(__name__)

PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410, 451})


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


class FeedSpider(scrapy.Spider):
    """Polls one RSS/Atom source; see the module docstring."""

    name = "kurilwatch-feed"

    def __init__(self, *args: Any, source: Source, ingestor: Ingestor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        self.ingestor = ingestor
        self.report = PollReport()

    async def start(self) -> AsyncIterator[Any]:
        """The feed request, conditional on what the last poll saw."""
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
        """Decide from the feed which article pages to fetch."""
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
        headers = {
            k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v
        }
        try:
            entries = await asyncio.to_thread(parse_feed, response.body, response.url, headers)
        except ExtractionError as exc:
            self.report.error = str(exc)
            return
        self.report.entries = len(entries)
        fresh = await asyncio.to_thread(unseen_urls, self.ingestor.engine, [e.url for e in entries])
        self.report.new_urls = len(fresh)
        queued: set[str] = set()
        for entry in entries:
            if entry.url in fresh and entry.url not in queued:
                queued.add(entry.url)
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
        """The feed itself could not be fetched: the poll failed."""
        self.report.error = _describe(failure)

    async def article_failed(self, failure: Failure) -> None:
        """An article page failed: gone for good, or to be tried on the next poll."""
        request = failure.request  # type: ignore[attr-defined]
        status = _status(failure)
        log.warning(
            "article.fetch_failed",
            extra={"source": self.source.name, "url": request.url, "reason": _describe(failure)},
        )
        if status in PERMANENT_STATUSES:
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


def _status(failure: Failure) -> int | None:
    error = failure.value
    if isinstance(error, HttpError):
        return int(error.response.status)
    return None


def _describe(failure: Failure) -> str:
    status = _status(failure)
    if status is not None:
        return f"HTTP {status}"
    kind = type(failure.value).__name__
    return f"{kind}: {failure.getErrorMessage()}"[:300]
