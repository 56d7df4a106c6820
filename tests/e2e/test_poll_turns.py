"""A poll's time is its own, a poll that never got its turn says so, and many sources'
first polls are spread over their interval, in an order fixed by their names."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

from scheduler.daemon import first_poll
from tests.e2e.conftest import Kurilwatch, until
from tests.support.newssite import NewsSite


def _polite(delay: str, timeout: str) -> dict[str, object]:
    """Two feeds of one host asking for `delay` between requests, each poll `timeout`."""
    return {
        "listen": "off",
        # robots.txt would take the host's first turn; both polls enter the crawl at once
        "crawl": {"timeout": timeout, "obey_robots": False, "max_polls": 2},
        "sources": [
            {"name": "first", "url": "{feed}?edition=a", "delay": delay},
            {"name": "second", "url": "{feed}?edition=b"},
        ],
    }


def _config(site: NewsSite, data: dict[str, object]) -> dict[str, object]:
    sources = [
        {**s, "url": str(s["url"]).format(feed=site.feed_url)}
        for s in data["sources"]  # type: ignore[attr-defined]
    ]
    return {**data, "sources": sources}


def test_a_poll_waiting_for_its_turn_counts_its_time_from_its_request(kw: Kurilwatch) -> None:
    # The host asks for 3 s between requests, and a poll may take 2 s. Whichever feed is
    # asked second waits 3 s for its turn: its 2 s count from its own request, so both
    # polls succeed (counted from entering the crawl, the second one timed out unasked).
    with NewsSite() as site:
        kw.write_config(_config(site, _polite("3s", "2s")))
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        feeds = [r for r in site.requests if r.path.startswith("/rss.xml")]
    assert len(feeds) == 2
    assert feeds[1].at - feeds[0].at >= 2.9  # the second really waited its turn
    health = {s["name"]: s for s in kw.json("sources", "list")}
    for name in ("first", "second"):
        assert health[name]["last_error"] is None, health[name]
        assert health[name]["last_ok_at"]


def test_a_poll_that_never_got_its_turn_says_it_was_never_requested(kw: Kurilwatch) -> None:
    # 30 s between requests to the host, 2 s a poll: the feed asked second waits three of
    # its timeouts (6 s) for its turn and is given up unsent, in words that say so.
    with NewsSite() as site:
        kw.write_config(_config(site, _polite("30s", "2s")))
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        feeds = [r.path for r in site.requests if r.path.startswith("/rss.xml")]
    assert len(feeds) == 1
    health = {s["name"]: s for s in kw.json("sources", "list")}
    unasked = "second" if feeds[0].endswith("edition=a") else "first"
    asked = "first" if unasked == "second" else "second"
    assert health[asked]["last_error"] is None and health[asked]["last_ok_at"]
    assert health[unasked]["last_error"] == "poll queued 6s behind other requests, never requested"


def test_first_polls_are_spread_over_the_interval_in_an_order_fixed_by_name(
    kw: Kurilwatch,
) -> None:
    # 200 sources polled hourly: their first polls are spread over 10 s (200 at 20 a
    # second), each at the point its name gives; the site sees them in that order, up to
    # the neighbours a busy machine swaps.
    names = [f"section-{i:03d}" for i in range(200)]
    with NewsSite() as site:
        kw.write_config(
            {
                "listen": "off",
                "sources": [
                    {"name": n, "url": f"{site.feed_url}?s={n}", "every": "1h"} for n in names
                ],
            }
        )
        proc = kw.popen("run")
        try:
            until(lambda: len({r.path for r in site.requests if "?s=" in r.path}) == 200)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        arrived: list[str] = []
        for r in site.requests:
            name = r.path.partition("?s=")[2]
            if name and name not in arrived:
                arrived.append(name)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    planned = sorted(names, key=lambda n: first_poll(n, 3600, len(names), now))
    assert planned != names  # the names' order is not the plan's
    rank = {n: i for i, n in enumerate(planned)}
    n = len(names)
    d2 = sum((rank[name] - i) ** 2 for i, name in enumerate(arrived))
    spearman = 1 - 6 * d2 / (n * (n * n - 1))
    assert spearman > 0.8, (spearman, arrived[:20], planned[:20])


def test_first_poll_is_at_start_for_a_few_sources_and_within_the_interval_for_many() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    few = [(first_poll(f"s{i}", 60, 4, now) - now).total_seconds() for i in range(4)]
    assert all(0 <= s < 4 / 20 for s in few)
    many = [(first_poll(f"s{i}", 60, 10_000, now) - now).total_seconds() for i in range(10_000)]
    assert all(0 <= s < 60 for s in many)
    # spread evenly: each sixth of the minute holds about a sixth of the sources
    counts = [sum(1 for s in many if k * 10 <= s < (k + 1) * 10) for k in range(6)]
    assert all(1500 <= c <= 1850 for c in counts), counts
    # the same name, the same point, at every start
    assert first_poll("s7", 60, 10_000, now) == first_poll("s7", 60, 10_000, now)


def test_polls_waiting_for_a_place_when_the_daemon_stops_are_not_failures(
    kw: Kurilwatch,
) -> None:
    # One poll at a time, each feed answering after 2 s: SIGTERM while the first is in
    # flight (and the other first polls, due within 0.4 s of start, wait for its place).
    # It finishes; those waiting are not started, and no source is marked as failed for
    # the stop.
    with NewsSite() as site:
        site.hang("/rss.xml", 2)
        kw.write_config(
            {
                "listen": "off",
                "crawl": {"max_polls": 1, "obey_robots": False},
                "sources": [
                    {"name": f"feed-{i}", "url": f"{site.feed_url}?i={i}", "every": "1h"}
                    for i in range(8)
                ],
            }
        )
        proc = kw.popen("run")
        try:
            until(lambda: any(r.path.startswith("/rss.xml") for r in site.requests))
            first = next(r for r in site.requests if r.path.startswith("/rss.xml"))
            until(lambda: time.monotonic() - first.at > 0.5)  # the rest are due by now
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        asked = sum(1 for r in site.requests if r.path.startswith("/rss.xml"))
    assert asked == 1
    assert stderr.count('"reason": "stopping"') >= 1, stderr[-2000:]
    health = kw.json("sources", "list")
    assert [s["last_error"] for s in health] == [None] * 8
    assert sum(1 for s in health if s["last_ok_at"]) == 1
