"""Politeness is per host, shared by every source on it, and a host can ask for more care."""

from __future__ import annotations

import time
from itertools import pairwise

from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite
from tests.support.stories import story_by_key


def test_sources_on_one_host_share_its_concurrency_limit(kw: Kurilwatch) -> None:
    # Six feeds of one host, each answer slow: polled together, the host never sees more
    # requests at once than `concurrency_per_domain`, however many polls run.
    with NewsSite() as site:
        site.add_story(story_by_key("fisheries-talks"))
        site.hang("/rss.xml", 0.4)
        kw.write_config(
            {
                "listen": "off",
                "crawl": {"concurrency_per_domain": 2},
                "sources": [
                    {"name": f"feed-{i}", "url": f"{site.feed_url}?edition={i}"} for i in range(6)
                ],
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        assert sum(1 for r in site.requests if r.path.startswith("/rss.xml")) == 6
        assert site.max_in_flight == 2


def test_a_source_can_ask_for_a_delay_and_a_lower_concurrency(kw: Kurilwatch) -> None:
    # Every request to the host, robots.txt and both sources' feeds and articles included,
    # keeps the delay one source asked for, and the lower concurrency the other asked for;
    # AutoThrottle, which would shorten the delay on a fast local server, leaves it alone.
    with NewsSite() as careful:
        for key in ("fisheries-talks", "kunashir-bastion", "nemuro-rally"):
            careful.add_story(story_by_key(key))
        careful.hang("/rss.xml", 0.3)
        kw.write_config(
            {
                "listen": "off",
                "sources": [
                    {"name": "careful", "url": careful.feed_url, "delay": "0.6s"},
                    {"name": "careful-2", "url": f"{careful.feed_url}?b", "concurrency": 1},
                ],
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        arrivals = sorted(r.at for r in careful.requests)
        assert len(arrivals) >= 6  # robots.txt, two feeds, three articles
        gaps = [b - a for a, b in pairwise(arrivals)]
        assert min(gaps) >= 0.55, gaps
        assert careful.max_in_flight == 1


def test_a_hanging_source_frees_its_host_when_its_poll_times_out(kw: Kurilwatch) -> None:
    # One request at a time to the host, one poll at a time: the hanging feed's poll times
    # out at 2 s, and its download must end with it, or the other feed of the host would
    # wait behind it for the 20 s download timeout and time out too.
    with NewsSite() as site:
        site.add_story(story_by_key("fisheries-talks"))
        site.hang("/rss.xml", 30)
        kw.write_config(
            {
                "listen": "off",
                "crawl": {
                    "timeout": "2s",
                    "download_timeout": "20s",
                    "concurrency_per_domain": 1,
                    "max_polls": 1,
                },
                "sources": [
                    {"name": "hanging", "url": site.feed_url},
                    {"name": "healthy", "url": site.atom_url},
                ],
            }
        )
        started = time.monotonic()
        done = kw.run("run", "--once")
        took = time.monotonic() - started
        assert done.returncode == 0, done.stderr
    health = {s["name"]: s for s in kw.json("sources", "list")}
    assert health["hanging"]["last_error"] == "poll timed out after 2s"
    assert health["healthy"]["last_error"] is None and health["healthy"]["last_ok_at"]
    assert took < 15
