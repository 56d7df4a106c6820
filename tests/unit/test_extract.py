"""Feed and article parsing on small invented documents written inline."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawler.extract import FeedUnreadable, extract_article, parse_feed
from crawler.feeds import plain_text
from kurilwatch.errors import ExtractionError
from kurilwatch.model import FeedEntry

FEED_URL = "https://news.example.org/world/feed.xml"
PAGE_URL = "https://www.harbor-gazette.example/2024/05/ferry.html?utm_source=rss"

STORY = (
    "The ferry between the two harbors resumed service on Tuesday after a week of storms, "
    "the port authority said in a statement read to reporters at the quay. "
    "Fishermen who had waited for calmer water said the crossing was rough but safe, and "
    "the first boat carried mail, fuel and two crates of apples for the island school. "
    "Officials expect the timetable to return to normal by the end of the month."
)


def page(head: str = "", *, title: str = "Ferry service resumes after storms") -> bytes:
    """A small article page with the given extra head markup."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}</head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<main><article><h1>{title}</h1>
<p>{STORY[:170]}</p><p>{STORY[170:]}</p></article></main>
<footer>Contact us</footer></body></html>""".encode()


# --- articles ---------------------------------------------------------------------------


def test_article_text_title_and_url() -> None:
    article = extract_article(page(), PAGE_URL, source="gazette")
    assert "ferry between the two harbors" in article.text
    assert article.title == "Ferry service resumes after storms"
    assert article.url == "https://www.harbor-gazette.example/2024/05/ferry.html"
    assert article.source == "gazette"
    assert article.language == "en"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (  # relative rel=canonical, resolved against the page, tracking removed
            '<link rel="canonical" href="/2024/05/ferry.html?utm_medium=x&b=2&a=1">',
            "https://www.harbor-gazette.example/2024/05/ferry.html?a=1&b=2",
        ),
        (  # rel=canonical wins over og:url
            '<meta property="og:url" content="https://m.harbor-gazette.example/ferry">'
            '<link rel="Canonical" href="https://www.harbor-gazette.example/ferry">',
            "https://www.harbor-gazette.example/ferry",
        ),
        (  # og:url alone
            '<meta property="og:url" content="https://www.harbor-gazette.example/amp/ferry#top">',
            "https://www.harbor-gazette.example/amp/ferry",
        ),
        (  # a canonical that is not http(s) is skipped for og:url
            '<link rel="canonical" href="javascript:alert(1)">'
            '<meta property="og:url" content="//cdn.harbor-gazette.example/ferry">',
            "https://cdn.harbor-gazette.example/ferry",
        ),
        ('<link rel="canonical" href="ftp://harbor-gazette.example/ferry">', None),
        ("", None),
    ],
)
def test_canonical_url_declared_by_the_page(head: str, expected: str | None) -> None:
    article = extract_article(page(head), PAGE_URL, source="gazette")
    assert article.canonical_url == expected


def test_canonical_url_resolves_against_base_element() -> None:
    head = (
        '<base href="https://archive.harbor-gazette.example/x/"><link rel="canonical" href="ferry">'
    )
    article = extract_article(page(head), PAGE_URL, source="gazette")
    assert article.canonical_url == "https://archive.harbor-gazette.example/x/ferry"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<meta property="og:site_name" content="  The Harbor\n Gazette ">', "The Harbor Gazette"),
        (  # trafilatura's own site name (here from JSON-LD) when there is no og:site_name
            '<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@type": "NewsArticle", "headline": "Ferry service resumes after storms", '
            '"publisher": {"@type": "Organization", "name": "Gazette of the Harbor"}}</script>',
            "Gazette of the Harbor",
        ),
        ("", "harbor-gazette.example"),  # the host, without www.
    ],
)
def test_outlet_from_site_name_or_host(head: str, expected: str) -> None:
    article = extract_article(page(head), PAGE_URL, source="gazette")
    assert article.outlet == expected


PAGE_DATE = '<meta property="article:published_time" content="2024-05-14T08:00:00+00:00">'


def test_feed_date_is_preferred_over_page_date() -> None:
    feed_date = datetime(2024, 5, 15, 6, 30, tzinfo=UTC)
    entry = FeedEntry(url=PAGE_URL, guid="g-1", title="Ferry back", published_at=feed_date)
    article = extract_article(page(PAGE_DATE), PAGE_URL, source="gazette", entry=entry)
    assert article.published_at == feed_date
    assert article.guid == "g-1"
    # the page's own headline still wins over the feed's shorter one (read without htmldate)
    assert article.title == "Ferry service resumes after storms"
    assert article.language == "en"  # <html lang>


def test_page_date_when_feed_has_none() -> None:
    entry = FeedEntry(url=PAGE_URL, title="Ferry back")
    article = extract_article(page(PAGE_DATE), PAGE_URL, source="gazette", entry=entry)
    assert article.published_at == datetime(2024, 5, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    "body", [b"", b"\x00\x01\x02", b"<html><body><p>Too short.</p></body></html>"]
)
def test_page_without_article_text_raises(body: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract_article(body, PAGE_URL, source="gazette")


# --- feeds ------------------------------------------------------------------------------

RSS_20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>World</title><link>https://news.example.org/</link>
<language>en-GB</language>
<item><title>Ferry resumes</title><link>/world/ferry?utm_campaign=rss</link>
<guid isPermaLink="false">ferry-1</guid><description>Boats &lt;b&gt;sail&lt;/b&gt; again.</description>
<pubDate>Wed, 15 May 2024 06:30:00 +0900</pubDate></item>
<item><title>No link here</title><description>dropped</description></item>
</channel></rss>"""


