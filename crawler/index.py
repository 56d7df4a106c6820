"""Pure parsing of index documents: which article URLs a sitemap or a listing page names.

Takes bytes and the URL they came from, never a Scrapy response, and returns `FeedEntry` values
(RSS and Atom feeds are `crawler.extract.parse_feed`'s business). No network, no files.

Sitemaps (`parse_sitemap`): a `<urlset>` gives entries, a `<sitemapindex>` child sitemaps, and
a text sitemap (sitemaps.org: UTF-8, one absolute URL a line, nothing else) undated entries;
gzip bodies are recognised by their magic bytes and inflated up to a size cap. How many entries
were left out for being older than `since` is counted, so a poll can say why it kept none. The
XML parser is configured as Scrapy's `Sitemap` configures it (recovering, entities never
resolved, no network, no huge trees); we do not stand on that class because it flattens
`<news:news>` away. A document that declares DTD entities (billion laughs, XXE) is refused
outright: no sitemap needs them, and libxml2's recovery from them can truncate the document
mid-URL. A Google News block gives title, date and language; otherwise `<lastmod>` is the date;
hreflang alternates, images and videos are ignored. A `loc` that holds an unresolved entity
reference is dropped rather than guessed at.

Listings (`parse_listing`): the page's own charset (BOM, `<meta charset>`) wins, then the
Content-Type header's, then UTF-8. With a CSS selector, the links it picks, except media files
other than PDF (a thumbnail's link inside a picked element is not an article); without one,
the same-site links (same registrable domain) whose path looks like an article's: a date, a
slug of three words or more, or a numeric id of five digits or more; never navigation, tag,
author, paging, account, legal or feed pages, media files, or links inside page-level nav,
header and footer. A PDF link is taken without a selector only when its path holds a date
(`/press/2026/p20260312_01.pdf`): press-release lists file their PDFs by date, while the
undated PDFs of ordinary pages are forms, brochures and reports. A listing of undated release
PDFs needs a `links:` selector.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from urllib.parse import urljoin, urlsplit

import tldextract
from cssselect import SelectorError, parse
from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator
from scrapy.utils.gz import gunzip
from w3lib.encoding import html_body_declared_encoding, html_to_unicode
from w3lib.html import get_base_url

from crawler.canonical import canonical_url
from crawler.dates import as_utc, parse_date
from crawler.feeds import FeedUnreadable, bomless_utf16
from kurilwatch.model import FeedEntry

MAX_SITEMAP_SIZE = 10 * 1024 * 1024
"""Default cap, in bytes, on a gzip sitemap once inflated."""

NAV_WORDS = frozenset(
    {
        "tag", "tags", "topic", "topics", "category", "categories", "section", "sections",
        "author", "authors", "search", "page", "login", "logout", "signin", "signup",
        "register", "account", "subscribe", "subscription", "subscriptions", "newsletter",
        "newsletters", "about", "contact", "privacy", "terms", "cookies", "feed", "feeds",
        "rss", "atom", "sitemap", "help", "faq", "advertise", "careers", "jobs",
    }
)  # fmt: skip
"""Path segments (or first words of short final slugs) that mark a non-article page."""

MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp", ".tif",
        ".tiff", ".pdf", ".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".mp3", ".m4a",
        ".wav", ".ogg", ".zip", ".gz", ".rar", ".7z", ".doc", ".docx", ".xls", ".xlsx",
        ".ppt", ".pptx", ".css", ".js", ".json", ".xml", ".rss", ".atom", ".txt", ".csv",
        ".epub",
    }
)  # fmt: skip

_GZIP_MAGIC = b"\x1f\x8b"
_BARE_AMPERSAND = re.compile(rb"&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z_][\w.-]*);)")
_W3C_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?)?)?"
)
_URL_DATE = re.compile(
    r"(?<![0-9])((?:19|20)[0-9]{2})([/-]?)(0[1-9]|1[0-2])\2(0[1-9]|[12][0-9]|3[01])(?![0-9])"
)
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*")
_ARTICLE_ID = re.compile(r"[0-9]{5,}")
_LINK_XPATH = (
    "//a[@href][not(ancestor::nav)]"
    "[not(ancestor::*[@role='navigation' or @role='banner' or @role='contentinfo'])]"
    "[not(ancestor::header[not(ancestor::article or ancestor::aside or ancestor::main"
    " or ancestor::section)])]"
    "[not(ancestor::footer[not(ancestor::article or ancestor::aside or ancestor::main"
    " or ancestor::section)])]"
)
_TEXT_XPATH = ".//text()[not(ancestor::script or ancestor::style)]"
_DOMAINS = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)
"""Public-suffix lookups from the snapshot bundled with tldextract: never fetched."""


class SitemapUnreadable(FeedUnreadable):
    """The document is not a sitemap that can be read."""


class ListingSelectorError(ValueError):
    """A listing's CSS selector is not valid."""

    def __init__(self, selector: str, reason: str) -> None:
        super().__init__(f"invalid CSS selector {selector!r}: {reason}")
        self.selector = selector
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class SitemapPage:
    """What one sitemap document lists: article entries and child sitemap URLs."""

    entries: tuple[FeedEntry, ...] = ()
    sitemaps: tuple[str, ...] = ()
    too_old: int = 0
    """Entries and child sitemaps left out because they are dated before `since`."""


