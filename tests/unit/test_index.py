"""Sitemaps and listing pages into entries: `crawler.index`, over invented documents.

The trafilatura corpus test reads `../shared/corpora/trafilatura-eval/resources/` where it lies
and skips when the folder is absent.
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.extract import FeedUnreadable
from crawler.index import (
    ListingSelectorError,
    SitemapPage,
    SitemapUnreadable,
    check_selector,
    parse_listing,
    parse_sitemap,
)
from kurilwatch.errors import ExtractionError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpora/trafilatura-eval/resources"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
SITEMAP_URL = "https://www.example-news.test/sitemap.xml"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def urlset(*urls: str, extra_ns: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS} {extra_ns}>{"".join(urls)}</urlset>'
    ).encode()


def urls(page: SitemapPage) -> list[str]:
    return [entry.url for entry in page.entries]


# --- sitemaps -------------------------------------------------------------------------------


def test_urlset_with_lastmod() -> None:
    body = urlset(
        "<url><loc>https://www.example-news.test/2026/11/27/kuril-drill</loc>"
        "<lastmod>2026-11-27T09:30:00+09:00</lastmod><changefreq>daily</changefreq></url>",
        "<url><loc> https://www.example-news.test/world/habomai-fishing-talks?utm_source=x </loc>"
        "<lastmod>2026-11-26</lastmod></url>",
        "<url><loc>https://www.example-news.test/undated-page-here</loc></url>",
        "<url><lastmod>2026-11-26</lastmod></url>",  # no loc: skipped
    )
    page = parse_sitemap(body, SITEMAP_URL)
    assert page.sitemaps == ()
    assert [(e.url, e.published_at, e.title) for e in page.entries] == [
        ("https://www.example-news.test/2026/11/27/kuril-drill", utc(2026, 11, 27, 0, 30), None),
        ("https://www.example-news.test/world/habomai-fishing-talks", utc(2026, 11, 26), None),
        ("https://www.example-news.test/undated-page-here", None, None),
    ]


def test_since_drops_older_entries_keeps_undated_and_same_day() -> None:
    body = urlset(
        "<url><loc>https://example-news.test/old-story-one</loc><lastmod>2026-11-20T10:00Z</lastmod></url>",
        "<url><loc>https://example-news.test/new-story-two</loc><lastmod>2026-11-27T10:00Z</lastmod></url>",
        "<url><loc>https://example-news.test/same-day-story</loc><lastmod>2026-11-27</lastmod></url>",
        "<url><loc>https://example-news.test/undated-story-four</loc></url>",
    )
    page = parse_sitemap(body, SITEMAP_URL, since=datetime(2026, 11, 27, 8, 0))  # naive = UTC
    assert urls(page) == [
        "https://example-news.test/new-story-two",
        "https://example-news.test/same-day-story",
        "https://example-news.test/undated-story-four",
    ]


def test_sitemap_index_children_and_since() -> None:
    body = (
        f'<?xml version="1.0"?><sitemapindex {NS}>'
        "<sitemap><loc>https://example-news.test/sitemaps/2026-11.xml.gz</loc>"
        "<lastmod>2026-11-27T06:00:00Z</lastmod></sitemap>"
        "<sitemap><loc><![CDATA[https://example-news.test/sitemaps/2026-10.xml]]></loc>"
        "<lastmod>2026-10-31</lastmod></sitemap>"
        "<sitemap><loc>/sitemaps/news.xml</loc></sitemap>"
        "<sitemap><loc>https://example-news.test/sitemaps/2026-11.xml.gz</loc></sitemap>"
        "</sitemapindex>"
    ).encode()
    assert parse_sitemap(body, SITEMAP_URL) == SitemapPage(
        entries=(),
        sitemaps=(
            "https://example-news.test/sitemaps/2026-11.xml.gz",
            "https://example-news.test/sitemaps/2026-10.xml",
            "https://www.example-news.test/sitemaps/news.xml",
        ),
    )
    page = parse_sitemap(body, SITEMAP_URL, since=utc(2026, 11, 1))
    assert page.sitemaps == (
        "https://example-news.test/sitemaps/2026-11.xml.gz",
        "https://www.example-news.test/sitemaps/news.xml",
    )


def test_google_news_sitemap_fields() -> None:
    body = urlset(
        "<url><loc>https://example-news.test/politics/kunashir-rally-2026</loc>"
        "<lastmod>2026-11-20</lastmod>"
        "<news:news><news:publication><news:name>Example News</news:name>"
        "<news:language>ja</news:language></news:publication>"
        "<news:publication_date>2026-11-27T18:05:00+09:00</news:publication_date>"
        "<news:title>  Rally on\n Kunashir &amp; Iturup  </news:title></news:news></url>",
        "<url><loc>https://example-news.test/politics/exercise-near-etorofu</loc>"
        "<news:news><news:publication><news:language>zh-cn</news:language></news:publication>"
        "<news:title>Exercise</news:title></news:news>"
        "<image:image><image:loc>https://cdn.example-news.test/p.jpg</image:loc>"
        "<image:title>Photo title</image:title></image:image></url>",
        extra_ns=NEWS_NS + ' xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"',
    )
    first, second = parse_sitemap(body, SITEMAP_URL).entries
    assert first.title == "Rally on Kunashir & Iturup"
    assert first.published_at == utc(2026, 11, 27, 9, 5)  # news date wins over lastmod
    assert first.language == "ja"
    assert (second.title, second.language, second.published_at) == ("Exercise", "zh-cn", None)


def test_hreflang_alternates_ignored_and_relative_and_non_http_locs() -> None:
    body = urlset(
        "<url><loc>/en/kuril-report-story</loc>"
        '<xhtml:link rel="alternate" hreflang="ru" href="https://example-news.test/ru/kuril"/>'
        "</url>",
        "<url><loc>ftp://example-news.test/file-of-things</loc></url>",
        "<url><loc>mailto:desk@example-news.test</loc></url>",
        "<url><loc>javascript:alert(1)</loc></url>",
        "<url><loc>https://example-news.test/a?x=1&y=2</loc></url>",  # bare & recovered
        extra_ns='xmlns:xhtml="http://www.w3.org/1999/xhtml"',
    )
    assert urls(parse_sitemap(body, SITEMAP_URL)) == [
        "https://www.example-news.test/en/kuril-report-story",
        "https://example-news.test/a?x=1&y=2",
    ]


def test_gzip_body() -> None:
    plain = urlset("<url><loc>https://example-news.test/gzipped-story-here</loc></url>")
    page = parse_sitemap(gzip.compress(plain), "https://example-news.test/sitemap.xml.gz")
    assert urls(page) == ["https://example-news.test/gzipped-story-here"]
    # a .gz name with a body the HTTP layer already inflated is read as plain XML
    assert parse_sitemap(plain, "https://example-news.test/sitemap.xml.gz") == page


def test_gzip_over_the_size_cap() -> None:
    bomb = gzip.compress(
        urlset("<url><loc>https://example-news.test/x</loc></url>") + b" " * (11 << 20)
    )
    assert len(bomb) < 100_000
    with pytest.raises(SitemapUnreadable, match="inflates past"):
        parse_sitemap(bomb, SITEMAP_URL)  # default cap: 10 MiB
    small = gzip.compress(urlset(*["<url><loc>https://example-news.test/a-b-c</loc></url>"] * 200))
    with pytest.raises(SitemapUnreadable, match="inflates past 1000 bytes"):
        parse_sitemap(small, SITEMAP_URL, max_size=1000)


def test_corrupt_gzip() -> None:
    with pytest.raises(SitemapUnreadable, match="corrupt gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage-not-deflate", SITEMAP_URL)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n"
    + urlset(
        "<url><loc>https://example-news.test/&lol9;</loc></url>",
        "<url><loc>https://example-news.test/plain-story-kept</loc>"
        "<news:news><news:title>&lol9;</news:title></news:news></url>",
        extra_ns=NEWS_NS,
    ).split(b"\n", 1)[1]
)

XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n'
    b'<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    + urlset(
        "<url><loc>https://example-news.test/&xxe;</loc></url>",
        "<url><loc>https://example-news.test/plain-story-kept</loc>"
        "<news:news><news:title>&xxe;</news:title></news:news></url>",
        extra_ns=NEWS_NS,
    ).split(b"\n", 1)[1]
)


PARAMETER_XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n'
    b'<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;\n]>\n'
    + urlset("<url><loc>https://example-news.test/plain-story-kept</loc></url>").split(b"\n", 1)[1]
)


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, XXE, PARAMETER_XXE], ids=["billion-laughs", "xxe", "parameter-xxe"]
)
def test_entity_declarations_are_refused_unexpanded(body: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(SitemapUnreadable) as caught:
        parse_sitemap(body, SITEMAP_URL)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "lollol" not in message and "root:" not in message and len(message) <= 200
    if body is not PARAMETER_XXE:  # libxml2 gives up on that one before the root: "not XML"
        assert "declares DTD entities" in message


def test_external_dtd_is_not_fetched_and_undeclared_entities_drop_their_element() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE urlset SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
        + urlset(
            "<url><loc>https://example-news.test/a&nbsp;b</loc></url>",
            "<url><loc>https://example-news.test/plain-story-kept</loc>"
            "<lastmod>2026&nbsp;</lastmod></url>",
        ).split(b"\n", 1)[1]
    )
    page = parse_sitemap(body, SITEMAP_URL)
    assert [(e.url, e.published_at) for e in page.entries] == [
        ("https://example-news.test/plain-story-kept", None)
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html><body><p>Not found</p></body></html>", "root element <html>"),
        (b"<!doctype html><html><body><p>Not found<br></body></html>", "not XML"),
        (b'<rss version="2.0"><channel><title>x</title></channel></rss>', "root element <rss>"),
        (b"", "not XML"),
        (b"   \n ", "not XML"),
        (b"\x00\x01\x02binary", "not XML"),
    ],
)
def test_not_a_sitemap(body: bytes, reason: str) -> None:
    with pytest.raises(SitemapUnreadable, match=reason) as caught:
        parse_sitemap(body, SITEMAP_URL)
    assert isinstance(caught.value, FeedUnreadable)
    assert isinstance(caught.value, ExtractionError)


def test_empty_urlset_is_not_an_error() -> None:
    assert parse_sitemap(urlset(), SITEMAP_URL) == SitemapPage()


def test_trafilatura_corpus_sitemaps() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus folder absent: {CORPUS}")
    files = sorted(CORPUS.glob("sitemap*.xml")) + sorted(CORPUS.glob("sitemap.xml.gz"))
    assert files
    for path in files:
        page = parse_sitemap(path.read_bytes(), "https://www.example.com/" + path.name)
        assert page.entries or page.sitemaps, path.name
        for entry in page.entries:
            assert entry.url.startswith(("http://", "https://")), path.name
        if path.name.startswith("sitemap.xml"):  # a urlset, plain and gzipped alike
            assert len(page.entries) > 10
            assert all(entry.published_at is not None for entry in page.entries)
        if path.name == "sitemap-hreflang.xml":  # alternates are not entries
            assert len(page.entries) == 3


# --- listings --------------------------------------------------------------------------------

LISTING_URL = "https://www.example-news.test/section/politics"

LISTING = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Politics</title></head><body>
<header><a href="/2026/11/01/site-banner-promo-story">Promo</a><a href="/login">Log in</a></header>
<nav><a href="/2026/11/02/nav-featured-story-link">Featured</a><a href="/politics">Politics</a></nav>
<div role="navigation"><a href="/2026/11/03/role-nav-story-link">Nav</a></div>
<main>
  <article><header><h2><a href="/2026/11/27/kuril-protest-in-yuzhno?utm_source=home">
    Protest in
    <b>Yuzhno-Kurilsk</b></a></h2></header>
    <a href="/2026/11/27/kuril-protest-in-yuzhno"><img src="/img/p.jpg" alt=""></a>
    <footer><a href="/tag/kuril-islands-dispute">Kurils</a>
    <a href="/author/ivan-petrov-ivanov">Ivan Petrov</a></footer></article>
  <article><h2><a href="https://example-news.test/news/1234567">Drills near Iturup</a></h2></article>
  <article><h2><a href="https://news.example-news.test/world/habomai-fishing-talks-resume">
    Habomai talks</a></h2></article>
  <ul>
    <li><a href="/2026-11-26/shikotan-ferry">Ferry</a></li>
    <li><a href="/news/20261125/k10014567891000.html">NHK-style</a></li>
    <li><a href="https://other-site.test/2026/11/27/kuril-protest-elsewhere">Elsewhere</a></li>
    <li><a href="/section/politics?page=2">Next</a><a href="/news/page/2">2</a></li>
    <li><a href="/category/world-news-today">World</a><a href="/topics/kuril-islands">Topic</a></li>
    <li><a href="/search?q=kuril">Search</a><a href="/subscribe-now">Subscribe</a><a href="/login?next=/2026/11/27/x">Log in</a></li>
    <li><a href="/img/kuril-protest-crowd-photo.jpg">Photo</a><a href="/docs/kuril-report-2026.pdf">PDF</a></li>
    <li><a href="/2026/11/27/">Today</a><a href="/2026/11/">This month</a><a href="/politics">Politics</a></li>
    <li><a href="#comments">Comments</a><a href="">Empty</a><a href="mailto:desk@example-news.test">Mail</a></li>
    <li><a href="javascript:void(0)">JS</a><a href="/section/politics">Self</a></li>
    <li><a href="/privacy-policy">Privacy</a><a href="/terms-of-service">Terms</a><a href="/about-us">About</a></li>
  </ul>
</main>
<footer><a href="/2026/10/01/footer-archive-story">Archive</a><a href="/contact">Contact</a></footer>
</body></html>"""


