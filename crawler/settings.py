"""Scrapy settings built from our typed configuration (one place, no settings module)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy.extensions.throttle import AutoThrottle

from kurilwatch import __version__
from kurilwatch.config import CrawlConfig, SourceConfig

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DEFAULT_USER_AGENT = f"kurilwatch/{__version__} (+https://github.com/kurilwatch/kurilwatch)"
MAX_REDIRECTS = 5
"""Redirects one request follows (`rules test --url` too)."""


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """A host's own politeness, from its sources' `delay:` / `concurrency:`."""

    delay: float | None = None
    concurrency: int | None = None


def host_policies(sources: Iterable[SourceConfig]) -> dict[str, HostPolicy]:
    """The hosts whose sources ask for care; several sources on one host: the most careful."""
    policies: dict[str, HostPolicy] = {}
    for source in sources:
        host = urlsplit(source.url).hostname
        if not host or (source.delay is None and source.concurrency is None):
            continue
        old = policies.get(host, HostPolicy())
        delays = [d for d in (old.delay, source.delay) if d is not None]
        limits = [c for c in (old.concurrency, source.concurrency) if c is not None]
        policies[host] = HostPolicy(
            delay=max(delays) if delays else None, concurrency=min(limits) if limits else None
        )
    return policies


def scrapy_settings(
    crawl: CrawlConfig, hosts: Mapping[str, HostPolicy] | None = None
) -> dict[str, Any]:
    """Polite, bounded defaults: robots.txt, AutoThrottle, per-domain concurrency, size cap.

    Hosts in `hosts` get their own download slot settings (Scrapy's `DOWNLOAD_SLOTS`), and
    AutoThrottle leaves the delay of a host with a `delay:` alone (`HostThrottle`).
    """
    slots = {
        host: {
            **({"delay": p.delay, "jitter": 0.0} if p.delay is not None else {}),
            **({"concurrency": p.concurrency} if p.concurrency is not None else {}),
        }
        for host, p in (hosts or {}).items()
    }
    return {
        "BOT_NAME": "kurilwatch",
        "USER_AGENT": crawl.user_agent or DEFAULT_USER_AGENT,
        "TWISTED_REACTOR": REACTOR,
        "ROBOTSTXT_OBEY": False,  # Scrapy's fails open; ours follows RFC 9309
        "KURILWATCH_OBEY_ROBOTS": crawl.obey_robots,
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.safety.PrivateAddressMiddleware": 90,
            "crawler.robots.RobotsMiddleware": 100,
            "crawler.spiders.PollDeadlineMiddleware": 110,
            # Scrapy components that do nothing here but cost every request a call: no
            # allowed_domains (the address policy decides), no HTTP auth, no stats read.
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
        },
        # a poll's timeout counts from when its request is sent (crawler.spiders.SentClock)
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.spiders.SentClock",
            "https": "crawler.spiders.SentClock",
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,  # depth stats only
        },
        # Scrapy counts a request waiting for its host's slot as in the downloader, and
        # takes no more from its scheduler once CONCURRENT_REQUESTS are: one host with a
        # queue (a feed of 46 new pages, concurrency 2) held every other host back. Polls
        # at once are capped by `crawl.max_polls`, each host by `concurrency_per_domain`;
        # this only has to stay out of their way. Scrapy's scheduler hands out requests of
        # the least busy hosts first (DownloaderAwarePriorityQueue, its default), and
        # within a host first come, first served: the default last-in, first-out order let
        # later polls overtake one waiting its turn until it timed out.
        "CONCURRENT_REQUESTS": 1024,
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": True,
        # The crawl runs one extension, our throttle. Scrapy's defaults are replaced rather
        # than each set to None, because Scrapy imports every class named in EXTENSIONS
        # even to disable it: the remote-control one alone imports aiohttp (0.14 s of every
        # start). None is used: no feed export, job dir, telnet, memory limit, close
        # condition or stats reader, and stats and log counting cost every request a call.
        "EXTENSIONS_BASE": {},
        "EXTENSIONS": {"crawler.settings.HostThrottle": 0},
        # No guessed pause before a host has answered: from its first answer on, AutoThrottle
        # spaces requests by the host's own latency (a slow host gets more time between
        # requests, a fast one is not held back), within `concurrency_per_domain` at once.
        "AUTOTHROTTLE_START_DELAY": 0.0,
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_size,
        "DOWNLOAD_WARNSIZE": min(crawl.max_size, 4 * 1024 * 1024),
        "RETRY_TIMES": 1,
        # A failed poll is logged by us, in our words, at warning (`source.polled`); Scrapy's
        # own "Gave up retrying … DNS lookup failed" at error would repeat it as noise.
        "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",
        "REDIRECT_MAX_TIMES": MAX_REDIRECTS,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy 2.19 enables by default an HTTP server that runs Python code sent to it
        # (token in a file under the user's profile): never in a daemon watching the web.
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "DOWNLOAD_SLOTS": slots,
        # One crawl lives as long as the daemon: no duplicate filter growing with every URL
        # ever requested (storage decides what is new), no periodic stats lines.
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "LOGSTATS_INTERVAL": 0,
        # Scrapy starts this many tasks for every response's output; ours yields a handful of
        # requests at most, and 100 tasks a 304 cost more than the poll.
        "CONCURRENT_ITEMS": 4,
    }


class HostThrottle(AutoThrottle):
    """AutoThrottle, except for hosts whose sources set a `delay:` (theirs stays fixed), and
    with 304 Not Modified counted as the answer it is.

    Scrapy lowers a slot's delay only on a 200, so that fast error pages do not speed it up.
    Feeds that did not change answer 304, and in a crawl that lives as long as the daemon a
    host's delay then only ever grew, to half the slowest answer it ever gave: measured in a
    500-cycle run, 200 sources of one host fell from 19 to 6 polls a second.
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        slots = crawler.settings.getdict("DOWNLOAD_SLOTS")
        self.fixed = frozenset(k for k, v in slots.items() if "delay" in v)

    def _adjust_delay(self, slot: Any, latency: float, response: Any) -> None:
        if response.status != 304:
            super()._adjust_delay(slot, latency, response)
            return
        target = latency / self.target_concurrency
        delay = max(target, (slot.delay + target) / 2.0)
        slot.delay = min(max(self.mindelay, delay), self.maxdelay)

    def _get_slot(self, request: Any, spider: Any) -> tuple[str | None, Any]:
        key, slot = super()._get_slot(request, spider)
        if key in self.fixed:
            return None, None  # AutoThrottle adjusts nothing it cannot find
        return key, slot
