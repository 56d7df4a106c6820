"""What the web sends back: bombs, truncated bodies, robots.txt outages, off-limits paths."""

from __future__ import annotations

import gzip
import sys
import zlib

import brotli
import pytest

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

BOMB_SIZE = 12 * 1024 * 1024
"""What a bomb inflates to: twelve times the tests' `crawl.max_size`, from a few kilobytes."""


def _bomb(encoding: str) -> bytes:
    """`BOMB_SIZE` bytes of page text, compressed with `encoding` as a server would send it."""
    text = (b"<p>Troops drilled on the islands again. " * (BOMB_SIZE // 40 + 1))[:BOMB_SIZE]
    if encoding == "gzip":
        return gzip.compress(text)
    if encoding == "deflate":
        return zlib.compress(text, 9)
    if encoding == "br":
        return bytes(brotli.compress(text, quality=5))
    assert encoding == "zstd"
    return bytes(zstd.compress(text))


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip", "zstd"])
def test_compression_bombs_stop_at_the_size_cap_and_the_crawl_goes_on(
    kw: Kurilwatch, encoding: str
) -> None:
    bomb = _bomb(encoding)
    assert len(bomb) < 100_000  # a thousandfold and more
    with NewsSite() as good, NewsSite() as bombed, WebhookReceiver() as rx:
        good.add_story(story_by_key("nemuro-rally"))
        bombed.add_story(story_by_key("etorofu-drill-protest"))
        bombed.add_story(story_by_key("kunashir-bastion"))
        headers = {"Content-Encoding": encoding}
        bombed.serve_raw("/news/kunashir-bastion", bomb, "text/html", headers=headers)
        bombed.serve_raw("/bomb.xml", bomb, "application/rss+xml", headers=headers)
        kw.write_config(
            {
                "sources": [
                    {"name": "good", "url": good.feed_url},
                    {"name": "bombed", "url": bombed.feed_url},
                    {"name": "bombed-index", "url": bombed.url + "/bomb.xml"},
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "crawl": {"max_size": 1_000_000},
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        stories = {r.json()["story"]["title"]: r.json()["story"] for r in rx.received}
        assert set(stories) == {
            story_by_key("nemuro-rally").title,
            story_by_key("etorofu-drill-protest").title,
            story_by_key("kunashir-bastion").title,  # the bomb's entry: its feed text
        }
        cut = stories[story_by_key("kunashir-bastion").title]
        assert cut["text_source"] == "feed", cut
        assert cut["text_reason"] == "the page is larger than crawl.max_size"
        assert stories[story_by_key("nemuro-rally").title]["text_source"] == "page"
        bombed.add_story(story_by_key("kuril-earthquake"))  # the feed changes
        assert kw.run("run", "--once").returncode == 0
        assert bombed.hits("/news/kuril-earthquake") == 1
        assert bombed.hits("/news/kunashir-bastion") == 1  # the bomb is not fetched again
    health = {s["name"]: s for s in kw.json("sources", "list")}
    assert health["good"]["last_error"] is None and health["bombed"]["last_error"] is None
    assert health["bombed-index"]["last_error"]  # the bomb as an index: one recorded error


def _broken_gzip(kind: str) -> bytes:
    """A gzip-encoded web page (no feed) cut short: before its trailer (length and checksum),
    or in the middle of its compressed data."""
    page = "".join(f"<p>Paragraph {i}: patrol boats off the islands.</p>" for i in range(600))
    whole = gzip.compress(f"<html><body>{page}</body></html>".encode())
    if kind == "no-trailer":
        return whole[:-8]
    assert kind == "unexpected-eof"
    return whole[: len(whole) // 2]


@pytest.mark.parametrize("kind", ["no-trailer", "unexpected-eof"])
def test_truncated_gzip_index_is_an_error_not_a_crash(kw: Kurilwatch, kind: str) -> None:
    broken = _broken_gzip(kind)
    with NewsSite() as site:
        site.serve_raw(
            "/rss.xml", broken, "application/rss+xml", headers={"Content-Encoding": "gzip"}
        )
        kw.write_config({"sources": [{"name": "broken", "url": site.feed_url}]})
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
    [health] = kw.json("sources", "list")
    assert health["last_error"]


def test_robots_outage_disallows_the_host_and_4xx_allows_it(kw: Kurilwatch) -> None:
    with NewsSite() as down, NewsSite() as missing, WebhookReceiver() as rx:
        down.add_story(story_by_key("nemuro-rally"))
        down.fail("/robots.txt", 503)
        missing.add_story(story_by_key("kunashir-bastion"))
        missing.fail("/robots.txt", 404)
        kw.write_config(
            {
                "sources": [
                    {"name": "down", "url": down.feed_url},
                    {"name": "missing", "url": missing.feed_url},
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        assert down.hits("/rss.xml") == 0 and down.hits("/news/nemuro-rally") == 0
        assert [r.json()["story"]["title"] for r in rx.received] == [
            story_by_key("kunashir-bastion").title
        ]
        health = {s["name"]: s for s in kw.json("sources", "list")}
        assert "robots.txt answered 503" in health["down"]["last_error"]
        down.clear("/robots.txt")  # the host answers again: it is polled normally
        kw.run("run", "--once")
    health = {s["name"]: s for s in kw.json("sources", "list")}
    assert health["down"]["last_error"] is None
    assert len(rx.received) == 2
