"""`kurilwatch sources check` against local stand-ins of what real sources do: the verdicts,
kept in the real PostgreSQL and shown on the sources page and `/api/sources`, and the same
verdicts with no database to keep them in."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine

from kurilwatch.model import Source
from storage.sources import sync_sources
from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite
from tests.support.ports import free_port
from tests.support.stories import story_by_key
from tests.support.timeline import ServedUi

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


SECRET = "k3y-Kuril-0123456789"


def test_verdicts_are_stored_and_the_sources_page_and_api_show_them(
    kw: Kurilwatch, engine: Engine
) -> None:
    with NewsSite(name="Healthy Wire") as healthy, NewsSite(name="Gone Wire") as gone:
        healthy.add_story(story_by_key("nemuro-rally"))
        gone.add_story(story_by_key("kunashir-bastion"))
        gone.fail("/rss.xml", 404)
        keyed = f"{healthy.atom_url}?api_key={SECRET}"
        kw.write_config(
            {
                "sources": [
                    {"name": "healthy", "url": healthy.feed_url},
                    {"name": "gone", "url": gone.feed_url},
                    {"name": "keyed", "url": keyed},
                ]
            }
        )
        before = datetime.now(UTC)
        done = kw.run("sources", "check")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "verdicts stored in the database (3 sources)"
        assert "gone: gone: the index answered HTTP 404" in done.stdout
        # again for one source: its verdict is replaced, the others' stay as they were
        gone.clear("/rss.xml")
        again = kw.run("sources", "check", "gone", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)[0]["verdict"] == "ok"
        assert "verdicts stored in the database (1 source)" in again.stderr

    # no daemon has polled them yet: the checks are listed on their own
    with ServedUi(engine) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        unpolled = {c["name"]: c for c in http.get("/api/sources").json()["not_polled"]}
        html = http.get("/sources").text
    assert set(unpolled) == {"healthy", "gone", "keyed"}
    assert unpolled["keyed"]["url"] == f"{healthy.atom_url}?api_key=***"
    assert "Checked, not polled yet" in html and 'id="checked-gone"' in html

    # once a daemon names them, each source's row carries its latest check
    configured = [
        Source(name=name, kind="feed", url=url, every_seconds=600)
        for name, url in (("healthy", healthy.feed_url), ("gone", gone.feed_url), ("keyed", keyed))
    ]
    sync_sources(engine, configured, claim_seconds=600)
    with ServedUi(engine) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        body = http.get("/api/sources").json()
        html = http.get("/sources").text
    assert body["not_polled"] == []
    rows = _by_name(body["sources"])
    checks = {name: row["check"] for name, row in rows.items()}
    assert {n: c["verdict"] for n, c in checks.items()} == {
        "healthy": "ok",
        "gone": "ok",
        "keyed": "ok",
    }
    assert checks["healthy"]["answer"] == "HTTP 200" and checks["healthy"]["items"] == 1
    assert "the sample page gave" in checks["healthy"]["reason"]
    assert datetime.fromisoformat(checks["gone"]["checked_at"]) > datetime.fromisoformat(
        checks["healthy"]["checked_at"]
    )
    assert datetime.fromisoformat(checks["healthy"]["checked_at"]) >= before
    assert rows["keyed"]["url"] == checks["keyed"]["url"] == f"{healthy.atom_url}?api_key=***"
    # the page: each source's verdict word, when it was checked, and the reason line
    row = re.search(r'<tr id="source-healthy".*?</tr>', html, re.S)
    assert row is not None
    assert 'class="verdict verdict-ok">ok</span>' in row.group(0)
    assert checks["healthy"]["reason"] in row.group(0)
    assert re.search(r'class="checked-at">\d{4}-\d\d-\d\d \d\d:\d\d<', row.group(0))
    assert SECRET not in html and SECRET not in json.dumps(body)
    assert SECRET not in done.stdout + done.stderr + again.stdout + again.stderr


def test_without_a_database_the_check_still_answers_and_says_why_nothing_was_stored(
    kw_without_database: Kurilwatch, tmp_path: Path
) -> None:
    with NewsSite(name="Healthy Wire") as healthy:
        healthy.add_story(story_by_key("nemuro-rally"))
        kw_without_database.write_config(
            {"sources": [{"name": "healthy", "url": healthy.feed_url}]}
        )
        unreachable = kw_without_database.run("sources", "check")
        as_json = kw_without_database.run("sources", "check", "--json")
        # no database configured at all, and no embedded one holding data
        env = {k: v for k, v in kw_without_database.env.items() if k != "KURILWATCH_DATABASE_URL"}
        unconfigured = Kurilwatch(config=kw_without_database.config, env=env)
        unconfigured.write_config(
            {
                "sources": [{"name": "healthy", "url": healthy.feed_url}],
                "data_dir": str(tmp_path / "data"),
            }
        )
        nothing = unconfigured.run("sources", "check")

    for done in (unreachable, as_json, nothing):
        assert done.returncode == 0, done.stderr
    lines = unreachable.stdout.splitlines()
    assert lines[1].startswith("healthy ") and lines[1].endswith(" ok")
    assert lines[-1].startswith("verdicts not stored: cannot connect to postgresql")
    assert "127.0.0.1" in lines[-1]
    assert [row["verdict"] for row in json.loads(as_json.stdout)] == ["ok"]  # stdout stays JSON
    assert "verdicts not stored: cannot connect to postgresql" in as_json.stderr
    assert nothing.stdout.splitlines()[-1] == (
        "verdicts not stored: no database configured (database_url, KURILWATCH_DATABASE_URL) "
        f"and no embedded database in {tmp_path / 'data'} yet"
    )
    assert not (tmp_path / "data" / "pgdata").exists()  # none was created for the check
