"""Tests of the test helpers: the local news site, the webhook receiver and the stories.

The rest of the suite trusts these helpers, so they are checked here against real clients:
httpx over loopback sockets, feedparser on the feeds and trafilatura on the article pages.
The servers listen on 127.0.0.1 only; nothing leaves the machine.
"""

from __future__ import annotations

import threading
import time
from calendar import timegm
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import feedparser
import httpx
import pytest
import trafilatura

from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import EVENTS, STORIES, FixtureStory, story_by_key

T0 = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(name="Hokkaido Wire") as news_site:
        yield news_site


@pytest.fixture
def rx() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


# --- fixture stories ---------------------------------------------------------------------


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.key)
def test_each_story_is_wire_sized(story: FixtureStory) -> None:
    assert 3 <= len(story.paragraphs) <= 6
    size = len(story.text) if story.language == "ja" else len(story.text.split())
    assert (250 <= size <= 900) if story.language == "ja" else (120 <= size <= 300)
    assert story.lead and story.paragraphs[0].startswith(story.lead)
    assert story_by_key(story.key) is story


def test_stories_cover_languages_events_and_noise() -> None:
    assert len({s.key for s in STORIES}) == len(STORIES)
    assert {s.language for s in STORIES} == {"en", "ja", "ru"}
    assert {event for s in STORIES for event in s.expect_events} == EVENTS
    assert any(s.expect_events == EVENTS for s in STORIES if s.language == "ja")
    on_topic_quiet = [s.key for s in STORIES if s.expect_topic and not s.expect_events]
    off_topic = [s.key for s in STORIES if not s.expect_topic]
    assert {"kuril-earthquake", "fisheries-talks"} <= set(on_topic_quiet)
    assert len(off_topic) >= 3


def test_story_lookup_and_validation() -> None:
    with pytest.raises(KeyError, match="nemuro-rally"):
        story_by_key("no-such-story")
    with pytest.raises(ValueError, match="off topic"):
        FixtureStory(
            key="x",
            title="x",
            paragraphs=("x.",),
            language="en",
            expect_topic=False,
            expect_events=frozenset({"protest"}),
        )


# --- news site: feeds ----------------------------------------------------------------------


def test_rss_feed_lists_stories_newest_first(site: NewsSite, client: httpx.Client) -> None:
    keys = ("nemuro-rally", "etorofu-drill-protest", "kuril-earthquake")
    times = (T0 + timedelta(hours=1), T0 + timedelta(hours=3), T0)
    urls = {
        key: site.add_story(story_by_key(key), published=when)
        for key, when in zip(keys, times, strict=True)
    }

    response = client.get(site.feed_url)
    feed = feedparser.parse(response.content)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Hokkaido Wire" and feed.feed.language == "en"
    order = ["etorofu-drill-protest", "nemuro-rally", "kuril-earthquake"]
    assert [e.title for e in feed.entries] == [story_by_key(k).title for k in order]
    first = feed.entries[0]
    assert first.link == first.id == urls["etorofu-drill-protest"]
    assert f'<guid isPermaLink="true">{first.id}</guid>' in response.text
    assert first.summary == story_by_key("etorofu-drill-protest").lead
    assert timegm(first.published_parsed) == (T0 + timedelta(hours=3)).timestamp()


def test_atom_feed_carries_the_same_entries(site: NewsSite, client: httpx.Client) -> None:
    site.add_story(story_by_key("ja-drill-protest"), published=T0)
    site.add_story(story_by_key("ru-iturup-exercise"), published=T0 + timedelta(minutes=5))
    url = site.add_story(story_by_key("fisheries-talks"), published=T0 - timedelta(days=1))

    rss = feedparser.parse(client.get(site.feed_url).content)
    atom = feedparser.parse(client.get(site.atom_url).content)

    assert atom.version == "atom10" and not atom.bozo
    assert [e.title for e in atom.entries] == [e.title for e in rss.entries]
    assert [e.link for e in atom.entries] == [e.link for e in rss.entries]
    assert atom.entries[-1].id == url
    assert atom.entries[0].summary == story_by_key("ru-iturup-exercise").lead


def test_stories_added_without_dates_keep_their_order(site: NewsSite) -> None:
    for key in ("nemuro-rally", "kunashir-bastion", "tokyo-wage-rally"):
        site.add_story(story_by_key(key))
    listed = [p.story.key for p in site.postings]
    assert listed == ["tokyo-wage-rally", "kunashir-bastion", "nemuro-rally"]
    assert len({p.published for p in site.postings}) == 3


def test_given_guid_is_not_a_permalink(site: NewsSite, client: httpx.Client) -> None:
    site.add_story(story_by_key("nemuro-rally"), guid="tag:wire,2025:nemuro", slug="a/b")
    response = client.get(site.feed_url)
    entry = feedparser.parse(response.content).entries[0]
    assert entry.id == "tag:wire,2025:nemuro"
    assert '<guid isPermaLink="false">tag:wire,2025:nemuro</guid>' in response.text
    assert entry.link == site.url + "/news/a/b"


