"""Pure politeness and safety decisions: robots.txt verdicts, addresses, backoff, staleness."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from scrapy.core.downloader import Slot
from scrapy.http import Request, Response

from crawler.robots import AllowAll, DisallowAll, RobotsCache, Rules, verdict_for
from crawler.safety import (
    AddressForbidden,
    EntitiesForbidden,
    PrivateAddressMiddleware,
    address_blocked,
    forbid_entity_declarations,
    target_allowed,
)
from crawler.settings import HostThrottle, scrapy_settings
from kurilwatch.config import CrawlConfig
from kurilwatch.model import Source
from scheduler.jobs import poll_delay
from storage.sources import is_stale

UA = "kurilwatch/0.1.0"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, Rules),
        (404, AllowAll),
        (401, AllowAll),
        (403, AllowAll),
        (410, AllowAll),
        (500, DisallowAll),
        (503, DisallowAll),
    ],
)
def test_rfc9309_status_meaning(status: int, kind: type) -> None:
    assert isinstance(verdict_for(status, b"User-agent: *\nDisallow: /private/\n"), kind)


def test_robots_rules_apply_to_our_agent() -> None:
    body = b"User-agent: kurilwatch\nDisallow: /wire/\n\nUser-agent: *\nDisallow: /\n"
    rules = verdict_for(200, body)
    assert rules.allowed("http://a.test/news/x", UA)
    assert not rules.allowed("http://a.test/wire/x", UA)
    assert not rules.allowed("http://a.test/news/x", "otherbot")
    assert not verdict_for(503, b"").allowed("http://a.test/", UA)


def test_robots_cache_expires_errors_sooner() -> None:
    now = [0.0]
    cache = RobotsCache(clock=lambda: now[0])
    cache.put("http://ok.test", AllowAll())
    cache.put("http://down.test", DisallowAll("robots.txt answered 503"))
    now[0] = 301.0
    assert cache.get("http://ok.test") is not None
    assert cache.get("http://down.test") is None
    now[0] = 3601.0
    assert cache.get("http://ok.test") is None


def test_robots_cache_holds_a_bounded_number_of_hosts() -> None:
    now = [0.0]
    cache = RobotsCache(clock=lambda: now[0], max_hosts=3)
    for host in ("a", "b", "c"):
        cache.put(f"http://{host}.test", AllowAll())
    assert cache.get("http://a.test") is not None  # a is now the most recently used
    cache.put("http://d.test", AllowAll())
    assert len(cache) == 3
    assert cache.get("http://b.test") is None  # the least recently used went
    assert all(cache.get(f"http://{h}.test") is not None for h in ("a", "c", "d"))
    for host in range(1000):  # an aggregator naming many hosts never grows it past the bound
        cache.put(f"http://host{host}.test", DisallowAll("robots.txt answered 503"))
    assert len(cache) == 3
    now[0] = 301.0  # expired verdicts go before live ones are pushed out
    cache.put("http://e.test", AllowAll())
    assert len(cache) == 1 and cache.get("http://e.test") is not None


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.3.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("::ffff:127.0.0.1", True),
        ("fd00::1", True),
        ("224.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
        ("8.8.8.8", False),
    ],
)
def test_address_blocked(address: str, blocked: bool) -> None:
    assert address_blocked(ipaddress.ip_address(address)) is blocked


def test_target_allowed() -> None:
    public = [ipaddress.ip_address("93.184.216.34")]
    metadata = [ipaddress.ip_address("169.254.169.254")]
    assert target_allowed("https", public, source_private=False)
    assert not target_allowed("http", metadata, source_private=False)
    assert target_allowed("http", metadata, source_private=True)
    assert not target_allowed("file", public, source_private=True)
    assert not target_allowed("ftp", public, source_private=False)


def _middleware() -> PrivateAddressMiddleware:
    return PrivateAddressMiddleware(SimpleNamespace())


def _request(target: str, source_url: str | None) -> Request:
    """A request for `target` made while polling the source at `source_url` (None: no source)."""
    if source_url is None:
        return Request(target)
    source = Source(name="s", kind="feed", url=source_url, every_seconds=60)
    return Request(target, meta={"kurilwatch_source": source})


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/admin",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://127.0.0.2/",
    ],
)
def test_public_source_cannot_lead_into_private_space(target: str) -> None:
    middleware = _middleware()
    for source_url in ("http://93.184.216.34/rss.xml", None):  # no source: the public rule
        with pytest.raises(AddressForbidden):
            asyncio.run(middleware.process_request(_request(target, source_url)))


def test_public_targets_and_private_sources_pass() -> None:
    middleware = _middleware()
    asyncio.run(
        middleware.process_request(_request("http://8.8.8.8/a", "http://93.184.216.34/rss.xml"))
    )
    asyncio.run(
        middleware.process_request(_request("http://127.0.0.1:9/a", "http://127.0.0.1:8000/x"))
    )


def test_one_crawl_keeps_each_source_to_its_own_rule() -> None:
    # One middleware serves every source of the shared crawl: a private source's verdict must
    # not open private space to a public source polled after it.
    middleware = _middleware()
    asyncio.run(
        middleware.process_request(_request("http://127.0.0.1:9/a", "http://127.0.0.1:8000/x"))
    )
    with pytest.raises(AddressForbidden):
        asyncio.run(
            middleware.process_request(
                _request("http://127.0.0.1:9/a", "http://93.184.216.34/rss.xml")
            )
        )


def test_entity_declarations_are_refused() -> None:
    with pytest.raises(EntitiesForbidden):
        forbid_entity_declarations(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
        )
    forbid_entity_declarations(b'<?xml version="1.0"?><!DOCTYPE html><rss version="2.0"/>')


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 300), (1, 600), (2, 1200), (3, 2400), (6, 19200), (7, 21600), (50, 21600)],
)
def test_failing_source_backs_off_up_to_a_cap(failures: int, delay: float) -> None:
    assert poll_delay(300, failures, cap=6 * 3600) == delay


def test_backoff_never_polls_faster_than_the_interval() -> None:
    assert poll_delay(86400, 3, cap=3600) == 86400


def test_staleness() -> None:
    now = datetime(2026, 4, 3, tzinfo=UTC)
    day = timedelta(days=1)
    assert not is_stale(None, last_new_at=None, since=now - 10 * day, now=now)
    assert is_stale(86400, last_new_at=now - 2 * day, since=now - 10 * day, now=now)
    assert not is_stale(86400, last_new_at=now - timedelta(hours=3), since=now - 10 * day, now=now)
    assert is_stale(86400, last_new_at=None, since=now - 2 * day, now=now)
    assert not is_stale(86400, last_new_at=None, since=now - timedelta(hours=1), now=now)


def _throttle() -> tuple[HostThrottle, Slot]:
    from scrapy.utils.test import get_crawler

    throttle = HostThrottle(get_crawler(settings_dict=scrapy_settings(CrawlConfig())))
    throttle.mindelay, throttle.maxdelay = 0.0, 30.0
    return throttle, Slot(concurrency=2, delay=2.0, jitter=0.0)


def test_unchanged_feeds_let_a_host_speed_up_again() -> None:
    # A host that was slow once (delay 2 s) and now answers 304 in 10 ms: the delay comes
    # down, as it would for 200s, instead of staying at its worst for the daemon's life.
    throttle, slot = _throttle()
    for _ in range(12):
        throttle._adjust_delay(slot, 0.01, Response("http://a.test/rss", status=304))
    assert slot.delay < 0.01
    # an error page does not speed a host up (Scrapy's rule, kept)
    throttle, slot = _throttle()
    throttle._adjust_delay(slot, 0.01, Response("http://a.test/rss", status=503))
    assert slot.delay == 2.0


def test_the_crawl_runs_only_the_throttle_extension() -> None:
    # Scrapy's default extensions include a code-running HTTP server (remote control, 2.19)
    # and a telnet console; none may run in the daemon, and the unused ones cost start-up
    # imports and per-request signal calls. What the crawl builds is what Scrapy would run.
    from scrapy.extension import ExtensionManager
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict=scrapy_settings(CrawlConfig()))
    running = [type(ext) for ext in ExtensionManager.from_crawler(crawler).middlewares]
    assert running == [HostThrottle]