def parse_sitemap(
    body: bytes,
    url: str,
    *,
    since: datetime | None = None,
    max_size: int = MAX_SITEMAP_SIZE,
    tz: tzinfo = UTC,
) -> SitemapPage:
    """The entries and child sitemaps of a sitemap or sitemap index.

    Args:
        body: the document as fetched, gzip-compressed or not.
        url: where it came from; relative `loc`s are resolved against it.
        since: leave out entries and child sitemaps dated before this (undated ones stay).
            A date without a time counts as the whole day; a naive `since` is taken as UTC.
        max_size: the most bytes a gzip body may inflate to.
        tz: the zone of dates written without an offset (the source's `timezone:`).

    Raises:
        SitemapUnreadable: the body is corrupt gzip, inflates past `max_size`, is not XML,
            declares DTD entities, or its root is neither `<urlset>` nor `<sitemapindex>`
            (and it is not a text sitemap either).
    """
    if body[:2] == _GZIP_MAGIC:
        body = _gunzip(body, max_size)
    listed = _text_sitemap(body, url)
    if listed is not None:
        return listed
    root = _xml_root(body)
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapUnreadable(f"not a sitemap: root element <{kind}>"[:200])
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    entries: dict[str, FeedEntry] = {}
    sitemaps: dict[str, None] = {}
    too_old = 0
    for item in root:
        name = _localname(item)
        if name not in ("url", "sitemap"):
            continue
        fields = {_localname(child): child for child in item}
        loc = _absolute(_text(fields.get("loc")), url)
        if loc is None:
            continue
        news = {_localname(child): child for child in fields.get("news", ())}
        dated = _w3c_date(_text(news.get("publication_date")), tz) or _w3c_date(
            _text(fields.get("lastmod")), tz
        )
        if since is not None and dated is not None and dated[0] + dated[1] <= since:
            too_old += 1
            continue
        if name == "sitemap":
            sitemaps.setdefault(loc)
        elif loc not in entries:
            publication = {_localname(child): child for child in news.get("publication", ())}
            entries[loc] = FeedEntry(
                url=loc,
                title=_collapse(_text(news.get("title"))),
                published_at=dated[0] if dated else None,
                language=_language(_text(publication.get("language"))),
            )
    return SitemapPage(entries=tuple(entries.values()), sitemaps=tuple(sitemaps), too_old=too_old)