def test_rss_20_relative_link_resolved_against_feed_url() -> None:
    [entry] = parse_feed(RSS_20, FEED_URL, {"Content-Type": "application/rss+xml"})
    assert entry.url == "https://news.example.org/world/ferry"
    assert entry.guid == "ferry-1"
    assert entry.title == "Ferry resumes"
    assert entry.summary == "Boats sail again."
    assert entry.published_at == datetime(2024, 5, 14, 21, 30, tzinfo=UTC)
    assert entry.language == "en"


RSS_10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.example.org/"><title>Islands</title>
<link>https://news.example.org/</link><description>d</description>
<items><rdf:Seq><rdf:li rdf:resource="https://news.example.org/a"/></rdf:Seq></items></channel>
<item rdf:about="https://news.example.org/a"><title>Lighthouse repainted</title>
<link>https://news.example.org/a</link><description>Red and white again.</description>
<dc:date>2024-03-01T09:00:00Z</dc:date><dc:language>ru</dc:language></item>
</rdf:RDF>"""

ATOM_03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:lang="ja">
<title>Harbor notes</title><link rel="alternate" type="text/html" href="https://news.example.org/"/>
<modified>2024-02-02T10:00:00Z</modified>
<entry><title>Snow on the pier</title>
<link rel="alternate" type="text/html" href="https://news.example.org/snow"/>
<id>tag:news.example.org,2024:snow</id><issued>2024-02-02T10:00:00Z</issued>
<modified>2024-02-02T11:00:00Z</modified><summary>Shovels out.</summary></entry>
</feed>"""

ATOM_10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example.org/atom/">
<title>Harbor</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title type="html">&lt;em&gt;Buoy&lt;/em&gt; replaced</title><link href="buoy"/>
<id>urn:uuid:1</id><updated>2024-01-01T00:00:00Z</updated>
<summary type="html">&lt;p&gt;New &lt;a href="javascript:alert(1)"&gt;buoy&lt;/a&gt;&lt;/p&gt;</summary></entry>
<entry><title>Only a self link</title><link rel="self" href="https://news.example.org/e/2"/>
<id>urn:uuid:2</id><updated>2024-01-01T00:00:00Z</updated></entry>
</feed>"""


def test_rss_10() -> None:
    [entry] = parse_feed(RSS_10, FEED_URL)
    assert entry.url == "https://news.example.org/a"
    assert entry.title == "Lighthouse repainted"
    assert entry.published_at == datetime(2024, 3, 1, 9, tzinfo=UTC)


def test_atom_03() -> None:
    [entry] = parse_feed(ATOM_03, FEED_URL)
    assert entry.url == "https://news.example.org/snow"
    assert entry.guid == "tag:news.example.org,2024:snow"
    assert entry.summary == "Shovels out."
    assert entry.published_at == datetime(2024, 2, 2, 10, tzinfo=UTC)
    assert entry.language == "ja"


def test_atom_10_xml_base_and_html_title() -> None:
    [entry] = parse_feed(ATOM_10, FEED_URL)  # the rel=self-only entry has no article link
    assert entry.url == "https://news.example.org/atom/buoy"
    assert entry.title == "Buoy replaced"
    assert entry.summary == "New buoy"


HOSTILE_RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>t</title><link>https://news.example.org/</link>
<item><title>&lt;script&gt;alert('x')&lt;/script&gt;Storm &amp;lt;b&amp;gt;warning&amp;lt;/b&amp;gt;</title>
<link>https://news.example.org/storm</link>
<description><![CDATA[<p onclick="evil()">Stay <script>steal()</script>inside</p>
<a href="javascript:alert(1)">more</a> see javascript:void(0)]]></description></item>
<item><title>Click me</title><link>javascript:alert(document.cookie)</link></item>
<item><title>Data</title><link>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</link></item>
</channel></rss>"""


