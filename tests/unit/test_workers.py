"""Extraction in worker processes: same article as in-process, errors kept, workers replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from functools import partial
from pathlib import Path

import pytest

from crawler.extract import extract_article, extract_page
from crawler.workers import BURST_PAGES, Extractor
from kurilwatch.errors import ExtractionError
from tests.support.releases import release_by_key, release_pdf
from tests.unit.test_extract import PAGE_URL, page


async def _started(extractor: Extractor) -> Extractor:
    """`extractor` with its workers booted (a burst of pages is announced)."""
    extractor.warm(BURST_PAGES)
    for _ in range(600):
        if extractor.ready:
            return extractor
        await asyncio.sleep(0.05)
    raise AssertionError("the workers did not start within 30 s")


def test_a_worker_extracts_what_the_process_would() -> None:
    async def run() -> None:
        extractor = await _started(Extractor(1))
        try:
            got = await extractor(page(), PAGE_URL, source="wire")
            assert extractor.ready
        finally:
            extractor.close()
        assert got == extract_article(page(), PAGE_URL, source="wire")

    asyncio.run(run())


def test_a_worker_extracts_a_pdf_by_its_content_type() -> None:
    release = release_by_key("ja-js-frigates-kunashiri")
    body = release_pdf(release)
    url = "https://www.example-mod.test/press/20260312-frigates"

    async def run() -> None:
        extractor = await _started(Extractor(1))
        try:
            got = await extractor(body, url, source="js", content_type="application/pdf")
        finally:
            extractor.close()
        assert got == extract_page(body, url, source="js", content_type="application/pdf")
        assert (got.title, got.language) == (release.title, "ja")

    asyncio.run(run())


def test_no_workers_means_a_thread_of_this_process() -> None:
    async def run() -> None:
        extractor = Extractor(0)
        got = await extractor(page(), PAGE_URL, source="wire")
        assert not extractor.running
        assert got.title == "Ferry service resumes after storms"

    asyncio.run(run())


def test_an_unusable_page_raises_extraction_error_across_the_process_boundary() -> None:
    async def run() -> None:
        extractor = await _started(Extractor(1))
        try:
            with pytest.raises(ExtractionError):
                await extractor(b"<html><body><p>too short</p></body></html>", PAGE_URL, source="s")
        finally:
            extractor.close()

    asyncio.run(run())


def test_a_killed_worker_is_replaced_and_no_page_is_lost() -> None:
    async def run() -> None:
        extractor = await _started(Extractor(1))
        try:
            await extractor(page(), PAGE_URL, source="wire")
            pool = extractor._pool
            assert pool is not None
            for pid in list(pool._processes):  # type: ignore[attr-defined]
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            again = await extractor(page(), PAGE_URL, source="wire")
            assert again.title == "Ferry service resumes after storms"
            assert not extractor.running  # the broken pool is gone
            await _started(extractor)  # the next burst starts a fresh one
            assert extractor._pool is not pool
            assert await extractor(page(), PAGE_URL, source="wire") == again
        finally:
            extractor.close()

    asyncio.run(run())


def test_workers_start_for_a_burst_stop_when_idle_and_come_back() -> None:
    async def run() -> None:
        extractor = Extractor(1, idle_seconds=0.3)
        try:
            extractor.warm(1)  # one new page: not worth starting workers for
            assert not extractor.running
            await _started(extractor)
            await extractor(page(), PAGE_URL, source="wire")
            await asyncio.sleep(0.6)
            assert not extractor.running  # no work for idle_seconds: no workers
            got = await extractor(page(), PAGE_URL, source="wire")  # in a thread meanwhile
            assert not extractor.running and got.title
            await _started(extractor)  # the next burst brings them back
        finally:
            extractor.close()

    asyncio.run(run())


def test_each_worker_runs_the_setup_it_is_given(tmp_path: Path) -> None:
    # The daemon passes its logging setup this way (scheduler.logs.worker_logging).
    marker = tmp_path / "set-up"

    async def run() -> None:
        extractor = await _started(Extractor(1, setup=partial(Path.touch, marker)))
        extractor.close()

    asyncio.run(run())
    assert marker.exists()