def test_listing_heuristics() -> None:
    entries = parse_listing(LISTING, LISTING_URL)
    assert [(e.url, e.title, e.published_at) for e in entries] == [
        (
            "https://www.example-news.test/2026/11/27/kuril-protest-in-yuzhno",
            "Protest in Yuzhno-Kurilsk",
            utc(2026, 11, 27),
        ),
        ("https://example-news.test/news/1234567", "Drills near Iturup", None),
        (
            "https://news.example-news.test/world/habomai-fishing-talks-resume",
            "Habomai talks",
            None,
        ),
        ("https://www.example-news.test/2026-11-26/shikotan-ferry", "Ferry", utc(2026, 11, 26)),
        (
            "https://www.example-news.test/news/20261125/k10014567891000.html",
            "NHK-style",
            utc(2026, 11, 25),
        ),
    ]


def test_listing_with_selector() -> None:
    entries = parse_listing(LISTING, LISTING_URL, links="article h2 a, li a[href*='elsewhere']")
    assert [(e.url, e.title) for e in entries] == [
        (
            "https://www.example-news.test/2026/11/27/kuril-protest-in-yuzhno",
            "Protest in Yuzhno-Kurilsk",
        ),
        ("https://example-news.test/news/1234567", "Drills near Iturup"),
        ("https://news.example-news.test/world/habomai-fishing-talks-resume", "Habomai talks"),
        ("https://other-site.test/2026/11/27/kuril-protest-elsewhere", "Elsewhere"),
    ]