def _text_sitemap(body: bytes, url: str) -> SitemapPage | None:
    """The entries of a text sitemap, or None when `body` is not one (not UTF-8, empty, or
    a line that is not an absolute http(s) URL: an error page is no sitemap)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in text.splitlines()]
    entries: dict[str, FeedEntry] = {}
    for line in lines:
        if not line:
            continue
        if not line.lower().startswith(("http://", "https://")) or any(c.isspace() for c in line):
            return None
        loc = _absolute(line, url)
        if loc is None:
            return None
        entries.setdefault(loc, FeedEntry(url=loc))
    return SitemapPage(entries=tuple(entries.values())) if entries else None


def check_selector(css: str) -> None:
    """Check that `css` is a CSS selector a listing can use.

    Raises:
        ListingSelectorError: it does not parse, uses what parsel cannot translate, or picks
            text or attributes (`::text`, `::attr()`) instead of elements.
    """
    _css_xpath(css)


def parse_listing(
    body: bytes,
    url: str,
    *,
    links: str | None = None,
    content_type: str | None = None,
    tz: tzinfo = UTC,
) -> tuple[FeedEntry, ...]:
    """The article links of an HTML section or search-results page, in page order.

    Args:
        body: the page as fetched; its encoding comes from a BOM or `<meta charset>`, else
            from `content_type`'s charset, else UTF-8.
        url: where it came from; hrefs resolve against it (or its `<base href>`).
        links: a CSS selector for the article links, or for elements holding them (their
            `a[href]` are used). Without it, same-site links that look like articles are taken.
        content_type: the response's Content-Type header, if any.
        tz: the zone of the dates URLs hold (the source's `timezone:`).

    Returns:
        One entry per canonical http(s) URL, titled by its first non-empty link text, dated
        (midnight in `tz`) when the URL holds a date. The page's own URL is never among them.

    Raises:
        ListingSelectorError: `links` is not a usable CSS selector.
    """
    xpath = _css_xpath(links) if links is not None else None
    # The page's own declaration first: it travels with the bytes, where a server's default
    # charset is often set for the whole site.
    header = None if html_body_declared_encoding(body) else content_type
    _, text = html_to_unicode(header, body)
    page = Selector(text=text or "<html></html>", type="html", base_url=url)
    base = get_base_url(text, url) or url
    own = canonical_url(url)
    picked = xpath is not None
    if xpath is None:
        site = _site(url)
        anchors = page.xpath(_LINK_XPATH)
    else:
        site = None
        anchors = page.xpath(xpath).xpath("descendant-or-self::a[@href]")
    titles: dict[str, str | None] = {}
    for anchor in anchors:
        href = (anchor.attrib.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        link = _absolute(href, base)
        if link is None or link == own:
            continue
        if site is not None and (_site(link) != site or not _looks_like_article(link)):
            continue
        if picked and _extension(link) in MEDIA_EXTENSIONS and _extension(link) != ".pdf":
            continue
        title = _collapse(" ".join(anchor.xpath(_TEXT_XPATH).getall()))
        title = title or _collapse(anchor.attrib.get("title"))
        if titles.get(link) is None:
            titles[link] = title
    return tuple(
        FeedEntry(url=link, title=title, published_at=_url_date(urlsplit(link).path, tz))
        for link, title in titles.items()
    )


def _gunzip(body: bytes, max_size: int) -> bytes:
    try:
        return bytes(gunzip(body, max_size=max_size))
    except ValueError as exc:  # scrapy's decompression-size error subclasses ValueError
        raise SitemapUnreadable(f"gzip sitemap inflates past {max_size} bytes") from exc
    except (OSError, EOFError, struct.error, zlib.error) as exc:
        raise SitemapUnreadable(f"corrupt gzip: {type(exc).__name__}") from exc


def _xml_root(body: bytes) -> etree._Element:
    parser = etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(_escape_ampersands(body.lstrip()), parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapUnreadable(f"not XML: {exc}"[:200]) from exc
    if root is None:
        raise SitemapUnreadable("not XML: empty document")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise SitemapUnreadable("refused: the document declares DTD entities")
    return root


def _escape_ampersands(body: bytes) -> bytes:
    """`&` that starts no entity or character reference escaped, so `?a=1&b=2` survives."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or bomless_utf16(body):  # the bytes would garble
        return body
    return _BARE_AMPERSAND.sub(b"&amp;", body)


def _localname(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _text(element: etree._Element | None) -> str | None:
    """The text of an element, or None when it is absent or holds an unresolved entity."""
    if element is None or any(isinstance(child, etree._Entity) for child in element):
        return None
    return "".join(element.itertext()).strip() or None


def _absolute(href: str | None, base: str) -> str | None:
    """`href` made absolute against `base` and canonical, or None unless it is http(s)."""
    if not href:
        return None
    try:
        parts = urlsplit(urljoin(base, href))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
    except ValueError:  # e.g. an invalid IPv6 host or port
        return None
    return canonical_url(parts.geturl())


def _w3c_date(value: str | None, tz: tzinfo = UTC) -> tuple[datetime, timedelta] | None:
    """A sitemap date (W3C datetime, or RFC 822 as some sites write) and its precision; one
    without an offset is in `tz`."""
    if not value:
        return None
    match = _W3C_DATE.fullmatch(value)
    if match is None:
        stamp = parse_date(value, tz)
        return (stamp, timedelta(0)) if stamp is not None else None
    year, month, day, hour, minute, second, offset = match.groups()
    span = timedelta(0)
    if hour is None:
        span = timedelta(days=1 if day else 31 if month else 366)
    try:
        written = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
            int(second or 0),
        )  # fmt: skip
        if offset == "Z":
            written = written.replace(tzinfo=UTC)
        elif offset:
            sign = -1 if offset[0] == "-" else 1
            east = timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:]))
            written = written.replace(tzinfo=timezone(sign * east))
    except ValueError:  # 2026-02-30, an offset of a day or more
        return None
    stamp = as_utc(written, tz)
    return (stamp, span) if stamp is not None else None


