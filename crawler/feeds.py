"""Pure feed parsing: the bytes of a feed into `FeedEntry` values.

Decides which documents are feeds and what of each item is kept. RSS 0.9x/1.0/2.0 and
Atom 0.3/1.0 go through feedparser (with the response headers, so encodings and relative
links resolve against the feed URL); JSON Feed 1.0/1.1, which feedparser 6 does not read,
is parsed here with `json`. Touches nothing: no network, no files.

Real servers' slips are forgiven where the intent is plain: whitespace before the XML
declaration is dropped (XML forbids it, and feedparser would call the feed broken); a UTF-16
document without a byte-order mark is recognised by the NUL bytes of its `<?xml` when the
Content-Type names no charset (feedparser would read it as US-ASCII under `text/xml`); a JSON
Feed whose `version` says `1`, `1.0` or `1.1` instead of the jsonfeed.org URL is read.

What comes out is safe to show: titles and summaries are plain text (markup, scripts and
`javascript:` URLs removed, whitespace collapsed), and every entry links to an absolute
http(s) URL in canonical form; items without one are dropped. A document that is not a
feed raises `FeedUnreadable`; no other exception leaves `parse_feed`.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from crawler.canonical import canonical_url
from crawler.dates import parse_date
from kurilwatch.errors import ExtractionError
from kurilwatch.model import FeedEntry

JSON_FEED_VERSION = "jsonfeed.org/version/"
_BARE_JSON_FEED_VERSION = re.compile(r"1(?:\.[01])?")
_UTF16_XML = {
    "<\x00?\x00x\x00m\x00l\x00".encode("latin-1"): "utf-16le",
    "\x00<\x00?\x00x\x00m\x00l".encode("latin-1"): "utf-16be",
}
_XML_SPACE = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"
_SKIPPED_ELEMENTS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
_BLOCK_ELEMENTS = frozenset({"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4"})
_TAG_LIKE = re.compile(r"</?[A-Za-z!?][^<>]*>")
_TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")
_SCRIPT_SCHEME = re.compile(r"(?i)\b((?:java|vb|live)\s*script)\s*:")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


class FeedUnreadable(ExtractionError):
    """The document is not a feed that can be read."""


def parse_feed(
    body: bytes, url: str, headers: Mapping[str, str] | None = None, *, tz: tzinfo = UTC
) -> list[FeedEntry]:
    """The entries of an RSS, Atom or JSON Feed document, links made absolute and canonical.

    Args:
        body: The document as fetched.
        url: Where it was fetched from; relative links resolve against it.
        headers: The HTTP response headers (Content-Type decides the encoding and JSON).
        tz: The zone of dates written without an offset (the source's `timezone:`).

    Returns:
        One `FeedEntry` per item that links to an http(s) URL, in feed order (possibly
        none, for a feed that lists nothing).

    Raises:
        FeedUnreadable: the body is not a feed, or so broken that no entry came out.
    """
    lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    try:
        if _looks_like_json(body, lowered.get("content-type", "")):
            return _parse_json_feed(body, url, tz)
        return _parse_xml_feed(body, url, lowered, tz)
    except FeedUnreadable:
        raise
    except Exception as exc:  # feedparser and json fail in many ways on hostile input
        raise FeedUnreadable(f"unreadable feed: {type(exc).__name__}") from exc


def plain_text(value: Any) -> str | None:
    """Feed text (plain or HTML) as one line of plain text that carries no markup.

    Script and style contents are dropped, entities decoded, tags removed (also tags that
    were escaped once or twice), a leftover `<` before a letter is split from it so nothing
    reads as a tag, and `javascript:`-style schemes lose their colon.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value
    for _ in range(3):  # escaped markup decodes into markup: strip again
        text = _html_to_text(text)
        if not _TAG_OPENER.search(text):
            break
    text = _TAG_LIKE.sub(" ", text)
    text = _TAG_OPENER.sub("< ", text)
    text = _SCRIPT_SCHEME.sub(r"\1 ", text)
    text = re.sub(r"\s+", " ", _CONTROL.sub(" ", text)).strip()
    return text or None


def bomless_utf16(body: bytes) -> str | None:
    """`utf-16le` or `utf-16be` for a document that opens with `<?xml` in UTF-16 without a
    byte-order mark (the NUL bytes tell which), else None."""
    return _UTF16_XML.get(body[:10])


def _looks_like_json(body: bytes, content_type: str) -> bool:
    """JSON by its first character, or by its Content-Type unless it starts like XML."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{"):
        return True
    return "json" in content_type.lower() and not start.startswith(b"<")


def _parse_xml_feed(body: bytes, url: str, headers: dict[str, str], tz: tzinfo) -> list[FeedEntry]:
    body, headers = _forgiven(body, headers)
    parsed = feedparser.parse(body, response_headers={"content-location": url, **headers})
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.entries:
        if not parsed.get("version"):
            raise FeedUnreadable("not a feed: no RSS or Atom document found")
        if problem is not None and not isinstance(problem, ThingsNobodyCaresAboutButMe):
            raise FeedUnreadable(f"broken feed: {type(problem).__name__}: {problem}"[:300])
    feed_language = _language(parsed.feed.get("language"))
    entries = []
    for item in parsed.entries:
        link = _first_web_url(url, _xml_links(item))
        if link is None:
            continue
        detail = item.get("title_detail") or item.get("summary_detail") or {}
        outlet, outlet_url = _publisher(url, item)
        entries.append(
            FeedEntry(
                url=link,
                guid=_guid(item.get("id")),
                title=plain_text(item.get("title")),
                summary=plain_text(item.get("summary")),
                # the date as written first: feedparser takes one without an offset as UTC
                published_at=parse_date(item.get("published") or item.get("updated"), tz)
                or _struct_time(item.get("published_parsed") or item.get("updated_parsed")),
                language=_language(detail.get("language")) or feed_language,
                outlet=outlet,
                outlet_url=outlet_url,
            )
        )
    return entries


def _publisher(base: str, item: Any) -> tuple[str | None, str | None]:
    """Who published an item an aggregator lists, and where: RSS `<source url=…>Name`
    (Google News; in Atom, the source feed's title and link), else Bing News'
    `<News:Source>`."""
    source = item.get("source")
    if not isinstance(source, Mapping):
        source = {}
    name = plain_text(source.get("title")) or plain_text(item.get("news_source"))
    where = _first_web_url(base, ((source.get("href") or source.get("link"), False),))
    return name, where


def _forgiven(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body without whitespace before its first `<` (a UTF-8 BOM kept), and the headers
    naming UTF-16 when the body is BOM-less UTF-16 and the Content-Type names no charset."""
    bom = _UTF8_BOM if body.startswith(_UTF8_BOM) else b""
    rest = body[len(bom) :]
    stripped = rest.lstrip(_XML_SPACE)
    if stripped[:1] == b"<" and len(stripped) < len(rest):
        body = bom + stripped
    codec = bomless_utf16(body)
    content_type = headers.get("content-type", "")
    if codec is not None and "charset=" not in content_type.lower():
        media = content_type.split(";", 1)[0].strip() or "application/xml"
        headers = {**headers, "content-type": f"{media}; charset={codec}"}
    return body, headers


def _xml_links(item: Any) -> list[tuple[Any, bool]]:
    """Candidate article links of a feedparser entry, best first, and whether each may be
    relative (an id, or a link feedparser took from the guid, counts only when absolute)."""
    candidates: list[tuple[Any, bool]] = [(item.get("link"), not item.get("guidislink"))]
    candidates += [
        (link.get("href"), True)
        for link in item.get("links") or ()
        if link.get("rel", "alternate") == "alternate"
    ]
    candidates.append((item.get("id"), False))
    return candidates


def _parse_json_feed(body: bytes, url: str, tz: tzinfo) -> list[FeedEntry]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise FeedUnreadable(f"not a feed: invalid JSON ({type(exc).__name__})") from exc
    if not isinstance(doc, dict) or not _json_feed_version(doc.get("version")):
        raise FeedUnreadable("not a feed: JSON without a JSON Feed version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedUnreadable("broken JSON Feed: no items list")
    feed_language = _language(doc.get("language"))
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = _first_web_url(
            url,
            ((item.get("url"), True), (item.get("external_url"), True), (item.get("id"), False)),
        )
        if link is None:
            continue
        summary = item.get("summary") or item.get("content_text") or item.get("content_html")
        entries.append(
            FeedEntry(
                url=link,
                guid=_guid(item.get("id")),
                title=plain_text(item.get("title")),
                summary=plain_text(summary),
                published_at=parse_date(item.get("date_published"), tz)
                or parse_date(item.get("date_modified"), tz),
                language=_language(item.get("language")) or feed_language,
            )
        )
    return entries


def _json_feed_version(value: Any) -> bool:
    """Whether `value` names JSON Feed 1.x: the jsonfeed.org URL, or `1`, `1.0`, `1.1`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    text = str(value).strip().lower()
    return JSON_FEED_VERSION in text or _BARE_JSON_FEED_VERSION.fullmatch(text) is not None


def _first_web_url(base: str, candidates: Iterable[tuple[Any, bool]]) -> str | None:
    """The first candidate that is an http(s) URL, resolved against `base` if it may be
    relative, in canonical form."""
    for candidate, may_be_relative in candidates:
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        try:
            absolute = urljoin(base, candidate.strip()) if may_be_relative else candidate.strip()
            parts = urlsplit(absolute)
            if parts.scheme.lower() in ("http", "https") and parts.hostname:
                return canonical_url(absolute)
        except ValueError:  # e.g. a broken IPv6 host or port
            continue
    return None


def _guid(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _language(value: Any) -> str | None:
    """The primary subtag of a language tag (`en-US` -> `en`), if it looks like one."""
    if not isinstance(value, str):
        return None
    primary = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if _LANGUAGE.fullmatch(primary) else None


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def _html_to_text(fragment: str) -> str:
    collector = _TextCollector()
    try:
        collector.feed(fragment)
        collector.close()
    except Exception:  # html.parser is lenient; never let a corner case escape
        return _TAG_LIKE.sub(" ", fragment)
    return "".join(collector.parts)


class _TextCollector(HTMLParser):
    """The text of an HTML fragment, without script, style and similar contents."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skipping.append(tag)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skipping:
            while self._skipping and self._skipping.pop() != tag:
                pass
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
