"""Scrapy settings built from our typed configuration (one place, no settings module)."""

from __future__ import annotations

from typing import Any

from kurilwatch import __version__
from kurilwatch.config import CrawlConfig

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DEFAULT_USER_AGENT = f"kurilwatch/{__version__} (+https://github.com/kurilwatch/kurilwatch)"


def scrapy_settings(crawl: CrawlConfig) -> dict[str, Any]:
    """Polite, bounded defaults: robots.txt, AutoThrottle, per-domain concurrency, size cap."""
    return {
        "BOT_NAME": "kurilwatch",
        "USER_AGENT": crawl.user_agent or DEFAULT_USER_AGENT,
        "TWISTED_REACTOR": REACTOR,
        "ROBOTSTXT_OBEY": False,  # Scrapy's fails open; ours follows RFC 9309
        "KURILWATCH_OBEY_ROBOTS": crawl.obey_robots,
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.safety.PrivateAddressMiddleware": 90,
            "crawler.robots.RobotsMiddleware": 100,
        },
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 0.25,
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_size,
        "DOWNLOAD_WARNSIZE": min(crawl.max_size, 4 * 1024 * 1024),
        "RETRY_TIMES": 1,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "ITEM_PIPELINES": {"crawler.pipeline.ArticlePipeline": 300},
    }
