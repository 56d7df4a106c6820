"""`kurilwatch sources check` against local stand-ins of what real sources do, no database."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite
from tests.support.ports import free_port
from tests.support.stories import story_by_key

JS_SHELL = (
    b"<!DOCTYPE html><html><head><title>Kuril News</title>"
    b'<script src="/static/app.3f9a.js" defer></script></head>'
    b'<body><div id="root"></div><noscript>Enable JavaScript to read the news.</noscript>'
    b"</body></html>"
)


@pytest.fixture
def kw_without_database(tmp_path: Path) -> Kurilwatch:
    """`kurilwatch` whose database cannot be reached: a command that opens it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURILWATCH_")}
    env["KURILWATCH_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    return Kurilwatch(config=tmp_path / "kurilwatch.yaml", env=env)


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


def test_each_kind_of_trouble_gets_its_verdict(kw_without_database: Kurilwatch) -> None:
    kw = kw_without_database
    month_ago = datetime.now(UTC) - timedelta(days=30)
    with (
        NewsSite(name="Healthy Wire") as healthy,
        NewsSite(name="Gone Wire") as gone,
        NewsSite(name="Private Wire") as private,
        NewsSite(name="Paywalled Wire") as paywalled,
        NewsSite(name="Quiet Wire") as quiet,
        NewsSite(name="Script Wire") as script,
    ):
        healthy.add_story(story_by_key("kunashir-bastion"), published=month_ago)
        newest = healthy.add_story(story_by_key("nemuro-rally"))
        gone.fail("/rss.xml", 404)
        private.add_story(story_by_key("ru-iturup-exercise"))
        private.robots = "User-agent: *\nDisallow: /\n"
        walled = paywalled.add_story(story_by_key("ja-drill-protest"))
        paywalled.fail(urlsplit(walled).path, 403, body=b"<html><body>Subscribe</body></html>")
        quiet.add_story(story_by_key("etorofu-drill-protest"), published=month_ago)
        script.serve_raw("/news/", JS_SHELL, "text/html; charset=utf-8")
        script.serve_raw("/rss.xml", JS_SHELL, "text/html; charset=utf-8")
        kw.write_config(
            {
                "sources": [
                    {"name": "healthy", "url": healthy.feed_url},
                    {"name": "gone", "url": gone.feed_url},
                    {"name": "private", "url": private.feed_url},
                    {"name": "paywalled", "url": paywalled.feed_url},
                    {"name": "quiet", "url": quiet.feed_url},
                    {"name": "hourly", "url": quiet.atom_url, "expect_every": "1h"},
                    {"name": "refused", "url": f"http://127.0.0.1:{free_port()}/rss.xml"},
                    {"name": "script", "kind": "listing", "url": script.url + "/news/"},
                    {"name": "script-feed", "url": script.feed_url},
                ],
                "crawl": {"timeout": "30s"},
            }
        )
        done = kw.run("sources", "check", "--json")
        assert done.returncode == 0, done.stderr
        rows = _by_name(json.loads(done.stdout))
        table = kw.run("sources", "check")
        assert table.returncode == 0, table.stderr

    verdicts = {name: row["verdict"] for name, row in rows.items()}
    assert verdicts == {
        "healthy": "ok",
        "gone": "gone",
        "private": "blocked by robots",
        "paywalled": "feed text only",
        "quiet": "stale",
        "hourly": "stale",
        "refused": "error",
        "script": "JavaScript only",
        "script-feed": "JavaScript only",
    }
    ok = rows["healthy"]
    assert (ok["answer"], ok["robots"], ok["items"]) == ("HTTP 200", "allowed", 2)
    assert ok["sample_url"] == newest  # the newest item is the sample
    assert ok["sample_extracts"] is True and ok["sample_chars"] > 200
    assert datetime.fromisoformat(ok["newest"]) > month_ago
    assert rows["gone"]["answer"] == "HTTP 404"
    assert (rows["private"]["answer"], rows["private"]["robots"]) == ("not asked", "disallowed")
    assert rows["private"]["items"] == 0  # the index was never asked for
    assert rows["paywalled"]["sample_extracts"] is False
    assert "HTTP 403" in rows["paywalled"]["sample_problem"]
    assert rows["paywalled"]["items"] == 1
    assert "30d old" in rows["quiet"]["reason"]
    assert "every 1h" in rows["hourly"]["reason"]
    assert rows["refused"]["answer"].startswith("connection refused by 127.0.0.1:")
    assert rows["refused"]["reason"] == rows["refused"]["answer"]
    assert rows["script"]["answer"] == "HTTP 200" and rows["script"]["items"] == 0
    # each index once, the sample page once, and nothing of a site robots.txt closes
    assert healthy.hits("/rss.xml") == 2  # one per run: --json, then the table
    assert healthy.hits(urlsplit(newest).path) == 2
    assert private.hits("/rss.xml") == 0 and private.hits("/robots.txt") == 2
    # the table: a row per source with its verdict, then the reason of each one not ok
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "answer", "robots"]
    for name, verdict in verdicts.items():
        row = next(line for line in lines[1:] if line.startswith(name + " "))
        assert row.endswith(verdict)
    assert "paywalled: feed text only: the sample page will not give the article" in table.stdout
    assert "refused: error: connection refused by 127.0.0.1:" in table.stdout


