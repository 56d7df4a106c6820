"""Secrets in source URLs (an API key in the query, user info) stay out of everything we write.

A source whose index never answers, and one that answers 500, each with a secret in its URL:
the daemon's log, `last_error`, `sources list` and `sources check` name them without it. A
source marked `redact_url: false` is shown whole.
"""

from __future__ import annotations

import json

from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite

SECRET = "SECRET"
PASSWORD = "hunter2-pass"


def test_a_secret_in_a_source_url_appears_nowhere(kw: Kurilwatch) -> None:
    with NewsSite() as site:
        site.hang("/rss.xml", 60)  # never answers within the download timeout
        site.fail("/broken.xml", 500)
        host = site.url.removeprefix("http://")
        kw.write_config(
            {
                "sources": [
                    {"name": "keyed", "url": f"{site.feed_url}?api_key={SECRET}&lang=en"},
                    {"name": "userinfo", "url": f"http://desk:{PASSWORD}@{host}/broken.xml"},
                    {
                        "name": "public",
                        "url": f"{site.url}/broken.xml?edition=VISIBLE",
                        "redact_url": False,
                    },
                ],
                "channels": [{"name": "terminal", "kind": "console"}],
                "crawl": {"download_timeout": "1s", "timeout": "20s"},
            }
        )
        once = kw.run("--log-level", "DEBUG", "run", "--once")
        assert once.returncode == 0, once.stderr
        listed = kw.run("sources", "list", "--json")
        table = kw.run("sources", "list")
        check = kw.run("--log-level", "DEBUG", "sources", "check", "--json")
        check_table = kw.run("sources", "check")
        assert site.hits("/rss.xml") >= 2  # asked (and retried) with the key in the query
        assert any(SECRET in r.path for r in site.requests)  # the key went to the site

    for done in (listed, table, check, check_table):
        assert done.returncode == 0, done.stderr
    health = {row["name"]: row for row in json.loads(listed.stdout)}
    assert health["keyed"]["last_error"] == f"no answer from {host} in time"
    assert health["userinfo"]["last_error"] == "HTTP 500"
    assert health["keyed"]["url"] == f"{site.feed_url}?api_key=***&lang=***"
    assert health["userinfo"]["url"] == f"http://***@{host}/broken.xml"
    assert health["public"]["url"] == f"{site.url}/broken.xml?edition=VISIBLE"
    checked = {row["name"]: row for row in json.loads(check.stdout)}
    assert checked["keyed"]["url"] == health["keyed"]["url"]
    assert checked["keyed"]["verdict"] == "error"
    assert checked["public"]["url"] == health["public"]["url"]
    everything = "".join(d.stdout + d.stderr for d in (once, listed, table, check, check_table))
    assert "api_key" in everything and "VISIBLE" in everything  # the output does name them
    assert SECRET not in everything
    assert PASSWORD not in everything
