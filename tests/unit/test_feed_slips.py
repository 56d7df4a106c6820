"""Index documents with the slips real servers make, from our own files in tests/fixtures/feeds.

Each file reproduces one case met among other projects' test feeds (see issue 15): text
sitemaps, plain and gzipped; JSON Feeds whose `version` is `1.0` / `1.1`; an empty Atom feed
with whitespace before its XML declaration; UTF-16 without a byte-order mark; a sitemap whose
entries are all too old; a listing page whose charset only the Content-Type header names.
The files link to `http://news.example.test`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.feeds import FeedUnreadable, bomless_utf16, parse_feed
from crawler.index import SitemapUnreadable, parse_listing, parse_sitemap
from crawler.spiders import PollReport

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
ORIGIN = "http://news.example.test"
TEXT_SITEMAP_URLS = [
    f"{ORIGIN}/2026/12/01/kunashir-ferry-resumes-after-storm",
    f"{ORIGIN}/2026/12/02/iturup-airport-runway-upgrade",
    "https://news.example.test/2026/12/03/shikotan-school-reopens",
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", ["sitemap-urls.txt", "sitemap-urls.txt.gz"])
def test_text_sitemap_lists_its_urls_once_each_undated(name: str) -> None:
    since = datetime(2026, 12, 2, tzinfo=UTC)  # text sitemaps carry no dates: nothing left out
    page = parse_sitemap(fixture(name), f"{ORIGIN}/{name}", since=since)
    assert [e.url for e in page.entries] == TEXT_SITEMAP_URLS
    assert all(e.published_at is None and e.title is None for e in page.entries)
    assert page.sitemaps == () and page.too_old == 0


def test_text_sitemap_with_a_bom() -> None:
    page = parse_sitemap(b"\xef\xbb\xbf" + fixture("sitemap-urls.txt"), f"{ORIGIN}/s.txt")
    assert [e.url for e in page.entries] == TEXT_SITEMAP_URLS


@pytest.mark.parametrize(
    "body",
    [
        b"Not Found",  # an error page is no sitemap
        b"http://news.example.test/a\nsee http://news.example.test/b\n",  # prose between URLs
        b"http://news.example.test/a\n/relative/path\n",  # the format wants absolute URLs
        b"ftp://news.example.test/a\n",
        "http://news.example.test/\u00e9".encode("latin-1"),  # not UTF-8
    ],
)
def test_text_that_is_not_a_url_list_is_no_sitemap(body: bytes) -> None:
    with pytest.raises(SitemapUnreadable, match="not XML"):
        parse_sitemap(body, f"{ORIGIN}/sitemap.txt")


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_json_feed_with_a_bare_version(version: str) -> None:
    (entry,) = parse_feed(
        fixture(f"jsonfeed-version-{version}.json"),
        f"{ORIGIN}/feed.json",
        {"Content-Type": "application/feed+json"},
    )
    assert entry.url == f"{ORIGIN}/notes/{version.replace('.', '-')}/tide-tables-for-nemuro-strait"
    assert entry.title == "Tide tables for the Nemuro Strait"
    assert entry.published_at == datetime(2026, 12, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("https://jsonfeed.org/version/1", True),
        ("https://jsonfeed.org/version/1.1", True),
        ("1", True),
        (1.1, True),
        ("2.0", False),
        ("1.2", False),
        ("", False),
        (None, False),
        (True, False),
        (["1.0"], False),
    ],
)
def test_json_feed_versions(version: object, ok: bool) -> None:
    body = json.dumps({"version": version, "items": [{"id": "a", "url": f"{ORIGIN}/a"}]}).encode()
    if ok:
        assert [e.url for e in parse_feed(body, f"{ORIGIN}/feed.json")] == [f"{ORIGIN}/a"]
    else:
        with pytest.raises(FeedUnreadable, match="JSON Feed version"):
            parse_feed(body, f"{ORIGIN}/feed.json")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_empty_atom_feed_with_whitespace_before_the_declaration(bom: bytes) -> None:
    body = bom + fixture("atom-empty-space-before-declaration.xml")
    assert body[len(bom) : len(bom) + 1].isspace()
    assert parse_feed(body, f"{ORIGIN}/atom.xml", {"Content-Type": "application/atom+xml"}) == []


def test_whitespace_before_text_is_still_no_feed() -> None:
    with pytest.raises(FeedUnreadable):
        parse_feed(b"\n\n  just some words", f"{ORIGIN}/feed.xml")


@pytest.mark.parametrize("name", ["rss-utf16le-no-bom.xml", "rss-utf16be-no-bom.xml"])
@pytest.mark.parametrize(
    "content_type", [None, "text/xml", "application/rss+xml", "text/plain", "text/html"]
)
def test_utf16_feed_without_bom_or_charset(name: str, content_type: str | None) -> None:
    # Latin and Cyrillic only: every byte is below 0x80, so the file also "decodes" as the
    # US-ASCII RFC 3023 prescribes for text/xml without a charset, into NUL-strewn garbage
    headers = {"Content-Type": content_type} if content_type else {}
    first, second = parse_feed(fixture(name), f"{ORIGIN}/rss.xml", headers)
    assert first.title == "Паром на Кунашир вышел по расписанию"
    assert first.summary == "Рейс из Корсакова прибыл утром."
    assert first.url == f"{ORIGIN}/2026/12/04/kunashir-ferry-on-schedule"
    assert second.title == "School reopens on Shikotan"


@pytest.mark.parametrize(
    ("start", "codec"),
    [
        ("<?xml".encode("utf-16-le"), "utf-16le"),
        ("<?xml".encode("utf-16-be"), "utf-16be"),
        ("\ufeff<?xml".encode("utf-16-le"), None),  # a BOM speaks for itself
        (b"<?xml", None),
        (b"", None),
    ],
)
def test_bomless_utf16(start: bytes, codec: str | None) -> None:
    assert bomless_utf16(start + b"\x00 \x00") == codec


def test_utf16_sitemap_without_bom_keeps_its_ampersands() -> None:
    page = parse_sitemap(fixture("sitemap-utf16le-no-bom.xml"), f"{ORIGIN}/sitemap.xml")
    assert [e.url for e in page.entries] == [f"{ORIGIN}/story?id=20261206&lang=ru"]


def test_sitemap_whose_entries_are_all_too_old_counts_them() -> None:
    body = fixture("sitemap-all-old.xml")
    page = parse_sitemap(body, f"{ORIGIN}/sitemap.xml", since=datetime(2026, 11, 1, tzinfo=UTC))
    assert page.entries == () and page.too_old == 3
    assert len(parse_sitemap(body, f"{ORIGIN}/sitemap.xml").entries) == 3


@pytest.mark.parametrize(
    ("report", "note"),
    [
        (PollReport(too_old=3), "all 3 entries older than alert_max_age"),
        (PollReport(too_old=3, entries=1), None),  # some kept: nothing to explain
        (PollReport(too_old=3, error="HTTP 500"), None),
        (PollReport(too_old=3, not_modified=True), None),
        (PollReport(), None),  # an empty index: nothing was left out
    ],
)
def test_poll_note(report: PollReport, note: str | None) -> None:
    assert report.note == note


@pytest.mark.parametrize(
    "content_type",
    ["text/html; charset=windows-1251", "text/html;charset=cp1251", "TEXT/HTML; Charset=CP1251"],
)
def test_listing_takes_the_header_charset_when_the_page_names_none(content_type: str) -> None:
    entries = parse_listing(
        fixture("listing-windows-1251-no-meta.html"), f"{ORIGIN}/", content_type=content_type
    )
    assert [e.title for e in entries] == [
        "Пограничники провели учения на Итурупе",
        "В Южно-Курильске открыли новый причал",
    ]


def test_listing_own_charset_wins_over_the_header() -> None:
    page = (
        '<html><head><meta charset="shift_jis"></head><body>'
        '<a href="/news/20261127/k10011111111000.html">択捉島で演習</a></body></html>'
    ).encode("shift_jis")
    (entry,) = parse_listing(
        page, "https://www3.example-news.test/news/", content_type="text/html; charset=utf-8"
    )
    assert entry.title == "択捉島で演習"


def test_listing_without_any_charset_is_read_as_utf8() -> None:
    page = "<html><body><a href='/2026/12/07/kurils-news-story'>Курилы</a></body></html>"
    (entry,) = parse_listing(page.encode(), f"{ORIGIN}/", content_type="text/html")
    assert entry.title == "Курилы"