def test_selector_on_containers_uses_their_links() -> None:
    page = b"""<html><body><base href="https://cdn.example-news.test/m/">
    <div class="card"><a href="story-one"><img src="a.jpg"></a>
      <h3><a href="story-one">  First\n story </a></h3></div>
    <div class="card"><h3>No link here</h3></div>
    <div class="card"><a href="../story-two" title="Second story"></a>
      <a href="ftp://example-news.test/x">ftp</a></div>
    </body></html>"""
    entries = parse_listing(page, "https://www.example-news.test/search?q=kuril", links="div.card")
    assert [(e.url, e.title) for e in entries] == [
        ("https://cdn.example-news.test/m/story-one", "First story"),
        ("https://cdn.example-news.test/story-two", "Second story"),
    ]


def test_listing_declared_encoding() -> None:
    page = (
        '<html><head><meta charset="shift_jis"></head><body>'
        '<a href="/news/20261127/k10011111111000.html">択捉島で演習</a></body></html>'
    ).encode("shift_jis")
    (entry,) = parse_listing(page, "https://www3.example-news.test/news/")
    assert entry.title == "択捉島で演習"


def test_listing_of_nothing() -> None:
    assert parse_listing(b"", LISTING_URL) == ()
    assert parse_listing(b"<html><body>plain text</body></html>", LISTING_URL, links="a") == ()


