"""Pure parsing: article bytes into an `Article` (and, re-exported, feed bytes into entries).

Takes bytes and a URL, never a Scrapy response, so the same code runs in tests, in a worker
thread or process, and in `rules test`. `extract_page` sends a PDF (by Content-Type or
signature) to `extract_pdf` (`crawler.pdf`, pypdf, capped) and anything else to
`extract_article`. HTML articles go through trafilatura (htmldate for the
date); feeds through `crawler.feeds`. Decides the article's title, text, language and date
(the feed's own date wins over the page's; the page's full metadata, with htmldate's date
search, is read only when the feed gives no date), the outlet that published it (og:site_name,
then trafilatura's site name, then the host) and the canonical URL the page declares
(`<link rel="canonical">`, then `og:url`). Touches nothing: no network, no files.

Trafilatura runs with its fallback extractors (not `fast`) and with tables, neither favoring
precision nor recall: on trafilatura's own evaluation pages that scored best (see
`bench/extraction_f1.py` and the numbers in `EXTRACTION_OPTIONS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from trafilatura.metadata import examine_meta, extract_title

from crawler.canonical import canonical_url
from crawler.dates import parse_date
from crawler.feeds import FeedUnreadable, parse_feed
from crawler.pages import guess_language
from crawler.pdf import is_pdf, read_pdf
from kurilwatch.errors import ExtractionError
from kurilwatch.model import Article, FeedEntry

__all__ = [
    "FeedUnreadable",
    "extract_article",
    "extract_page",
    "extract_pdf",
    "guess_language",
    "parse_feed",
]

MIN_TEXT_CHARS = 80
CONSENT_MAX_CHARS = 1500
"""A text this short that speaks mostly of cookies and consent is the wall, not the article."""
_CONSENT = re.compile(
    r"cookies?|consent|accept all|reject all|manage (?:preferences|options|choices)"
    r"|privacy (?:policy|settings)|our partners|согласи[ея]|куки|クッキー|同意"
)
_SCRIPT_SHELL = re.compile(rb"enable javascript|requires javascript|<noscript", re.IGNORECASE)
EXTRACTION_OPTIONS: dict[str, Any] = {
    # Measured on the 156 annotated pages of trafilatura-eval (bench/extraction_f1.py),
    # F1 of the text alone: fallbacks+tables 0.930; fallbacks without tables 0.923;
    # fast+tables 0.915; favor_precision 0.918; favor_recall 0.915.
    "fast": False,
    "include_tables": True,
    "favor_precision": False,
    "favor_recall": False,
    "include_comments": False,
}


def extract_page(
    body: bytes,
    url: str,
    *,
    source: str,
    content_type: str | None = None,
    entry: FeedEntry | None = None,
) -> Article:
    """The article in a fetched page: `extract_pdf` for a PDF, else `extract_article`.

    Raises:
        ExtractionError: the page (or PDF) holds no article text, or a PDF passes a cap.
    """
    if is_pdf(body, content_type):
        return extract_pdf(body, url, source=source, entry=entry)
    return extract_article(body, url, source=source, entry=entry)


def extract_pdf(body: bytes, url: str, *, source: str, entry: FeedEntry | None = None) -> Article:
    """The article in a PDF file: its text, title, date and language (`crawler.pdf` caps).

    The title is the document's metadata title, else its first line of text. The date is the
    document's creation date when it has one (set when the file is written, unlike a page's
    date, which htmldate guesses), else the feed entry's. The outlet is the host: a PDF names
    no site.

    Raises:
        ExtractionError: the file cannot be read, passes a cap, or holds too little text
            (a scan without a text layer).
    """
    pdf = read_pdf(body)
    if len(pdf.text) < MIN_TEXT_CHARS:
        raise ExtractionError(f"the PDF has no text layer ({len(pdf.text)} characters)")
    title = pdf.title or pdf.text[:80]
    return Article(
        url=canonical_url(url),
        source=source,
        title=title,
        text=pdf.text,
        language=guess_language(f"{title}\n{pdf.text}"),
        published_at=pdf.created or (entry.published_at if entry else None),
        guid=entry.guid if entry else None,
        outlet=_host(url),
    )


def extract_article(
    body: bytes, url: str, *, source: str, entry: FeedEntry | None = None
) -> Article:
    """The article in an HTML page: title, text, language, date, outlet, declared URL.

    Args:
        body: The page as fetched.
        url: Where it was fetched from (relative canonical links resolve against it).
        source: The name of the configured source that led to the page.
        entry: The feed entry that listed the page, if any; its date wins over the page's.

    Returns:
        The extracted article.

    Raises:
        ExtractionError: the page holds no article text.
    """
    # trafilatura's full metadata (title, date, site name, language: ~40% of the extraction
    # time, mostly htmldate's date search) is read only when the feed entry has no date; else
    # the page's title comes from its meta tags and <title>/<h1>, which cost next to nothing.
    needs_metadata = entry is None or entry.published_at is None
    try:
        tree = trafilatura.load_html(body)
        declared = _declared(tree, url) if tree is not None else _Declared()
        page_title = _page_title(tree) if tree is not None and not needs_metadata else None
        doc = (
            trafilatura.bare_extraction(
                tree, url=url, with_metadata=needs_metadata, **EXTRACTION_OPTIONS
            )
            if tree is not None
            else None
        )
    except Exception as exc:  # lxml and trafilatura raise many kinds on hostile input
        raise ExtractionError(f"extraction failed: {type(exc).__name__}") from exc
    data: dict[str, Any] = (
        doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    )
    text = (data.get("text") or "").strip()
    if len(text) < MIN_TEXT_CHARS:
        if _SCRIPT_SHELL.search(body[:200_000]):
            raise ExtractionError(
                f"the page is a JavaScript shell ({len(text)} characters without scripts)"
            )
        raise ExtractionError(f"no article text ({len(text)} characters)")
    if _consent_wall(text):
        raise ExtractionError("the page is a cookie-consent wall")
    title = (
        (data.get("title") if needs_metadata else page_title)
        or (entry.title if entry else None)
        or ""
    ).strip() or text[:80]
    published = entry.published_at if entry and entry.published_at else _iso_date(data.get("date"))
    return Article(
        url=canonical_url(url),
        source=source,
        title=title,
        text=text,
        language=_language(data.get("language") or declared.language, title + "\n" + text),
        published_at=published,
        guid=entry.guid if entry else None,
        outlet=declared.site_name or _clean(data.get("sitename")) or _host(url),
        outlet_url=entry.outlet_url if entry else None,
        canonical_url=declared.canonical,
    )


def _consent_wall(text: str) -> bool:
    """A short text that speaks of cookies and consent in at least half of its lines."""
    if len(text) >= CONSENT_MAX_CHARS:
        return False
    lines = [line for line in text.lower().splitlines() if line.strip()]
    marked = [set(_CONSENT.findall(line)) for line in lines]
    terms = set().union(*marked) if marked else set()
    return len(terms) >= 2 and 2 * sum(1 for m in marked if m) >= len(lines)


def _page_title(tree: Any) -> str | None:
    """The page's headline as trafilatura's metadata reads it: meta tags, then <title>/<h1>."""
    title = examine_meta(tree).title or extract_title(tree)
    return _clean(title)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Declared:
    """What the page says of itself: its canonical URL and its site name."""

    canonical: str | None = None
    site_name: str | None = None
    language: str | None = None


def _declared(tree: Any, url: str) -> _Declared:
    """The canonical URL (rel=canonical before og:url), og:site_name and `<html lang>`."""
    base = url
    for element in tree.iter("base"):
        href = element.get("href")
        if href:
            base = _join(url, href) or url
            break
    candidates: list[str] = []
    og_urls: list[str] = []
    site_name = None
    for element in tree.iter("link", "meta"):
        if element.tag == "link":
            rels = (element.get("rel") or "").lower().split()
            if "canonical" in rels and element.get("href"):
                candidates.append(element.get("href") or "")
            continue
        key = (element.get("property") or element.get("name") or "").strip().lower()
        content = element.get("content")
        if key == "og:url" and content:
            og_urls.append(content)
        elif key == "og:site_name" and site_name is None:
            site_name = _clean(content)
    canonical = None
    for href in candidates + og_urls:
        absolute = _join(base, href)
        if absolute is not None:
            canonical = canonical_url(absolute)
            break
    language = _clean(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang"))
    return _Declared(
        canonical=canonical, site_name=site_name, language=language.lower() if language else None
    )


def _join(base: str, href: str) -> str | None:
    """`href` made absolute against `base`, if the result is an http(s) URL."""
    try:
        absolute = urljoin(base, href.strip())
        parts = urlsplit(absolute)
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            return absolute
    except ValueError:  # a broken host or port
        pass
    return None


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"\s+", " ", value).strip() or None


def _language(declared: str | None, text: str) -> str:
    if declared and re.fullmatch(r"[a-z]{2}", declared[:2]):
        return declared[:2]
    return guess_language(text)


def _iso_date(value: Any) -> datetime | None:
    return parse_date(str(value)) if value else None
