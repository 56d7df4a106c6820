"""Real-world slips in index files, polled by the real command: each polled ok, none crashes.

A local site serves our own files from tests/fixtures/feeds (their `news.example.test` links
pointed at it); two more sources cannot be reached (a closed port, a name DNS cannot find).
One `kurilwatch run --once`: every slip is polled ok with the entries it lists, the all-old
sitemap says why it kept none (in the log and in `sources list`), the unreachable sources are
logged at warning in our own words, and nothing is logged at error.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite
from tests.support.ports import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
ORIGINS = ("http://news.example.test", "https://news.example.test")

# name: (fixture file, served Content-Type, source kind, entries the poll should list)
SLIPS = {
    "text-sitemap": ("sitemap-urls.txt", "text/plain", "sitemap", 3),
    "text-sitemap-gz": ("sitemap-urls.txt.gz", "application/gzip", "sitemap", 3),
    "jsonfeed-1-0": ("jsonfeed-version-1.0.json", "application/json", "feed", 1),
    "jsonfeed-1-1": ("jsonfeed-version-1.1.json", "application/feed+json", "feed", 1),
    "atom-empty": ("atom-empty-space-before-declaration.xml", "application/atom+xml", "feed", 0),
    "utf16le-rss": ("rss-utf16le-no-bom.xml", "text/xml", "feed", 2),
    "utf16be-rss": ("rss-utf16be-no-bom.xml", "text/xml", "feed", 2),
    "utf16le-sitemap": ("sitemap-utf16le-no-bom.xml", "text/xml", "sitemap", 1),
    "old-sitemap": ("sitemap-all-old.xml", "application/xml", "sitemap", 0),
    "cp1251-listing": (
        "listing-windows-1251-no-meta.html",
        "text/html; charset=windows-1251",
        "listing",
        2,
    ),
}


def served(name: str, origin: str) -> bytes:
    """A fixture file with its links pointed at `origin`, in the file's own encoding."""
    body = (FIXTURES / name).read_bytes()
    if name.endswith(".gz"):
        return gzip.compress(served_text(gzip.decompress(body), origin, "utf-8"), mtime=0)
    codec = "utf-16-le" if "utf16le" in name else "utf-16-be" if "utf16be" in name else "latin-1"
    return served_text(body, origin, codec)


def served_text(body: bytes, origin: str, codec: str) -> bytes:
    text = body.decode(codec)
    for old in ORIGINS:
        text = text.replace(old, origin)
    return text.encode(codec)


def test_real_world_slips_poll_ok_and_failures_are_warnings(kw: Kurilwatch) -> None:
    with NewsSite(name="Slips") as site:
        sources = []
        for name, (file, content_type, kind, _) in SLIPS.items():
            path = f"/slips/{file}"
            site.serve_raw(path, served(file, site.url), content_type)
            sources.append({"name": name, "kind": kind, "url": site.url + path})
        refused = f"127.0.0.1:{free_port()}"
        sources += [
            {"name": "refused", "url": f"http://{refused}/rss.xml"},
            {"name": "no-dns", "url": "http://no-such-host.invalid/rss.xml"},
        ]
        kw.write_config(
            {
                "sources": sources,
                "crawl": {"timeout": "20s", "download_timeout": "5s"},
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr[-3000:]
        listing = {
            e["url"]: e["title"] for e in kw.json("entries", "list", "--source", "cp1251-listing")
        }
        health = {s["name"]: s for s in kw.json("sources", "list")}
        table = kw.run("sources", "list").stdout

    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [x for x in lines if x["level"] in ("error", "critical")] == []
    polled = {x["source"]: x for x in lines if x["event"] == "source.polled"}
    for name, (_, _, _, count) in SLIPS.items():
        event = polled[name]
        assert (event["ok"], event["error"], event["entries"]) == (True, None, count), event
        assert event["level"] == "info"
        assert health[name]["last_error"] is None, health[name]

    note = "all 3 entries older than alert_max_age"
    assert polled["old-sitemap"]["note"] == note
    assert health["old-sitemap"]["last_note"] == note
    assert [x["note"] for n, x in polled.items() if n != "old-sitemap" and n in SLIPS] == [None] * (
        len(SLIPS) - 1
    )
    assert f"ok ({note})" in next(line for line in table.splitlines() if "old-sitemap" in line)

    assert sorted(listing.values()) == [
        "В Южно-Курильске открыли новый причал",
        "Пограничники провели учения на Итурупе",
    ]

    # robots.txt is asked first (RFC 9309: unreachable means fetch nothing), so that is where
    # the failure shows; it is said in our words, at warning, and Scrapy's own lines are not
    for name, words in (
        ("refused", f"robots.txt unreachable: connection refused by {refused}"),
        (
            "no-dns",
            "robots.txt unreachable: DNS lookup failed: no address for no-such-host.invalid",
        ),
    ):
        event = polled[name]
        assert (event["ok"], event["level"]) == (False, "warning"), event
        assert event["error"].startswith(words), event
        assert health[name]["last_error"] == event["error"]
    assert "Gave up retrying" not in done.stderr