def test_feed_answers_conditional_get_with_304(site: NewsSite, client: httpx.Client) -> None:
    site.add_story(story_by_key("nemuro-rally"), published=T0)
    first = client.get(site.feed_url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = client.get(site.feed_url, headers={"If-None-Match": etag})
    by_date = client.get(site.feed_url, headers={"If-Modified-Since": modified})
    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert (by_date.status_code, by_date.content) == (304, b"")
    assert by_etag.headers["etag"] == etag

    # a story published "yesterday" still moves Last-Modified and changes the body
    site.add_story(story_by_key("fisheries-talks"), published=T0 - timedelta(days=1))
    after_etag = client.get(site.feed_url, headers={"If-None-Match": etag})
    after_date = client.get(site.feed_url, headers={"If-Modified-Since": modified})
    assert after_etag.status_code == after_date.status_code == 200
    assert after_etag.headers["etag"] != etag
    assert len(feedparser.parse(after_etag.content).entries) == 2


def test_validators_can_be_switched_off(site: NewsSite, client: httpx.Client) -> None:
    site.add_story(story_by_key("nemuro-rally"))
    site.validators = False
    stale = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    response = client.get(site.feed_url, headers={"If-Modified-Since": stale})
    assert response.status_code == 200
    assert "etag" not in response.headers and "last-modified" not in response.headers


def test_robots_home_sitemap_and_404(site: NewsSite, client: httpx.Client) -> None:
    url = site.add_story(story_by_key("kurile-lake-salmon"))
    robots = client.get(site.url + "/robots.txt")
    assert robots.status_code == 200 and "Allow: /" in robots.text
    assert url in client.get(site.url + "/").text
    assert f"<loc>{url}</loc>" in client.get(site.sitemap_url).text
    assert client.get(site.url + "/news/nothing-here").status_code == 404
    assert client.post(site.feed_url, content=b"x").status_code == 405


def test_add_story_rejects_naive_dates_and_taken_paths(site: NewsSite) -> None:
    story = story_by_key("nemuro-rally")
    with pytest.raises(ValueError, match="timezone"):
        site.add_story(story, published=datetime(2025, 1, 1))
    site.add_story(story)
    with pytest.raises(ValueError, match="already"):
        site.add_story(story)


# --- news site: misbehaviour and the request log ------------------------------------------


def test_fail_for_a_number_of_times_then_recover(site: NewsSite, client: httpx.Client) -> None:
    site.fail("/rss.xml", 503, times=2)
    statuses = [client.get(site.feed_url).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert site.hits("/rss.xml") == 3
    with pytest.raises(ValueError, match="times"):
        site.fail("/rss.xml", 503, times=0)


def test_fail_until_cleared_with_headers(site: NewsSite, client: httpx.Client) -> None:
    site.fail("/atom.xml", 429, headers={"Retry-After": "2"}, body=b"slow down")
    for _ in range(2):
        response = client.get(site.atom_url)
        assert (response.status_code, response.headers["retry-after"]) == (429, "2")
        assert response.content == b"slow down"
    site.clear("/atom.xml")
    assert client.get(site.atom_url).status_code == 200


def test_hang_delays_the_answer(site: NewsSite) -> None:
    site.hang("/rss.xml", 30, times=1)
    site.hang("/robots.txt", 0.2)
    with httpx.Client(timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get(site.feed_url)
    with httpx.Client(timeout=2.0) as patient:
        assert patient.get(site.feed_url).status_code == 200  # the one hang was used up
        started = time.monotonic()
        assert patient.get(site.url + "/robots.txt").status_code == 200
        assert time.monotonic() - started >= 0.2


def test_serve_raw_sends_broken_xml(site: NewsSite, client: httpx.Client) -> None:
    site.serve_raw("/rss.xml", b"<rss><channel><item><title>cut", "application/rss+xml")
    response = client.get(site.feed_url)
    assert response.content == b"<rss><channel><item><title>cut"
    assert feedparser.parse(response.content).bozo


def test_truncate_closes_mid_body(site: NewsSite, client: httpx.Client) -> None:
    site.add_story(story_by_key("nemuro-rally"))
    site.truncate("/rss.xml", 40)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(site.feed_url)
    site.clear()
    assert client.get(site.feed_url).status_code == 200


def test_requests_are_recorded(site: NewsSite, client: httpx.Client) -> None:
    client.get(site.feed_url + "?utm_source=x", headers={"User-Agent": "kurilwatch-test"})
    client.head(site.url + "/robots.txt")
    (method, path, headers, at), head = site.requests
    assert (method, path) == ("GET", "/rss.xml?utm_source=x")
    assert at <= head.at <= time.monotonic()  # arrival times, in order
    assert headers["user-agent"] == headers["User-Agent"] == "kurilwatch-test"
    assert head.method == "HEAD"
    assert site.hits("/rss.xml") == site.hits("/rss.xml?utm_source=x") == 1


def test_exit_does_not_wait_for_a_hanging_handler() -> None:
    outcome: list[object] = []
    with NewsSite() as site:
        site.hang("/rss.xml", 30)

        def fetch() -> None:
            try:
                outcome.append(httpx.get(site.feed_url, timeout=10).status_code)
            except httpx.HTTPError as exc:
                outcome.append(exc)

        fetcher = threading.Thread(target=fetch, daemon=True)
        fetcher.start()
        deadline = time.monotonic() + 2
        while site.hits("/rss.xml") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    fetcher.join(timeout=2)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)


# --- news site: article pages --------------------------------------------------------------


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.key)
def test_article_page_extracts_cleanly(
    site: NewsSite, client: httpx.Client, story: FixtureStory
) -> None:
    url = site.add_story(story, published=T0)
    response = client.get(url)
    html = response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<html lang="{story.language}">' in html
    assert f'<link rel="canonical" href="{url}">' in html

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)

    assert doc is not None and not isinstance(doc, dict) and doc.text is not None
    assert doc.title == story.title
    assert doc.date == T0.date().isoformat()
    for paragraph in story.paragraphs:
        assert paragraph in doc.text
    for chrome in ("©", "Hokkaido Wire", "Privacy", "Rishiri", "Хоккайдо", "北海道北部"):
        assert chrome not in doc.text


