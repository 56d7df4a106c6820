"""Politeness is per host, shared by every source on it, and a host can ask for more care."""

from __future__ import annotations

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