@pytest.mark.parametrize(
    "css", ["h3.headline a", "a.story", "div > ul li:nth-child(2) a", "a[href^='/20']"]
)
def test_check_selector_accepts(css: str) -> None:
    check_selector(css)


@pytest.mark.parametrize(
    ("css", "reason"),
    [("", "Expected selector"), ("a[", "Expected"), ("h3..x", "Expected"), ("a::text", "select elements"),
     ("a::attr(href)", "select elements"), ("a:nth-child(x y)", "nth-child")],
)  # fmt: skip
def test_bad_selector(css: str, reason: str) -> None:
    with pytest.raises(ListingSelectorError, match=reason) as caught:
        check_selector(css)
    assert caught.value.selector == css and css in str(caught.value)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(ListingSelectorError):
        parse_listing(LISTING, LISTING_URL, links=css)


PRESS_LISTING = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Press releases</title></head><body><main>
<ul class="releases">
  <li><a href="/js/pdf/2026/p20260312_01.pdf">Russian Navy ships near Kunashiri</a>
      <a href="/js/img/p20260312_01.jpg">map</a></li>
  <li><a href="/js/pdf/2026/p20260311_01.pdf">Russian Navy ships in the Soya Strait</a></li>
  <li><a href="/js/pdf/release-0042.pdf">Undated release</a></li>