def _url_date(path: str, tz: tzinfo = UTC) -> datetime | None:
    match = _URL_DATE.search(path)
    if match is None:
        return None
    try:
        return as_utc(datetime(int(match[1]), int(match[3]), int(match[4])), tz)
    except ValueError:  # 2026-02-30
        return None


def _language(value: str | None) -> str | None:
    code = (value or "").strip().lower()
    return code if _LANGUAGE.fullmatch(code) else None


def _collapse(value: str | None) -> str | None:
    return " ".join((value or "").split()) or None


def _css_xpath(css: str) -> str:
    try:
        selectors = parse(css)
        if any(selector.pseudo_element is not None for selector in selectors):
            raise ListingSelectorError(css, "select elements, not ::text or ::attr()")
        return str(HTMLTranslator().css_to_xpath(css))
    except SelectorError as exc:
        raise ListingSelectorError(css, str(exc) or type(exc).__name__) from exc


def _site(url: str) -> str:
    """The registrable domain of `url`'s host (`www3.nhk.or.jp` → `nhk.or.jp`).

    An IP address is its own site; a name under no known suffix (`news.example.test`,
    `localhost`) counts by its last two labels.
    """
    host = (urlsplit(url).hostname or "").rstrip(".")
    parts = _DOMAINS(host)
    if parts.ipv4 or parts.ipv6:
        return host
    return parts.top_domain_under_public_suffix or ".".join(host.split(".")[-2:])


def _extension(url: str) -> str:
    """The lower-cased extension of the last segment of `url`'s path ("" when none)."""
    return posixpath.splitext(urlsplit(url).path.lower().rstrip("/"))[1]


def _looks_like_article(url: str) -> bool:
    """Whether a same-site URL's path is an article's rather than navigation or a file."""
    path = urlsplit(url).path.lower()
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return False
    stem, extension = posixpath.splitext(segments[-1])
    if extension in MEDIA_EXTENSIONS and extension != ".pdf":
        return False
    if stem in ("index", "default") and len(segments) > 1:
        stem = segments[-2]
    if stem in NAV_WORDS or any(segment in NAV_WORDS for segment in segments[:-1]):
        return False
    date = _URL_DATE.search(path)
    if extension == ".pdf":
        return date is not None  # a dated release; undated PDFs are forms and brochures
    dated = date is not None and date.end() < len(path.rstrip("/"))  # not a day archive
    words = [word for word in re.split(r"[-_.+]+", stem) if word]
    if not dated and words and words[0] in NAV_WORDS and len(words) <= 3:
        return False  # about-us, privacy-policy, terms-of-service, page-2
    return dated or len(words) >= 3 or _ARTICLE_ID.search(stem) is not None
