"""Every kind of source in one run: sitemap, listing, Atom with tracking parameters, and bad ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.e2e.conftest import Kurilwatch, fast_delivery, until
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://127.0.0.1:9/lol</link></item>
</channel></rss>
"""


def test_every_kind_of_source_in_one_run(kw: Kurilwatch) -> None:
    dated = datetime.now(UTC).strftime("/news/%Y/%m/%d/")  # a date in the URL, within max age
    with (
        NewsSite(name="Sitemap Only") as sitemap_site,
        NewsSite(name="Listing Only") as listing_site,
        NewsSite(name="Atom Wire") as atom_site,
        NewsSite(name="Gone") as gone_site,
        NewsSite(name="Hostile") as hostile_site,
        WebhookReceiver() as rx,
    ):
        sitemap_site.add_story(story_by_key("kunashir-bastion"))
        listing_site.add_story(story_by_key("ru-iturup-exercise"), path_prefix=dated)
        secret = listing_site.add_story(story_by_key("ja-drill-protest"), path_prefix="/private/")
        listing_site.robots = "User-agent: *\nDisallow: /private/\n"
        atom_site.add_story(story_by_key("nemuro-rally"), path_prefix=dated)
        atom_site.link_query = "?utm_source=rss&utm_medium=feed&fbclid=abc"
        gone_site.fail("/rss.xml", 404)
        hostile_site.serve_raw("/rss.xml", BILLION_LAUGHS, "application/rss+xml")
        kw.write_config(
            {
                "sources": [
                    {"name": "sitemap", "kind": "sitemap", "url": sitemap_site.sitemap_url},
                    {"name": "listing", "kind": "listing", "url": listing_site.url + "/"},
                    {"name": "atom", "kind": "feed", "url": atom_site.atom_url},
                    {"name": "gone", "kind": "feed", "url": gone_site.feed_url},
                    {"name": "hostile", "kind": "feed", "url": hostile_site.feed_url},
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        first = kw.run("run", "--once")
        assert first.returncode == 0, first.stderr

        stories = {r.json()["story"]["title"]: r.json()["story"] for r in rx.received}
        assert set(stories) == {
            story_by_key("kunashir-bastion").title,
            story_by_key("ru-iturup-exercise").title,
            story_by_key("nemuro-rally").title,
            # robots.txt forbids the page, not the listing: its link text is judged instead
            story_by_key("ja-drill-protest").title,
        }
        forbidden = stories[story_by_key("ja-drill-protest").title]
        assert forbidden["text_source"] == "feed" and "robots" in forbidden["text_reason"]
        atom_alert = next(r.json() for r in rx.received if "Nemuro" in r.json()["story"]["title"])
        assert (
            "utm_" not in atom_alert["story"]["url"] and "fbclid" not in atom_alert["story"]["url"]
        )
        secret_path = secret.removeprefix(listing_site.url)
        assert listing_site.hits(secret_path) == 0

        health = {s["name"]: s for s in kw.json("sources", "list")}
        assert health["gone"]["last_error"] == "HTTP 404"
        assert health["hostile"]["last_error"]
        for name in ("sitemap", "listing", "atom"):
            assert health[name]["last_error"] is None, health[name]
            assert health[name]["last_ok_at"]

        articles_before = {
            site.name: sum(1 for r in site.requests if r.path.startswith(("/news/", "/private/")))
            for site in (sitemap_site, listing_site, atom_site)
        }
        indexes = {
            "sitemap": (sitemap_site, "/sitemap.xml"),
            "listing": (listing_site, "/"),
            "atom": (atom_site, "/atom.xml"),
        }
        marks = {name: len(site.requests) for name, (site, _) in indexes.items()}
        second = kw.run("run", "--once")
        assert second.returncode == 0, second.stderr
        for name, (site, path) in indexes.items():
            polls = [r for r in site.requests[marks[name] :] if r.path == path]
            assert len(polls) == 1, name
            assert "if-none-match" in polls[0].headers, name
            assert "if-modified-since" in polls[0].headers, name
        for site in (sitemap_site, listing_site, atom_site):
            fetched = sum(1 for r in site.requests if r.path.startswith(("/news/", "/private/")))
            assert fetched == articles_before[site.name], site.name
        assert len(rx.received) == 4
    polled = [json.loads(x) for x in second.stderr.splitlines() if '"source.polled"' in x]
    assert {p["source"]: p["not_modified"] for p in polled if p["ok"]} == {
        "sitemap": True,
        "listing": True,
        "atom": True,
    }
    assert datetime.now(UTC)  # the run finished; nothing hung


def test_user_agent_names_kurilwatch_or_the_configured_one(kw: Kurilwatch) -> None:
    with NewsSite() as site:
        site.add_story(story_by_key("fisheries-talks"))
        kw.write_config({"sources": [{"name": "s", "url": site.feed_url}]})
        assert kw.run("run", "--once").returncode == 0
        agents = {r.headers.get("user-agent") for r in site.requests}
        assert len(agents) == 1 and agents.pop().startswith("kurilwatch/0.1.0")
        kw.write_config(
            {
                "sources": [{"name": "s", "url": site.feed_url}],
                "crawl": {"user_agent": "DeskMonitor/1.0 (+mailto:desk@example.org)"},
            }
        )
        mark = len(site.requests)
        assert kw.run("run", "--once").returncode == 0
        assert {r.headers.get("user-agent") for r in site.requests[mark:]} == {
            "DeskMonitor/1.0 (+mailto:desk@example.org)"
        }


def test_a_source_that_yields_nothing_new_is_reported_stale(kw: Kurilwatch) -> None:
    with NewsSite() as site:
        site.add_story(story_by_key("fisheries-talks"))
        kw.write_config(
            {"sources": [{"name": "quiet", "url": site.feed_url, "expect_every": "10s"}]}
        )
        assert kw.run("run", "--once").returncode == 0
        [fresh] = kw.json("sources", "list")
        listed_at = datetime.now(UTC)
        new_at = datetime.fromisoformat(fresh["last_new_at"])
        # fresh while less than expect_every has passed since the poll found something (a
        # machine too loaded to list it within 10 s rightly sees it stale already)
        assert fresh["stale"] is False or (listed_at - new_at).total_seconds() > 10
        until(lambda: kw.json("sources", "list")[0]["stale"], timeout=60)  # nothing new for 10 s
        done = kw.run("run", "--once")
        assert '"source.stale"' in done.stderr
        [quiet] = kw.json("sources", "list")
        assert quiet["stale"] is True
        listing = kw.run("sources", "list")
        assert "stale" in listing.stdout