def test_names_pick_sources_and_unknown_names_are_refused(kw_without_database: Kurilwatch) -> None:
    kw = kw_without_database
    with NewsSite(name="One") as one, NewsSite(name="Two") as two:
        one.add_story(story_by_key("nemuro-rally"))
        kw.write_config(
            {
                "sources": [
                    {"name": "one", "url": one.feed_url},
                    {"name": "two", "url": two.feed_url},
                ]
            }
        )
        picked = kw.run("sources", "check", "one", "--json")
        assert picked.returncode == 0, picked.stderr
        assert [row["name"] for row in json.loads(picked.stdout)] == ["one"]
        assert two.hits("/rss.xml") == 0

        unknown = kw.run("sources", "check", "one", "three")
        assert unknown.returncode == 2
        assert "unknown source 'three'" in unknown.stderr
        assert unknown.stdout == ""


def test_a_bad_configuration_is_exit_2(kw_without_database: Kurilwatch) -> None:
    kw = kw_without_database
    kw.write_config({"sources": [{"name": "x", "url": "ftp://example.org/feed"}]})
    done = kw.run("sources", "check")
    assert done.returncode == 2
    assert "sources[0].url" in done.stderr


def test_fetch_never_and_robots_ignore(kw_without_database: Kurilwatch) -> None:
    kw = kw_without_database
    with NewsSite(name="Aggregator") as aggregator, NewsSite(name="Closed Wire") as closed:
        listed = aggregator.add_story(story_by_key("nemuro-rally"))
        page = closed.add_story(story_by_key("kunashir-bastion"))
        closed.robots = "User-agent: *\nDisallow: /\n"
        kw.write_config(
            {
                "sources": [
                    {"name": "aggregator", "url": aggregator.feed_url, "fetch": "never"},
                    {"name": "entitled", "url": closed.feed_url, "robots": "ignore"},
                ]
            }
        )
        done = kw.run("sources", "check", "--json")
        assert done.returncode == 0, done.stderr
        rows = _by_name(json.loads(done.stdout))
        assert aggregator.hits(urlsplit(listed).path) == 0  # fetch: never: no page is read
        assert closed.hits("/robots.txt") == 0
        assert closed.hits(urlsplit(page).path) == 1

    assert rows["aggregator"]["verdict"] == "feed text only"
    assert rows["aggregator"]["items"] == 1 and rows["aggregator"]["sample_url"] is None
    assert "never read" in rows["aggregator"]["reason"]
    assert rows["entitled"]["verdict"] == "ok"
    assert rows["entitled"]["robots"] == "not asked (robots: ignore)"


def test_a_telegram_channel_is_read_one_page_and_judged_on_its_posts(
    kw_without_database: Kurilwatch,
) -> None:
    from tests.support.telegram import Post, TelegramPreview

    kw = kw_without_database
    now = datetime.now(UTC)
    posts = [
        Post(id=n, text=f"Exercise on Iturup, day {n}", published=now - timedelta(hours=30 - n))
        for n in range(1, 26)
    ]
    with TelegramPreview(page_size=10) as tme:
        tme.add_channel("fleet", "Pacific Fleet", posts)
        tme.add_channel("closed", "Closed")
        tme.hide("closed")
        kw.write_config(
            {
                "sources": [
                    {"name": "fleet", "kind": "telegram", "url": tme.preview_url("fleet")},
                    {"name": "closed", "kind": "telegram", "url": tme.preview_url("closed")},
                ]
            }
        )
        done = kw.run("sources", "check", "--json")
        assert done.returncode == 0, done.stderr
        rows = _by_name(json.loads(done.stdout))
        assert len(tme.page_requests("fleet")) == 1  # no paging back: nothing is stored

    fleet = rows["fleet"]
    assert (fleet["verdict"], fleet["items"], fleet["sample_url"]) == ("ok", 10, None)
    assert datetime.fromisoformat(fleet["newest"]) > now - timedelta(hours=6)
    assert rows["closed"]["verdict"] == "error"
    assert "not public" in rows["closed"]["reason"]
