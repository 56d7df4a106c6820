"""robots.txt per RFC 9309, with a cache shared by every crawl of the process.

Scrapy's own middleware fails open: an unreachable robots.txt, or a 5xx page parsed as if it
were one, allows everything. RFC 9309 §2.3.1 says otherwise, and this middleware follows it:
- 2xx: the rules in the file (parsed by Protego, as Scrapy does);
- 4xx (and a redirect loop or body too large, which Scrapy reports as an error): allow all;
- 5xx or unreachable: disallow the whole host until it answers.
A verdict is cached per scheme and host for `ROBOTS_TTL` seconds (an hour; RFC 9309 allows up
to a day), an error verdict for `ROBOTS_ERROR_TTL` (five minutes), so a feed polled every few
minutes does not cost a robots.txt fetch each time. The cache (`RobotsCache`) is handed to
the spider by the poller, so it outlives a crawl (a test or a restarted crawl reuses it); it
holds at most `ROBOTS_MAX_HOSTS` hosts (an aggregator's items name thousands), dropping
expired verdicts first, then the least recently used.

A source configured with `robots: ignore` (`Source.obey_robots` false) is not held to
robots.txt for its own requests to its own host: its index, child sitemaps and the pages of
its entries on the host of its URL. Its requests to other hosts, and other sources' requests
to its host, are. The first such request of each source in a crawl is logged
(`robots.ignored`), so a run that uses it says so once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from cachetools import TLRUCache
from protego import Protego
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached

from crawler.failures import network_failure
from kurilwatch.model import Source

log = logging.getLogger(__name__)

ROBOTS_TTL = 3600.0
ROBOTS_ERROR_TTL = 300.0
MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 §2.5: parse at least 500 KiB
ROBOTS_MAX_HOSTS = 4096


class RobotsForbidden(IgnoreRequest):
    """robots.txt forbids the request: for good (`permanent`) or while the host is down."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Verdict(Protocol):
    """Decides whether a URL may be fetched."""

    def allowed(self, url: str, user_agent: str) -> bool:
        """True when `user_agent` may fetch `url`."""
        ...


@dataclass(frozen=True, slots=True)
class AllowAll:
    """No robots.txt (4xx): everything may be fetched."""

    def allowed(self, url: str, user_agent: str) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class DisallowAll:
    """robots.txt unreachable or 5xx: nothing on the host may be fetched."""

    reason: str
    cause: BaseException | None = field(default=None, compare=False)
    """The download error, when robots.txt was unreachable."""

    def allowed(self, url: str, user_agent: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Rules:
    """The parsed rules of a robots.txt that answered 2xx."""

    parser: Any

    def allowed(self, url: str, user_agent: str) -> bool:
        return bool(self.parser.can_fetch(url, user_agent))


def verdict_for(status: int, body: bytes) -> Verdict:
    """RFC 9309 §2.3.1: what a robots.txt answer with `status` and `body` means."""
    if 200 <= status < 300:
        text = body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
        return Rules(Protego.parse(text))
    if 400 <= status < 500:
        return AllowAll()
    return DisallowAll(f"robots.txt answered {status}")


def _expires(_key: str, verdict: Verdict, now: float) -> float:
    return now + (ROBOTS_ERROR_TTL if isinstance(verdict, DisallowAll) else ROBOTS_TTL)


@dataclass(slots=True)
class RobotsCache:
    """Verdicts per `scheme://host`, each until it expires, `max_hosts` at most."""

    clock: Any = time.monotonic
    max_hosts: int = ROBOTS_MAX_HOSTS
    _entries: TLRUCache[str, Verdict] = field(init=False)
    _pending: dict[str, asyncio.Future[Verdict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._entries = TLRUCache(maxsize=self.max_hosts, ttu=_expires, timer=self.clock)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Verdict | None:
        """The cached verdict for `key`, if it has not expired."""
        return self._entries.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        """Remember `verdict` for its time to live (forgetting the stalest host when full)."""
        self._entries[key] = verdict


class RobotsMiddleware:
    """Downloader middleware: drops requests that robots.txt (RFC 9309) forbids."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.user_agent = str(crawler.settings.get("USER_AGENT"))
        self.enabled = crawler.settings.getbool("KURILWATCH_OBEY_ROBOTS", True)
        self._local = RobotsCache()
        self._ignoring: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> RobotsMiddleware:
        """Scrapy's constructor hook."""
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        """Raise `IgnoreRequest` when robots.txt forbids `request`."""
        if not self.enabled or request.meta.get("dont_obey_robotstxt"):
            return
        parts = urlparse_cached(request)
        if parts.scheme not in ("http", "https"):
            return
        if self._ignored_for(request.meta.get("kurilwatch_source"), parts.hostname):
            return
        host = parts.netloc.rpartition("@")[2]  # robots.txt is the host's, asked without user info
        verdict = await self._verdict(f"{parts.scheme}://{host}", request)
        if not verdict.allowed(request.url, self.user_agent):
            self.crawler.stats.inc_value("robotstxt/forbidden")
            if isinstance(verdict, DisallowAll):  # the host is down: say so, not "forbidden"
                raise RobotsForbidden(
                    f"{verdict.reason} (nothing is fetched from the host until it answers)",
                    permanent=False,
                )
            raise RobotsForbidden("forbidden by robots.txt (disallowed)", permanent=True)

    def _ignored_for(self, source: Any, host: str | None) -> bool:
        """Whether `source` says `robots: ignore` and `host` is its own; logs the first."""
        if not isinstance(source, Source) or source.obey_robots or not host:
            return False
        if host != urlsplit(source.url).hostname:
            return False
        if source.name not in self._ignoring:
            self._ignoring.add(source.name)
            log.warning("robots.ignored", extra={"source": source.name, "host": host})
        return True

    async def _verdict(self, origin: str, request: Request) -> Verdict:
        cache = getattr(self.crawler.spider, "robots_cache", None) or self._local
        cached = cache.get(origin)
        if cached is not None:
            return cached
        pending = cache._pending.get(origin)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        cache._pending[origin] = future
        try:
            verdict = await self._fetch(origin, request)
            cache.put(origin, verdict)
            future.set_result(verdict)
            return verdict
        finally:
            cache._pending.pop(origin, None)
            if not future.done():
                future.set_result(DisallowAll("robots.txt fetch was interrupted"))

    async def _fetch(self, origin: str, wanted: Request) -> Verdict:
        meta = {"dont_obey_robotstxt": True}
        if "kurilwatch_source" in wanted.meta:  # the address policy of the source asking
            meta["kurilwatch_source"] = wanted.meta["kurilwatch_source"]
        request = Request(f"{origin}/robots.txt", priority=1000, meta=meta, callback=NO_CALLBACK)
        try:
            response: Response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # unreachable: RFC 9309 says assume complete disallow
            reason = network_failure(exc, request.url) or type(exc).__name__
            log.warning("robots.unreachable", extra={"origin": origin, "error": reason})
            return DisallowAll(f"robots.txt unreachable: {reason}", cause=exc)
        verdict = verdict_for(response.status, response.body)
        if isinstance(verdict, DisallowAll):
            log.warning("robots.server_error", extra={"origin": origin, "status": response.status})
        return verdict