</ul>
<p><a href="/js/pdf/recruiting-brochure-spring.pdf">Recruiting brochure</a>
<a href="/js/pdf/2026/annual-report.pdf">Annual report</a></p>
</main></body></html>"""
PRESS_URL = "https://www.example-mod.test/js/press/"


def test_a_listing_without_selector_keeps_only_dated_pdfs() -> None:
    entries = parse_listing(PRESS_LISTING, PRESS_URL)
    assert [(e.url, e.title, e.published_at) for e in entries] == [
        (
            "https://www.example-mod.test/js/pdf/2026/p20260312_01.pdf",
            "Russian Navy ships near Kunashiri",
            utc(2026, 3, 12),
        ),
        (
            "https://www.example-mod.test/js/pdf/2026/p20260311_01.pdf",
            "Russian Navy ships in the Soya Strait",
            utc(2026, 3, 11),
        ),
    ]


def test_a_selector_keeps_the_pdfs_it_picks_and_drops_other_media() -> None:
    entries = parse_listing(PRESS_LISTING, PRESS_URL, links="ul.releases li")
    assert [e.url.rsplit("/", 1)[1] for e in entries] == [
        "p20260312_01.pdf",
        "p20260311_01.pdf",
        "release-0042.pdf",  # undated, but picked: the user said these are the articles
    ]