# --- webhook receiver ----------------------------------------------------------------------


def test_receiver_records_posts_and_answers_ok(rx: WebhookReceiver, client: httpx.Client) -> None:
    response = client.post(rx.url, json={"events": ["protest"]}, headers={"Webhook-Id": "a1"})
    [got] = rx.wait_for(1)
    assert (response.status_code, response.text) == (200, "ok")
    assert got.method == "POST" and got.path == "/hook"
    assert got.headers["webhook-id"] == got.headers["Webhook-Id"] == "a1"
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {"events": ["protest"]}
    assert got.body == b'{"events":["protest"]}'
    assert abs((datetime.now(UTC) - got.received_at).total_seconds()) < 5


def test_receiver_reads_chunked_bodies(rx: WebhookReceiver, client: httpx.Client) -> None:
    client.post(rx.url, content=iter([b'{"a":', b" 1}"]))
    [got] = rx.received
    assert got.headers["transfer-encoding"] == "chunked"
    assert got.json() == {"a": 1}


def test_receiver_plays_scripted_responses(rx: WebhookReceiver, client: httpx.Client) -> None:
    rx.respond(429, b"rate_limited", headers={"Retry-After": "1"})
    rx.respond(500, "rollup_error", times=2)
    rx.respond(410, b"channel_is_archived")
    answers = [client.post(rx.url, json={"n": n}) for n in range(5)]
    assert [(a.status_code, a.text) for a in answers] == [
        (429, "rate_limited"),
        (500, "rollup_error"),
        (500, "rollup_error"),
        (410, "channel_is_archived"),
        (200, "ok"),
    ]
    assert answers[0].headers["retry-after"] == "1"
    assert [r.json()["n"] for r in rx.received] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        rx.respond(200, times=0)


def test_receiver_delay_records_before_waiting(rx: WebhookReceiver) -> None:
    rx.delay(30)
    with httpx.Client(timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post(rx.url, content=b"late")
    assert rx.wait_for(1, timeout=1)[0].body == b"late"
    rx.delay(0)
    assert httpx.post(rx.url, content=b"soon", timeout=2).status_code == 200
    rx.delay(0.2)
    started = time.monotonic()
    assert httpx.post(rx.url, content=b"slow", timeout=2).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_receiver_wait_for_says_how_many_came(rx: WebhookReceiver) -> None:
    httpx.post(rx.url, content=b"one")
    with pytest.raises(AssertionError, match=r"expected at least 2 .* got 1"):
        rx.wait_for(2, timeout=0.1)


def test_receiver_ignores_other_methods(rx: WebhookReceiver, client: httpx.Client) -> None:
    assert client.get(rx.url).status_code == 405
    assert rx.received == []
    client.post(rx.base_url + "/other?x=1", content=b"")
    assert rx.received[0].path == "/other?x=1"
    rx.clear()
    assert rx.received == []


def test_receiver_stops_fast_while_delaying() -> None:
    outcome: list[object] = []
    with WebhookReceiver() as receiver:
        receiver.delay(30)

        def post() -> None:
            try:
                outcome.append(httpx.post(receiver.url, content=b"x", timeout=10).status_code)
            except httpx.HTTPError as exc:
                outcome.append(exc)

        poster = threading.Thread(target=post, daemon=True)
        poster.start()
        receiver.wait_for(1, timeout=2)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    poster.join(timeout=2)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)


def test_servers_refuse_use_outside_a_with_block() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = NewsSite().url
    with pytest.raises(RuntimeError, match="not running"):
        _ = WebhookReceiver().url
