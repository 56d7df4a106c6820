"""What one check of a source found, and the verdict on it: `kurilwatch sources check`.

Pure: no network, no database. The shell (`scheduler.commands_check`) reads a source's index
once through the crawl every poll uses and fills a `SourceCheck`; `judge_check` turns it into
a `CheckVerdict`, deciding in this order:

1. `blocked by robots`: robots.txt (RFC 9309) forbids the index URL to our user agent.
2. `gone`: the host name does not resolve, or the index answered 404 or 410.
3. `forbidden`: the index answered 401, 403 or 451.
4. `error`: the index could not be read for any other reason (connection refused, timeout,
   TLS error, robots.txt unreachable or answering 5xx, another status, a document that is
   not of the source's kind), with the reason.
5. `JavaScript only`: an HTML page with no items (a page built by script, or a listing whose
   links find nothing).
6. `empty`: the index lists nothing.
7. `stale`: the newest dated item is older than the source's `expect_every`, else 7 days.
8. `feed text only`: the sample page (the newest item's) will not give the article, as
   `crawler.pages` decides (401/403, a consent wall, a JavaScript shell, a PDF …): alerts
   will rest on the index's own title and summary.
9. `error`: the sample page failed transiently (timeout, 5xx): nothing is known of it yet.
10. `ok`.

Where an item's text comes from (`item_text`) changes 8-10: the index's own text
(`fetch: never`) is `feed text only` without a sample; a post's own text (a Telegram
channel) is `ok`. A new kind or option adds its facts to `SourceCheck` and its rule here, in
its place in the order above.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crawler.failures import network_failure
from kurilwatch.model import Source

ItemText = Literal["page", "feed", "post"]

STALE_AFTER = 7 * 86400.0
"""Seconds without a new item after which a source with no `expect_every` is stale."""

DNS_FAILED = "DNS lookup failed"
"""How `crawler.failures.network_failure` begins a host that does not resolve."""
SCRIPT_PAGE_KINDS = frozenset({"feed", "sitemap", "listing"})
"""Kinds for which an HTML answer listing nothing is a page built by script (a Telegram
preview is HTML by nature: one that lists nothing says why itself)."""
GONE_STATUSES = frozenset({404, 410})
FORBIDDEN_STATUSES = frozenset({401, 403, 451})

OK = "ok"
FEED_TEXT_ONLY = "feed text only"
BLOCKED_BY_ROBOTS = "blocked by robots"
FORBIDDEN = "forbidden"
GONE = "gone"
JAVASCRIPT_ONLY = "JavaScript only"
STALE = "stale"
EMPTY = "empty"
ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """What reading one item's page gave: its text's length, or why it gave no article."""

    url: str
    chars: int = 0
    """Characters of article text extracted (0 when the page gave none)."""
    problem: str | None = None
    """Why the page will not give the article (`crawler.pages.Unusable`), or a transient
    failure's reason when `transient`."""
    transient: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCheck:
    """What one read of a source's index (and of one sample page) found."""

    name: str
    kind: str
    url: str
    stale_after: float = STALE_AFTER
    status: int | None = None
    """The index's HTTP status, when it answered."""
    failure: str | None = None
    """Why the index was not read, in plain words ("DNS lookup failed", "timeout" …)."""
    robots: str = "unknown"
    """robots.txt's word on the index URL: allowed, disallowed, no robots.txt, unreachable …"""
    robots_allows: bool | None = None
    """False when robots.txt's own rules forbid the index URL (not when it is unreachable)."""
    html: bool = False
    """The index answered an HTML page."""
    unreadable: str | None = None
    """Why the index document could not be parsed, if it could not."""
    items: int = 0
    newest: datetime | None = None
    """The newest date among the items (None when none is dated)."""
    sample: Sample | None = None
    item_text: ItemText = "page"
    """Where an item's text comes from: its page (a sample is read), the index's own title
    and summary (no page is read), or the item itself (a post: no page to read)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckVerdict:
    """One of the verdict names above, and the reason in words."""

    name: str
    reason: str


def stale_after(source: Source) -> float:
    """Seconds without a new item after which `source` counts as stale."""
    return source.expect_every_seconds or STALE_AFTER


def item_text(source: Source) -> ItemText:
    """Where the crawl takes `source`'s items' text from: a Telegram post is its own text,
    `fetch: never` leaves the index's title and summary, and otherwise each item's page.

    `kind: telegram` and `fetch: never` come from their own branches of issue 15; until both
    are merged, what this source model lacks reads as the default.
    """
    if source.kind == "telegram":
        return "post"
    if not source.fetch_pages:
        return "feed"
    return "page"


def answer(check: SourceCheck) -> str:
    """What the index answered: `HTTP 200`, the failure in plain words, or `not asked`."""
    if check.status is not None:
        return f"HTTP {check.status}"
    if check.failure is None and check.robots_allows is False:
        return "not asked"
    return check.failure or "no answer"


def plain_failure(error: BaseException, url: str) -> str:
    """A failed download of `url` in plain words: `crawler.failures.network_failure`'s (DNS
    lookup failed, connection refused, no answer in time, connection closed), else TLS error,
    no route to host, larger than crawl.max_size, or the error as it reads."""
    from scrapy.exceptions import DownloadCancelledError, DownloadFailedError, IgnoreRequest
    from twisted.internet import error as tx

    chain = list(_causes(error))
    for cause in chain:
        words = network_failure(cause, url)
        if words is not None:
            return words
    if any(type(e).__module__.startswith(("OpenSSL", "ssl")) for e in chain):
        return "TLS error"
    if any(isinstance(e, tx.NoRouteError) for e in chain):
        return "no route to host"
    if any(isinstance(e, DownloadCancelledError) for e in chain) or (
        isinstance(error, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(error)
    ):
        return "larger than crawl.max_size"
    if any(isinstance(e, DownloadFailedError) for e in chain):
        return "the connection closed before the answer"
    return f"{type(error).__name__}: {error}"[:300]


def judge_check(check: SourceCheck, *, now: datetime) -> CheckVerdict:
    """The verdict on `check` at `now` (the order is the module docstring's)."""
    if check.robots_allows is False:
        return CheckVerdict(
            name=BLOCKED_BY_ROBOTS, reason=f"robots.txt forbids {check.url} to our user agent"
        )
    status = check.status
    if check.failure is not None and check.failure.startswith(DNS_FAILED):
        return CheckVerdict(name=GONE, reason=check.failure)  # names the host
    if status in GONE_STATUSES:
        return CheckVerdict(name=GONE, reason=f"the index answered HTTP {status}")
    if status in FORBIDDEN_STATUSES:
        return CheckVerdict(name=FORBIDDEN, reason=f"the index answered HTTP {status}")
    if check.failure is not None:
        return CheckVerdict(name=ERROR, reason=check.failure)
    if status is None or not 200 <= status < 300:
        return CheckVerdict(name=ERROR, reason=f"the index answered {answer(check)}")
    if check.items == 0:
        if check.html and check.kind in SCRIPT_PAGE_KINDS:
            return CheckVerdict(
                name=JAVASCRIPT_ONLY,
                reason="an HTML page with no items: built by JavaScript, or its links "
                "are not article links",
            )
        if check.unreadable is not None:
            return CheckVerdict(name=ERROR, reason=check.unreadable)
        return CheckVerdict(name=EMPTY, reason="the index lists no item")
    if check.newest is not None:
        age = (now - check.newest).total_seconds()
        if age > check.stale_after:
            return CheckVerdict(
                name=STALE,
                reason=f"the newest item is {_span(age)} old "
                f"(expected one every {_span(check.stale_after)})",
            )
    if check.item_text == "post":
        return CheckVerdict(name=OK, reason=f"{check.items} items, each with its own text")
    if check.item_text == "feed":
        return CheckVerdict(
            name=FEED_TEXT_ONLY,
            reason="pages are never read for this source: alerts rest on the index's title "
            "and summary",
        )
    sample = check.sample
    if sample is None:
        return CheckVerdict(name=ERROR, reason="the sample page was not read in time")
    if sample.problem is not None and not sample.transient:
        return CheckVerdict(
            name=FEED_TEXT_ONLY,
            reason=f"the sample page will not give the article: {sample.problem}; "
            "alerts rest on the index's title and summary",
        )
    if sample.problem is not None:
        return CheckVerdict(name=ERROR, reason=f"the sample page failed: {sample.problem}")
    return CheckVerdict(
        name=OK, reason=f"{check.items} items; the sample page gave {sample.chars} characters"
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, what caused it, and the reasons Twisted's web client wraps (TLS errors)."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        for reason in getattr(current, "reasons", None) or ():  # twisted ResponseFailed
            value = getattr(reason, "value", reason)
            if isinstance(value, BaseException):
                todo.append(value)


def _span(seconds: float) -> str:
    """A duration in the largest whole unit that fits: 40s, 12m, 5h, 9d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"
