"""Pure parsing: feed bytes into entries, article bytes into an `Article`.

Takes bytes and a URL, never a Scrapy response, so the same code runs in tests, in a worker
thread or process, and in `rules test`. Feeds go through feedparser (RSS 0.9x/1.0/2.0, Atom,
with the response headers so encodings resolve), articles through trafilatura (with htmldate
for the date). The feed's own date wins over the page's.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
import trafilatura

from crawler.canonical import canonical_url
from kurilwatch.errors import ExtractionError
from kurilwatch.model import Article, FeedEntry

MIN_TEXT_CHARS = 80
_KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


class FeedUnreadable(ExtractionError):
    """The document is not a feed feedparser can read."""


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> list[FeedEntry]:
    """The entries of an RSS or Atom document, links made absolute and canonical.

    Raises:
        FeedUnreadable: the body is not a feed (or so broken that no entry came out).
    """
    parsed = feedparser.parse(
        body,
        response_headers={
            "content-location": url,
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
    )
    if parsed.get("bozo") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise FeedUnreadable(f"not a readable feed: {type(problem).__name__}: {problem}"[:300])
    if not parsed.entries and not parsed.get("version"):
        raise FeedUnreadable("not a feed: no RSS or Atom document found")
    entries = []
    for item in parsed.entries:
        link = _entry_link(item)
        if not link:
            continue
        entries.append(
            FeedEntry(
                url=canonical_url(link),
                guid=str(item.get("id")) if item.get("id") else None,
                title=_clean(item.get("title")),
                summary=_clean(item.get("summary")),
                published_at=_struct_time(
                    item.get("published_parsed") or item.get("updated_parsed")
                ),
            )
        )
    return entries


def extract_article(
    body: bytes, url: str, *, source: str, entry: FeedEntry | None = None
) -> Article:
    """The article in an HTML page: title, text, language, date.

    Raises:
        ExtractionError: the page holds no article text.
    """
    try:
        doc = trafilatura.bare_extraction(
            body, url=url, with_metadata=True, include_comments=False, include_tables=False
        )
    except Exception as exc:  # trafilatura raises many kinds on hostile input
        raise ExtractionError(f"extraction failed: {type(exc).__name__}") from exc
    data: dict[str, Any] = (
        doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    )
    text = (data.get("text") or "").strip()
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError(f"no article text ({len(text)} characters)")
    title = (data.get("title") or (entry.title if entry else None) or "").strip() or text[:80]
    published = entry.published_at if entry and entry.published_at else _iso_date(data.get("date"))
    return Article(
        url=canonical_url(url),
        source=source,
        title=title,
        text=text,
        language=_language(data.get("language"), title + "\n" + text),
        published_at=published,
        guid=entry.guid if entry else None,
        outlet=data.get("sitename") or data.get("hostname"),
    )


def guess_language(text: str) -> str:
    """ja, ru or en from the script the text is written in."""
    sample = text[:2000]
    if len(_KANA_OR_KANJI.findall(sample)) > 20:
        return "ja"
    if len(_CYRILLIC.findall(sample)) > 40:
        return "ru"
    return "en"


def _language(declared: str | None, text: str) -> str:
    if declared and re.fullmatch(r"[a-z]{2}", declared[:2]):
        return declared[:2]
    return guess_language(text)


def _entry_link(item: Any) -> str | None:
    link = item.get("link")
    if link:
        return str(link)
    for candidate in item.get("links") or ():
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    guid = item.get("id")
    if guid and str(guid).startswith(("http://", "https://")):
        return str(guid)
    return None


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _iso_date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _clean(value: Any) -> str | None:
    if not value:
        return None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(value))).strip() or None
