"""The one crawl every poll shares: open once, submit polls, stop at the end.

Opening a Scrapy crawl costs a settings copy, ~30 components and their signals: ~20 ms of
event-loop time. Paid per poll, it capped a daemon at ~45 polls a second and put every poll
of a host into its own downloader slot, so two sources on one host were crawled as two
hosts. `Poller` opens one `PollSpider` crawl and submits each poll to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from crawler.robots import RobotsCache
from crawler.spiders import Judge, Keep, PageBatch, Poll, PollReport, PollSpider, Work
from crawler.workers import Extractor
from kurilwatch.model import Entry, Source

log = logging.getLogger(__name__)


class Poller:
    """Owns the shared crawl; `await poller.poll(source, …)` returns that poll's report."""

    def __init__(
        self,
        runner: Any,
        *,
        robots: RobotsCache | None = None,
        extract: Extractor | None = None,
    ) -> None:
        self.runner = runner
        self.robots = robots if robots is not None else RobotsCache()  # an empty cache is falsy
        self.extract = extract or Extractor()
        self._crawler: Any = None
        self._task: asyncio.Future[Any] | None = None
        self._stopping = False

    async def poll(
        self, source: Source, keep: Keep, *, since: datetime, timeout: float
    ) -> PollReport:
        """Read `source`'s index once, handing its entries to `keep`; at most `timeout` s."""
        spider = await self._spider()
        poll = Poll(source=source, keep=keep, since=since, timeout=timeout)
        spider.submit(poll)
        await self._wait(spider, poll)
        return poll.report

    async def fetch_pages(
        self,
        entries: Sequence[Entry],
        judge: Judge,
        *,
        sources: Mapping[str, Source],
        timeout: float,
    ) -> PageBatch:
        """Read the pages of `entries`, handing each outcome to `judge`; at most `timeout` s.

        Entries whose outcome was not handed over in time are not in `batch.judged`.
        """
        spider = await self._spider()
        batch = PageBatch(entries=entries, judge=judge, sources=sources, timeout=timeout)
        spider.fetch_pages(batch)
        await self._wait(spider, batch)
        return batch

    async def _wait(self, spider: PollSpider, work: Work) -> None:
        """Wait for `work` until it is done or its time runs out (`Work.give_up_at`: its
        timeout counts from its first request sent, and its turn is awaited for at most
        `QUEUED_TIMEOUTS` timeouts); then close it, saying which it was."""
        try:
            while True:
                work.wake.clear()
                if work.done.is_set():
                    break
                left = work.give_up_at - time.monotonic()
                if left <= 0:
                    work.close(work.over())
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(work.wake.wait(), left)
        finally:
            spider.forget(work)

    async def open(self) -> None:
        """Open the crawl now (it opens on the first poll otherwise)."""
        await self._spider()

    async def stop(self) -> None:
        """Close the crawl: polls still running end with an error; workers stop."""
        self._stopping = True
        if self._crawler is not None and self._task is not None and not self._task.done():
            await self._crawler.stop_async()
            await asyncio.gather(self._task, return_exceptions=True)
        self.extract.close()

    async def _spider(self) -> PollSpider:
        if self._stopping:
            raise RuntimeError("the crawl is stopping")
        if self._task is None or self._task.done():
            if self._task is not None:
                log.error("crawl.ended", extra={"error": _error(self._task)})
            self._open()
        while True:
            spider = getattr(self._crawler, "spider", None)
            if isinstance(spider, PollSpider) and spider.opened.is_set():
                return spider
            assert self._task is not None
            if self._task.done():
                raise RuntimeError(f"the crawl did not open: {_error(self._task)}")
            await asyncio.sleep(0.005)

    def _open(self) -> None:
        self._crawler = self.runner.create_crawler(PollSpider)
        self._task = asyncio.ensure_future(
            self.runner.crawl(self._crawler, robots_cache=self.robots, extract=self.extract)
        )


def _error(task: asyncio.Future[Any]) -> str | None:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return f"{type(error).__name__}: {error}" if error is not None else None
