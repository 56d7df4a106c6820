"""Search aggregators: redirect wrappers unwrapped, aggregator items read, the new source keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.http import Request
from scrapy.settings import Settings as ScrapySettings

from crawler.canonical import MAX_UNWRAPS, canonical_url, unwrap_redirect
from crawler.feeds import parse_feed
from crawler.pages import feed_text_article, repeats_headline
from crawler.robots import DisallowAll, RobotsCache, RobotsForbidden, RobotsMiddleware
from kurilwatch.config import load_config
from kurilwatch.errors import ConfigError
from kurilwatch.model import Entry, Source
from tests.support.aggregator import apiclick_url
from tests.support.newssite import Posting
from tests.support.stories import story_by_key

ARTICLE = "https://www.hokkaido-np.example/news/20261203-kurils"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Bing News search RSS: tid and c change on every response
        (apiclick_url(ARTICLE, tid="5f0c9a", c="12"), ARTICLE),
        (apiclick_url(ARTICLE, tid="e41d77", c="98"), ARTICLE),
        (
            "https://www.bing.com/News/ApiClick.aspx?tid=1&url=https%3a%2f%2fa.example%2fx",
            "https://a.example/x",
        ),
        (
            "http://cn.bing.com/news/apiclick.aspx?url=https%3A%2F%2Fa.example%2Fx%3Fid%3D7"
            "%26utm_source%3Dbing",
            "https://a.example/x?id=7",
        ),
        # Google Alerts RSS and search results; Google News RSS before 2020
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://tass.example/politics/1&ct=ga"
            "&cd=CAIyHA&usg=AOvVaw1",
            "https://tass.example/politics/1",
        ),
        (
            "https://www.google.co.jp/url?q=https%3A%2F%2Fnhk.example%2Fn%2F&sa=U",
            "https://nhk.example/n/",
        ),
        ("https://google.ru/url?sa=t&url=http%3A%2F%2Fria.example%2Fa", "http://ria.example/a"),
        (
            "http://news.google.com/news/url?sa=t&fd=R&usg=AFQ&url=http://kyodo.example/a.html",
            "http://kyodo.example/a.html",
        ),
        # outbound link shims
        (
            "https://l.facebook.com/l.php?u=https%253A%252F%252Fa.example%252Fx&h=AT0",
            "https://a.example/x",
        ),
        (
            "https://vk.com/away.php?to=https%3A%2F%2Fsakh.example%2Fnews%2F1&cc_key=",
            "https://sakh.example/news/1",
        ),
        ("https://duckduckgo.com/l/?uddg=https%3A%2F%2Fa.example%2F&rut=abc", "https://a.example/"),
        ("https://t.me/iv?url=https%3A%2F%2Fa.example%2Fpost&rhash=0c1d", "https://a.example/post"),
        # a wrapper inside a wrapper
        (
            "https://www.google.com/url?q="
            + apiclick_url(ARTICLE, tid="1", c="2").replace("%", "%25").replace("&", "%26"),
            ARTICLE,
        ),
        # no target in it, or not a web URL: kept, canonicalized as any other URL
        (
            "https://www.google.com/url?q=kuril+islands",
            "https://www.google.com/url?q=kuril+islands",
        ),
        (
            "https://www.bing.com/news/apiclick.aspx?ref=FexRss&tid=1",
            "https://www.bing.com/news/apiclick.aspx?ref=FexRss&tid=1",
        ),
        (
            "https://www.bing.com/news/apiclick.aspx?url=javascript%3Aalert(1)",
            "https://www.bing.com/news/apiclick.aspx?url=javascript%3Aalert%281%29",
        ),
        (
            "https://www.bing.com/news/apiclick.aspx?url=%2Fnews",
            "https://www.bing.com/news/apiclick.aspx?url=%2Fnews",
        ),
        # look-alike hosts and paths are not wrappers
        (
            "https://notbing.com/news/apiclick.aspx?url=https://a.example/",
            "https://notbing.com/news/apiclick.aspx?url=https%3A%2F%2Fa.example%2F",
        ),
        (
            "https://bing.com.evil.example/news/apiclick.aspx?url=https://a.example/",
            "https://bing.com.evil.example/news/apiclick.aspx?url=https%3A%2F%2Fa.example%2F",
        ),
        (
            "https://www.google.com/search?q=https://a.example/",
            "https://www.google.com/search?q=https%3A%2F%2Fa.example%2F",
        ),
        # Google News' opaque article links name no target: left alone
        (
            "https://news.google.com/rss/articles/CBMiVWh0dHBzOi8vYS5leGFtcGxl?oc=5",
            "https://news.google.com/rss/articles/CBMiVWh0dHBzOi8vYS5leGFtcGxl?oc=5",
        ),
    ],
)
def test_redirect_wrappers_are_unwrapped(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_unwrapping_stops_after_a_few_layers() -> None:
    url = ARTICLE
    for layer in range(MAX_UNWRAPS + 1):
        url = apiclick_url(url, tid=str(layer), c="0")
    assert unwrap_redirect(url).startswith("http://www.bing.com/news/apiclick.aspx")
    assert unwrap_redirect(url) != url


NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
GOOGLE_NEWS_ITEM = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>"kuril" - Google News</title><link>https://news.google.com/search?q=kuril</link>
<item><title>Russia deploys new missiles on Matua - Kamchatka Herald</title>
<link>https://news.google.com/rss/articles/CBMiQ2h0dHBzOi8va2FtY2hhdGthLmV4YW1wbGUvbWF0dWE?oc=5</link>
<guid isPermaLink="false">CBMiQ2h0dHBzOi8va2FtY2hhdGthLmV4YW1wbGUvbWF0dWE</guid>
<pubDate>Thu, 03 Dec 2026 05:10:00 GMT</pubDate>
<description>&lt;a href="https://news.google.com/rss/articles/CBMiQ2h0dHBz?oc=5" target="_blank"&gt;Russia deploys new missiles on Matua&lt;/a&gt;&amp;nbsp;&amp;nbsp;&lt;font color="#6f6f6f"&gt;Kamchatka Herald&lt;/font&gt;</description>
<source url="https://kamchatka.example">Kamchatka Herald</source></item>
</channel></rss>"""


