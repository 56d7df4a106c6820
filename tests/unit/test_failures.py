"""`crawler.failures.network_failure`: expected network failures in our own words."""

from __future__ import annotations

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from twisted.internet.error import ConnectionLost

from crawler.failures import network_failure


@pytest.mark.parametrize(
    ("error", "url", "words"),
    [
        (
            CannotResolveHostError("DNS lookup failed: no results"),
            "https://no-such-host.invalid/rss.xml",
            "DNS lookup failed: no address for no-such-host.invalid",
        ),
        (
            DownloadConnectionRefusedError("Connection was refused by other side: 111"),
            "http://user:secret@127.0.0.1:8081/feed",
            "connection refused by 127.0.0.1:8081",  # never the user info
        ),
        (
            DownloadTimeoutError("took longer than 30.0 seconds"),
            "https://news.example.test/sitemap.xml",
            "no answer from news.example.test in time",
        ),
        (
            ResponseDataLossError("data loss"),
            "http://[::1]:8080/feed",
            "::1:8080 closed the connection before the answer was complete",
        ),
        (ConnectionLost(), None, "the server closed the connection before the answer was complete"),
        (
            DownloadTimeoutError("late"),
            "http://127.0.0.1:99999/x",
            "no answer from the server in time",
        ),
        (ValueError("something else"), "https://news.example.test/", None),
        (None, "https://news.example.test/", None),
    ],
)
def test_network_failure(error: BaseException | None, url: str | None, words: str | None) -> None:
    assert network_failure(error, url) == words
