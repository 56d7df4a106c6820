"""Article extraction off the event loop, in worker processes.

trafilatura is pure Python over lxml and holds the GIL for most of its ~16 ms a page, so a
thread keeps it off the event loop but not off the core the loop runs on. `Extractor` runs
`extract_page` (HTML through trafilatura, PDF through pypdf) in a small process pool instead
(one worker per core by default, `crawl.extract_workers`; 0 runs it in a thread), so a poll
that finds many new pages uses every core while the loop keeps fetching.

The pool is for bursts. Workers take about a second to start (a fresh interpreter importing
trafilatura), which a story's time to alert should not pay: while no pool runs, a page is
extracted in a thread of the daemon, as before. A poll that finds `BURST_PAGES` or more new
pages starts the pool (`warm`), so the workers boot while those pages download, and pages go
to the workers from then on. The pool stops after `IDLE_SECONDS` without work, so a daemon
whose feeds answer 304 keeps no workers. Workers are started with "spawn" (forking a process
that runs an event loop, threads and database connections is not safe) and import only the
pure extraction code.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from kurilwatch.model import Article, FeedEntry

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0
BURST_PAGES = 8
"""New pages in one poll that make starting the worker processes worth their start-up."""


def default_workers() -> int:
    """One extraction worker per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _ready() -> bool:
    return True


def _extract(
    body: bytes, url: str, source: str, entry: FeedEntry | None, content_type: str | None
) -> Article:
    # Imported here, in the thread or worker process that runs it: the first page's import of
    # trafilatura (~0.3 s), or pypdf's on the first PDF (~0.5 s), must not happen on the loop.
    from crawler.extract import extract_page

    return extract_page(body, url, source=source, content_type=content_type, entry=entry)


class Extractor:
    """`await extractor(body, url, source=…, entry=…, content_type=…)` → `Article`, in a worker
    process."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        idle_seconds: float = IDLE_SECONDS,
        setup: Callable[[], None] | None = None,
    ) -> None:
        """`workers` processes (None: one per core; 0: extract in a thread); `setup`, a
        picklable callable, runs first in each worker (the daemon's logging setup)."""
        self.workers = default_workers() if workers is None else workers
        self.idle_seconds = idle_seconds
        self.setup = setup
        self._pool: Executor | None = None
        self._ready = False
        self._busy = 0
        self._idle_timer: asyncio.TimerHandle | None = None

    async def __call__(
        self,
        body: bytes,
        url: str,
        *,
        source: str,
        entry: FeedEntry | None = None,
        content_type: str | None = None,
    ) -> Article:
        """The article in `body`, HTML or PDF (raises `ExtractionError` as `extract_page` does)."""
        call = partial(_extract, body, url, source, entry, content_type)
        if self.workers <= 0 or self._pool is None or not self._ready:
            return await asyncio.to_thread(call)  # no workers, or still booting
        loop = asyncio.get_running_loop()
        self._busy += 1
        self._cancel_idle_timer()
        try:
            return await loop.run_in_executor(self._ensure_pool(), call)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start afresh, and extract this page here.
            log.warning("extraction.pool_broken", extra={"url": url})
            self._discard_pool()
            return await asyncio.to_thread(call)
        finally:
            self._busy -= 1
            if not self._busy:
                self._arm_idle_timer()

    def warm(self, pages: int = BURST_PAGES) -> None:
        """`pages` new pages are on their way: start the workers if that is a burst."""
        if self.workers <= 0 or (pages < BURST_PAGES and self._pool is None):
            return
        pool = self._ensure_pool()
        loop = asyncio.get_running_loop()
        if not self._ready:
            for _ in range(self.workers):
                pool.submit(_ready).add_done_callback(
                    lambda _f: loop.call_soon_threadsafe(self._mark_ready, pool)
                )
        self._cancel_idle_timer()
        if not self._busy and self._ready:  # a booting pool is not idle: timed once ready
            self._arm_idle_timer()

    def close(self) -> None:
        """Stop the workers (they finish what they hold)."""
        self._cancel_idle_timer()
        self._discard_pool()

    @property
    def running(self) -> bool:
        """Whether worker processes are up (or starting)."""
        return self._pool is not None

    @property
    def ready(self) -> bool:
        """Whether pages now go to the workers."""
        return self._pool is not None and self._ready

    def _mark_ready(self, pool: Executor) -> None:
        if pool is self._pool and not self._ready:
            self._ready = True
            if not self._busy:
                self._arm_idle_timer()

    def _ensure_pool(self) -> Executor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=self.setup,
            )
        return self._pool

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        self._ready = False
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _arm_idle_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._cancel_idle_timer()
        self._idle_timer = loop.call_later(self.idle_seconds, self._discard_pool)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