def test_script_in_titles_and_javascript_links() -> None:
    [entry] = parse_feed(HOSTILE_RSS, FEED_URL)
    assert entry.url == "https://news.example.org/storm"
    assert entry.title == "Storm warning"
    assert entry.summary is not None
    for text in (entry.title, entry.summary):
        assert "<" not in text
        assert "javascript:" not in text.lower()
    assert "steal" not in entry.summary
    assert "Stay inside" in entry.summary


JSON_FEED_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Harbor JSON",
    "language": "en-US",
    "items": [
        {
            "id": "j-1",
            "url": "/world/tide?utm_source=json",
            "title": "Tide tables <b>updated</b>",
            "content_text": "Low water at noon.",
            "date_published": "2024-06-01T12:00:00+09:00",
            "language": "ja",
        },
        {
            "id": 2,
            "external_url": "https://elsewhere.example/story",
            "summary": "A linked story.",
            "content_html": "<p>ignored</p>",
            "date_modified": "2024-06-02T00:00:00Z",
        },
        {"id": "no-link", "title": "Dropped"},
        {"id": "js", "url": "javascript:alert(1)", "title": "Dropped too"},
        "not an object",
    ],
}


def test_json_feed_11() -> None:
    body = json.dumps(JSON_FEED_11).encode()
    first, second = parse_feed(body, FEED_URL, {"Content-Type": "application/feed+json"})
    assert first == FeedEntry(
        url="https://news.example.org/world/tide",
        guid="j-1",
        title="Tide tables updated",
        summary="Low water at noon.",
        published_at=datetime(2024, 6, 1, 3, tzinfo=UTC),
        language="ja",
    )
    assert second.url == "https://elsewhere.example/story"
    assert second.guid == "2"
    assert second.summary == "A linked story."
    assert second.published_at == datetime(2024, 6, 2, tzinfo=UTC)
    assert second.language == "en"


def test_json_feed_10_content_html_without_content_type() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "items": [
            {
                "id": "1",
                "url": "https://news.example.org/gulls",
                "content_html": "<p>Gulls <script>alert(1)</script>return.</p>",
            }
        ],
    }
    [entry] = parse_feed(b"\xef\xbb\xbf" + json.dumps(doc).encode(), FEED_URL)
    assert entry.summary == "Gulls return."
    assert entry.title is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        b"just some words",
        b'{"name": "not a feed", "items": []}',
        b'{"version": "https://jsonfeed.org/version/1", "items": "nope"}',
        b'{"version": "https://jsonfeed.org/version/1", "items": [',
        b"[" * 50_000,
        b'{"a":' * 50_000,
        b"<?xml version='1.0'?><products><product><name>Chair</name></product></products>",
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>cut off",
        b"\xff\xfe\x00\x00garbage\x00",
    ],
)
def test_non_feed_raises_feed_unreadable(body: bytes) -> None:
    with pytest.raises(FeedUnreadable) as raised:
        parse_feed(body, FEED_URL)
    assert isinstance(raised.value, ExtractionError)
    assert 0 < len(str(raised.value)) <= 300


def test_empty_but_valid_feed_has_no_entries() -> None:
    body = b"<rss version='2.0'><channel><title>Quiet</title><link>https://e.example/</link></channel></rss>"
    assert parse_feed(body, FEED_URL, {"Content-Type": "application/rss+xml"}) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("  plain   words\n", "plain words"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("<p>one</p><p>two</p>", "one two"),
        ("<script>alert(1)</script>", None),
        ("&lt;script&gt;alert(1)&lt;/script&gt;after", "after"),
        ("a < b and c > d", "a < b and c > d"),
        ("x<y", "x< y"),
        ("<style>p{}</style>styled", "styled"),
        ("see javascript:alert(1)", "see javascript alert(1)"),
        ("JavaScript : void(0)", "JavaScript void(0)"),
        ("bell\x07here", "bell here"),
        (42, None),
    ],
)
def test_plain_text(raw: object, expected: str | None) -> None:
    assert plain_text(raw) == expected
