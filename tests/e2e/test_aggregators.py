"""Search aggregators, run by the real command against local stand-ins.

A Bing-News-style feed links through `apiclick.aspx?…&tid=…&url=`: the publisher's page is
fetched once, alerts name it, and a second poll (new `tid`s) fetches no page. A
Google-News-style feed's opaque links are never requested: its items are judged on their
headline. `robots: ignore` lets a source past its own host's robots.txt, and no further.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.aggregator import SearchAggregator
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES, FixtureStory

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"

# Event stories whose headline alone does not say what happened: judged on the page they
# alert, judged on the headline (all a Google-News-style item carries) they may not.
HEADLINE_SHY = (
    FixtureStory(
        key="fleet-busy-week",
        title="Pacific Fleet wraps up a busy week off the Kurils",
        language="en",
        expect_topic=True,
        expect_events=frozenset({"exercise"}),
        paragraphs=(
            "Warships of Russia's Pacific Fleet held live-fire drills in the waters off Kunashir and Iturup this week, the fleet's press service said on Friday.",
            "Crews practised repelling an air attack and firing at sea targets, and coastal missile units on the islands took part in the exercise.",
            "Japan's Defence Ministry said it was monitoring the manoeuvres near the islands, which Tokyo calls its Northern Territories.",
        ),
    ),
    FixtureStory(
        key="envoy-summoned",
        title="Tokyo summons Russian ambassador over Etorofu",
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest"}),
        paragraphs=(
            "Japan's Foreign Ministry summoned the Russian ambassador on Thursday and lodged a formal protest over the opening of a new military airfield on Etorofu.",
            "A senior ministry official told the ambassador that the move was unacceptable and contradicted Japan's position on the Northern Territories.",
            "Russia considers the islands, which it calls the Southern Kurils, its own territory since 1945.",
        ),
    ),
    FixtureStory(
        key="nemuro-gathering",
        title="Former island residents gather in Nemuro",
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest"}),
        paragraphs=(
            "About 600 former residents of the Northern Territories and their families rallied in Nemuro on Sunday, demanding the return of the four islands from Russia.",
            "Marchers carried banners calling on Moscow to give back Etorofu, Kunashiri, Shikotan and the Habomai islets, and the rally adopted a resolution addressed to the government.",
            "Organisers said the protest was the largest in the city for several years.",
        ),
    ),
)
ALL = STORIES + HEADLINE_SHY


def _config(sources: list[dict[str, Any]], hook: str) -> dict[str, Any]:
    return {
        "sources": sources,
        "channels": [{"name": "ops", "kind": "webhook", "url": hook}],
        "delivery": fast_delivery(),
        "group_events": False,  # one alert per story: the shares below count stories
    }


def _rules_test(kw: Kurilwatch, texts: dict[str, tuple[str, str, str]]) -> set[str]:
    """The keys of `texts` ({key: (title, text, language)}) on which `rules test` finds an
    event, as the command says."""
    lines = "".join(
        json.dumps({"id": key, "title": t, "text": x, "language": lang}) + "\n"
        for key, (t, x, lang) in texts.items()
    )
    done = kw.run("rules", "test", "-", stdin=lines)
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {v["id"] for v in verdicts if v["topic"] and v["events"]}


def _logged(stderr: str, event: str) -> list[dict[str, Any]]:
    return [e for e in map(json.loads, stderr.splitlines()) if e.get("event") == event]


def _publish(site: NewsSite, stories: tuple[FixtureStory, ...] = ALL) -> None:
    for story in stories:
        site.add_story(story)


def test_apiclick_links_fetch_the_publisher_page_once_and_alerts_name_it(
    kw: Kurilwatch,
) -> None:
    with (
        NewsSite(name="Nemuro Evening Post", host="127.0.0.2") as publisher,
        WebhookReceiver() as rx,
    ):
        _publish(publisher)
        with SearchAggregator(publisher=publisher.name, publisher_url=publisher.url) as bing:
            bing.list_postings(publisher.postings)
            kw.write_config(_config([{"name": "bing", "url": bing.bing_url}], rx.url))
            first = kw.run("run", "--once")
            assert first.returncode == 0, first.stderr
            pages = [urlsplit(p.url).path for p in publisher.postings]
            assert [publisher.hits(path) for path in pages] == [1] * len(pages)
            alerted = {r.json()["story"]["url"] for r in rx.received}
            assert alerted and alerted <= {p.url for p in publisher.postings}

            seen = len(publisher.requests)
            second = kw.run("run", "--once")
            assert second.returncode == 0, second.stderr
            assert bing.hits("/news/search") == 2  # polled again; every tid in it is new
        assert publisher.requests[seen:] == []  # no page fetched, not even robots.txt
        [polled] = _logged(second.stderr, "source.polled")
        assert polled["ok"] and polled["entries"] == len(pages) and polled["new"] == 0
        assert len(rx.received) == len(alerted)

    entries = kw.json("entries", "list")
    assert {e["url"] for e in entries} == {p.url for p in publisher.postings}
    assert {e["outlet"] for e in entries} == {publisher.name}
    assert {e["status"] for e in entries} == {"done"}  # judged on the publisher's page
    by_url = {p.url: p.story.key for p in publisher.postings}
    on_page = _rules_test(kw, {s.key: (s.title, s.text, s.language) for s in ALL})
    assert {by_url[u] for u in alerted} == on_page


def test_google_news_items_are_judged_on_their_headline_and_never_fetched(
    kw: Kurilwatch,
) -> None:
    with (
        NewsSite(name="Sakhalin Daily", host="127.0.0.2") as publisher,
        SearchAggregator(publisher="Sakhalin Daily", publisher_url=publisher.url) as google,
        WebhookReceiver() as rx,
    ):
        _publish(publisher)
        google.list_postings(publisher.postings)
        source = {"name": "gnews", "url": google.google_url, "fetch": "never"}
        kw.write_config(_config([source], rx.url))
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        assert google.hits("/rss/search") == 1
        assert google.hits("/rss/articles/") == 0
        assert publisher.requests == []  # the <source url> is recorded, never visited
        alerted = {r.json()["story"]["title"] for r in rx.received}
        assert all(r.json()["story"]["text_source"] == "feed" for r in rx.received)

    entries = kw.json("entries", "list")
    assert len(entries) == len(ALL)
    assert {(e["status"], e["reason"]) for e in entries} == {("feed", "fetch: never")}
    assert {e["outlet"] for e in entries} == {"Sakhalin Daily"}
    assert {e["outlet_url"] for e in entries} == {publisher.url + "/"}
    assert all(urlsplit(e["url"]).path.startswith("/rss/articles/CBMi") for e in entries)
    titles = {s["title"] for s in kw.json("stories", "list")}
    assert titles and not any(t.endswith(" - Sakhalin Daily") for t in titles)
    # what a headline alone tells the rules: the headline without the publisher, no text
    by_title = {s.title: s.key for s in ALL}
    headline = _rules_test(kw, {s.key: (s.title, s.title, s.language) for s in ALL})
    assert alerted and {by_title[t] for t in alerted} == headline


def test_robots_ignore_lets_a_source_past_its_own_hosts_robots_txt(kw: Kurilwatch) -> None:
    with NewsSite(name="Kushiro Shimbun") as site, WebhookReceiver() as rx:
        _publish(site)
        site.robots = DISALLOW_ALL
        kw.write_config(_config([{"name": "kushiro", "url": site.feed_url}], rx.url))
        obeyed = kw.run("run", "--once")
        assert obeyed.returncode == 0, obeyed.stderr
        assert site.hits("/rss.xml") == 0 and site.hits("/robots.txt") == 1
        [health] = kw.json("sources", "list")
        assert "robots.txt" in health["last_error"]
        assert rx.received == [] and not _logged(obeyed.stderr, "robots.ignored")

        source = {"name": "kushiro", "url": site.feed_url, "robots": "ignore"}
        kw.write_config(_config([source], rx.url))
        ignored = kw.run("run", "--once")
        assert ignored.returncode == 0, ignored.stderr
        assert site.hits("/robots.txt") == 1  # not read again for this source
        assert site.hits("/rss.xml") == 1
        assert all(site.hits(urlsplit(p.url).path) == 1 for p in site.postings)
        [logged] = _logged(ignored.stderr, "robots.ignored")
        assert logged["source"] == "kushiro" and logged["level"] == "warning"
        alerted = {r.json()["story"]["title"] for r in rx.received}
    assert {e["status"] for e in kw.json("entries", "list")} == {"done"}
    by_title = {s.title: s.key for s in ALL}
    on_page = _rules_test(kw, {s.key: (s.title, s.text, s.language) for s in ALL})
    assert alerted and {by_title[t] for t in alerted} == on_page


def test_robots_ignore_does_not_reach_the_hosts_an_aggregator_links_to(
    kw: Kurilwatch,
) -> None:
    with (
        NewsSite(name="Etorofu Weekly", host="127.0.0.2") as publisher,
        WebhookReceiver() as rx,
    ):
        _publish(publisher)
        publisher.robots = DISALLOW_ALL
        with SearchAggregator(publisher=publisher.name, publisher_url=publisher.url) as bing:
            bing.list_postings(publisher.postings)
            source = {"name": "bing", "url": bing.bing_url, "robots": "ignore"}
            kw.write_config(_config([source], rx.url))
            done = kw.run("run", "--once")
            assert done.returncode == 0, done.stderr
            assert bing.hits("/robots.txt") == 0 and bing.hits("/news/search") == 1
        assert [r.path for r in publisher.requests] == ["/robots.txt"]
    entries = kw.json("entries", "list")
    assert {e["status"] for e in entries} == {"feed"}
    assert all("robots.txt" in e["reason"] for e in entries)