def test_google_news_items_name_their_publisher_and_tell_only_the_headline() -> None:
    [item] = parse_feed(GOOGLE_NEWS_ITEM, "https://news.google.com/rss/search?q=kuril")
    assert item.outlet == "Kamchatka Herald" and item.outlet_url == "https://kamchatka.example/"
    entry = Entry(
        id=1,
        source="gnews",
        status="pending",
        first_seen_at=NOW,
        **{
            k: getattr(item, k) for k in ("url", "guid", "title", "summary", "outlet", "outlet_url")
        },
    )
    article = feed_text_article(entry, reason="fetch: never")
    assert article is not None
    assert (article.title, article.text) == ("Russia deploys new missiles on Matua",) * 2
    assert (article.outlet, article.outlet_url) == (
        "Kamchatka Herald",
        "https://kamchatka.example/",
    )
    assert (article.text_source, article.text_reason) == ("feed", "fetch: never")


def test_bing_news_items_name_their_publisher_and_link_to_the_page() -> None:
    posting = Posting(story=story_by_key("nemuro-rally"), url=ARTICLE, published=NOW, guid=None)
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:News="https://www.bing.com/news/search?q=kuril&amp;format=rss">
<channel><title>kuril - BingNews</title><link>https://www.bing.com/news/search?q=kuril</link>
<item><title>{posting.story.title}</title>
<link>{apiclick_url(ARTICLE, tid="9", c="1").replace("&", "&amp;")}</link>
<description>{posting.story.lead}</description><News:Source>Hokkaido Press</News:Source></item>
</channel></rss>""".encode()
    [item] = parse_feed(body, "https://www.bing.com/news/search?q=kuril&format=rss")
    assert (item.url, item.outlet, item.outlet_url) == (ARTICLE, "Hokkaido Press", None)


@pytest.mark.parametrize(
    ("summary", "repeats"),
    [
        ("Russia deploys missiles\u00a0\u00a0Kamchatka Herald", True),
        ("Russia deploys missiles - Kamchatka Herald", True),
        ("russia deploys  missiles", True),
        ("Russia deploys missiles on Matua, the defence ministry said.", False),
        ("", False),
    ],
)
def test_a_description_that_repeats_the_headline_is_no_text(summary: str, repeats: bool) -> None:
    full = "Russia deploys missiles - Kamchatka Herald"
    assert repeats_headline(summary, full, "Russia deploys missiles", "Kamchatka Herald") is repeats


def _sources(tmp_path: Path, *lines: str) -> list[Source]:
    path = tmp_path / "kurilwatch.yaml"
    body = "\n".join(f"    {line}" for line in lines)
    path.write_text(f"sources:\n  - name: s\n{body}\n", encoding="utf-8")
    return [s.to_source() for s in load_config(path, {}).sources]


@pytest.mark.parametrize(
    ("lines", "fetch_pages", "obey_robots"),
    [
        (("url: https://www.example.org/rss.xml",), True, True),
        (("url: https://news.google.com/rss/search?q=kuril",), False, True),
        (("url: https://NEWS.GOOGLE.COM/rss/search?q=kuril",), False, True),
        (("url: https://news.google.com/rss/search?q=k", "fetch: always"), True, True),
        (("url: https://www.example.org/rss.xml", "fetch: never"), False, True),
        (("url: https://www.example.org/rss.xml", "robots: ignore"), True, False),
        (("url: https://www.example.org/rss.xml", "robots: obey"), True, True),
    ],
)
def test_fetch_and_robots_keys(
    tmp_path: Path, lines: tuple[str, ...], fetch_pages: bool, obey_robots: bool
) -> None:
    [source] = _sources(tmp_path, *lines)
    assert (source.fetch_pages, source.obey_robots) == (fetch_pages, obey_robots)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("fetch: sometimes", "sources[0].fetch: expected 'always' or 'never' (got 'sometimes')"),
        ("fetch: false", "sources[0].fetch: expected 'always' or 'never' (got False)"),
        ("robots: disobey", "sources[0].robots: expected 'obey' or 'ignore' (got 'disobey')"),
        ("robots: no", "sources[0].robots: expected 'obey' or 'ignore' (got False)"),
    ],
)
def test_bad_fetch_and_robots_values_are_named(tmp_path: Path, line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _sources(tmp_path, "url: https://www.example.org/rss.xml", line)
    assert str(raised.value).endswith("kurilwatch.yaml: " + expected)


def _middleware(cache: RobotsCache) -> RobotsMiddleware:
    crawler: Any = SimpleNamespace(
        settings=ScrapySettings({"USER_AGENT": "kurilwatch-test"}),
        spider=SimpleNamespace(robots_cache=cache),
        stats=SimpleNamespace(inc_value=lambda *args, **kwargs: None),
    )
    return RobotsMiddleware(crawler)


@pytest.mark.parametrize(
    ("target", "source_url", "obey", "allowed"),
    [
        ("https://feeds.example/rss.xml", "https://feeds.example/rss.xml", False, True),
        ("https://feeds.example/news/1", "https://feeds.example/rss.xml", False, True),
        ("http://feeds.example:8080/news/1", "https://feeds.example/rss.xml", False, True),
        ("https://feeds.example/news/1", "https://feeds.example/rss.xml", True, False),
        # another host the source links to is still asked
        ("https://publisher.example/a", "https://feeds.example/rss.xml", False, False),
        ("https://www.feeds.example/a", "https://feeds.example/rss.xml", False, False),
    ],
)
def test_robots_ignore_covers_the_sources_own_host_only(
    target: str, source_url: str, obey: bool, allowed: bool
) -> None:
    cache = RobotsCache()
    for origin in (
        "https://feeds.example",
        "http://feeds.example:8080",
        "https://www.feeds.example",
        "https://publisher.example",
    ):
        cache.put(origin, DisallowAll("robots.txt answered 503"))
    source = Source(name="s", kind="feed", url=source_url, every_seconds=60, obey_robots=obey)
    request = Request(target, meta={"kurilwatch_source": source})
    middleware = _middleware(cache)
    if allowed:
        assert asyncio.run(middleware.process_request(request)) is None
    else:
        with pytest.raises(RobotsForbidden):
            asyncio.run(middleware.process_request(request))


def test_robots_ignored_is_logged_once_per_source(caplog: pytest.LogCaptureFixture) -> None:
    middleware = _middleware(RobotsCache())
    source = Source(
        name="s", kind="feed", url="https://feeds.example/rss", every_seconds=60, obey_robots=False
    )
    for path in ("/rss", "/news/1", "/news/2"):
        request = Request("https://feeds.example" + path, meta={"kurilwatch_source": source})
        asyncio.run(middleware.process_request(request))
    assert [r.getMessage() for r in caplog.records] == ["robots.ignored"]
