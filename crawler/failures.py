"""Expected network failures in our own words: what a log line and `sources list` say.

A host that does not resolve, refuses the connection, does not answer in time or closes the
connection mid-answer is the everyday weather of polling the web, not a fault of ours; Scrapy
names these by exception class (`CannotResolveHostError`, …). `network_failure` says them in
words a person reads, naming the host and port (never user info from the URL). Pure.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def network_failure(error: BaseException | None, url: str | None) -> str | None:
    """What went wrong, if `error` is an expected network failure fetching `url`; else None."""
    # Scrapy is imported here, not with the module: commands that never crawl import this
    # module through `sources check` and would pay for Scrapy at every start.
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
        ResponseDataLossError,
    )
    from twisted.internet.error import ConnectionDone, ConnectionLost

    host = _host_port(url) if url else "the server"
    if isinstance(error, CannotResolveHostError):
        return f"DNS lookup failed: no address for {host}"
    if isinstance(error, DownloadConnectionRefusedError):
        return f"connection refused by {host}"
    if isinstance(error, DownloadTimeoutError):
        return f"no answer from {host} in time"
    if isinstance(error, ResponseDataLossError | ConnectionLost | ConnectionDone):
        return f"{host} closed the connection before the answer was complete"
    return None


def _host_port(url: str) -> str:
    """`host` or `host:port` of `url`."""
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            return "the server"
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:  # a broken port or IPv6 host
        return "the server"
