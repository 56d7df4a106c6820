"""The verdict of `sources check` on what one read of a source found, and failures in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseNeverReceived

from crawler.source_check import (
    STALE_AFTER,
    Sample,
    SourceCheck,
    answer,
    item_text,
    judge_check,
    plain_failure,
    stale_after,
)
from kurilwatch.model import Source

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FRESH = NOW - timedelta(hours=3)
PAGE = "https://news.example.org/2026/12/02/kuril-drills"


def seen(**changes: object) -> SourceCheck:
    """A healthy feed's check, with `changes`."""
    values: dict[str, object] = {
        "name": "wire",
        "kind": "feed",
        "url": "https://news.example.org/rss.xml",
        "status": 200,
        "robots": "allowed",
        "robots_allows": True,
        "items": 12,
        "newest": FRESH,
        "sample": Sample(url=PAGE, chars=2400),
    }
    values.update(changes)
    return SourceCheck(**values)


@pytest.mark.parametrize(
    ("check", "verdict", "reason_has"),
    [
        (seen(), "ok", "2400 characters"),
        # the sample page will not give the article: judged on the feed's own text
        (
            seen(sample=Sample(url=PAGE, problem="the page answered HTTP 403")),
            "feed text only",
            "HTTP 403",
        ),
        (
            seen(sample=Sample(url=PAGE, problem="a cookie-consent wall")),
            "feed text only",
            "consent",
        ),
        # a transient failure of the sample says nothing yet of the pages
        (
            seen(sample=Sample(url=PAGE, problem="HTTP 503", transient=True)),
            "error",
            "HTTP 503",
        ),
        (seen(sample=None), "error", "not read in time"),
        # items that carry their own text need no page; a source whose pages are never
        # read rests on the feed's text
        (seen(sample=None, item_text="post"), "ok", "own text"),
        (seen(sample=None, item_text="feed"), "feed text only", "never read"),
        (seen(sample=None, item_text="feed", newest=NOW - timedelta(days=9)), "stale", ""),
        # robots.txt's rules come first: the index was never asked
        (
            seen(status=None, robots="disallowed", robots_allows=False, items=0, sample=None),
            "blocked by robots",
            "robots.txt forbids",
        ),
        (seen(status=401, items=0, sample=None), "forbidden", "HTTP 401"),
        (seen(status=403, items=0, sample=None), "forbidden", "HTTP 403"),
        (seen(status=404, items=0, sample=None), "gone", "HTTP 404"),
        (seen(status=410, items=0, sample=None), "gone", "HTTP 410"),
        (
            seen(
                status=None,
                failure="DNS lookup failed: no address for a.example",
                robots="unreachable",
                items=0,
            ),
            "gone",
            "no address for a.example",
        ),
        (
            seen(status=None, failure="connection refused", robots_allows=None, items=0),
            "error",
            "connection refused",
        ),
        (seen(status=None, failure="timeout", items=0, sample=None), "error", "timeout"),
        (seen(status=500, items=0, sample=None), "error", "HTTP 500"),
        # robots.txt answered 5xx: RFC 9309 keeps us off the host until it answers
        (
            seen(
                status=None,
                failure="not asked: robots.txt answered 503",
                robots="robots.txt answered 503",
                robots_allows=None,
                items=0,
                sample=None,
            ),
            "error",
            "answered 503",
        ),
        # an HTML page where items were expected, or a listing page built by script
        (
            seen(html=True, items=0, newest=None, sample=None, unreadable="not a feed"),
            "JavaScript only",
            "HTML page",
        ),
        (seen(html=True, kind="listing", items=0, newest=None, sample=None), "JavaScript only", ""),
        (
            seen(
                kind="telegram",
                html=True,
                items=0,
                newest=None,
                sample=None,
                unreadable="the channel is not public",
            ),
            "error",
            "not public",
        ),
        (
            seen(items=0, newest=None, sample=None, unreadable="not XML: empty document"),
            "error",
            "not XML",
        ),
        (seen(items=0, newest=None, sample=None), "empty", "no item"),
        # stale: older than the source's expect_every, else a week
        (seen(newest=NOW - timedelta(days=8)), "stale", "8d old"),
        (seen(newest=NOW - timedelta(days=6)), "ok", ""),
        (seen(newest=NOW - timedelta(hours=30), stale_after=86400.0), "stale", "every 1d"),
        # stale wins over a sample that would not extract
        (
            seen(newest=NOW - timedelta(days=30), sample=Sample(url=PAGE, problem="a PDF")),
            "stale",
            "30d old",
        ),
        # no item is dated: freshness cannot be judged, the rest still can
        (seen(newest=None), "ok", ""),
    ],
)
def test_verdict(check: SourceCheck, verdict: str, reason_has: str) -> None:
    judged = judge_check(check, now=NOW)
    assert judged.name == verdict
    assert reason_has in judged.reason


def test_answer_is_the_status_or_the_failure() -> None:
    assert answer(seen()) == "HTTP 200"
    assert answer(seen(status=None, failure="timeout")) == "timeout"
    assert answer(seen(status=None)) == "no answer"
    assert answer(seen(status=None, robots_allows=False)) == "not asked"


def test_stale_after_is_expect_every_else_a_week() -> None:
    source = Source(name="s", kind="feed", url="https://a.example/rss", every_seconds=300)
    assert stale_after(source) == STALE_AFTER == 7 * 86400
    hourly = Source(
        name="s",
        kind="feed",
        url="https://a.example/rss",
        every_seconds=300,
        expect_every_seconds=3600,
    )
    assert stale_after(hourly) == 3600


def _wrapped(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


class _TLSFailure(Exception):
    """Stands in for OpenSSL.SSL.Error: the words depend on the module it comes from."""


_TLSFailure.__module__ = "OpenSSL.SSL"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (CannotResolveHostError("no.such.host"), "DNS lookup failed: no address for a.example"),
        (DownloadConnectionRefusedError("127.0.0.1:9"), "connection refused by a.example"),
        (DownloadTimeoutError("took longer than 30.0 seconds"), "no answer from a.example"),
        (
            _wrapped(
                DownloadFailedError("handshake"),
                ResponseNeverReceived([Failure(_TLSFailure("wrong version number"))]),
            ),
            "TLS error",
        ),
        (
            DownloadFailedError("[<twisted.python.failure.Failure ConnectionLost>]"),
            "the connection closed before the answer",
        ),
        (IgnoreRequest("Cancelling download: larger than DOWNLOAD_MAXSIZE"), "crawl.max_size"),
        (ValueError("something else"), "ValueError: something else"),
    ],
)
def test_plain_failure(error: BaseException, words: str) -> None:
    assert words in plain_failure(error, "https://a.example/rss.xml")


def test_item_text_is_the_page_unless_the_source_says_otherwise() -> None:
    feed = Source(name="s", kind="feed", url="https://a.example/rss", every_seconds=300)
    assert item_text(feed) == "page"
    channel = Source(name="s", kind="telegram", url="https://t.me/s/a", every_seconds=300)
    assert item_text(channel) == "post"


def test_fetch_never_leaves_the_feed_text() -> None:
    never = Source(
        name="s", kind="feed", url="https://a.example/rss", every_seconds=300, fetch_pages=False
    )
    assert item_text(never) == "feed"
