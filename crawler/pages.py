"""What reading an entry's page gave, and the entry's own text when the page gives nothing.

Pure: no network, no database. A page fetch ends in one of three outcomes: the extracted
`Article` (from HTML or a PDF), `Unusable` (the page will not give an article: 401/403/451,
gone, a consent wall, a JavaScript shell, a PDF without text or past a cap, too little
text), or `Transient` (timeout, connection error, 5xx, 429; worth another try, not before
the server's Retry-After). When the page is unusable, or the retries run out, the entry is
judged on `feed_text_article`: the index's own title and summary, markup-free, with a
trailing " - Publisher" moved from the title to the outlet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kurilwatch.model import Article, Entry

_KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_TRAILING_PUBLISHER = re.compile(r"^(?P<title>.+\S)\s+[-–—|]\s+(?P<outlet>[^-–—|.!?:]{2,60})$")
_MAX_PUBLISHER_WORDS = 6


@dataclass(frozen=True, slots=True)
class Unusable:
    """The page will not give the article; `reason` says why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Transient:
    """The page could not be read this time; `after` is the server's Retry-After, if any."""

    reason: str
    after: float | None = None


PageOutcome = Article | Unusable | Transient


def guess_language(text: str) -> str:
    """ja, ru or en from the script the text is written in."""
    sample = text[:2000]
    if len(_KANA_OR_KANJI.findall(sample)) > 20:
        return "ja"
    if len(_CYRILLIC.findall(sample)) > 40:
        return "ru"
    return "en"


def split_publisher(title: str, outlet: str | None = None) -> tuple[str, str | None]:
    """`title` without a trailing " - Publisher", and the publisher (else `outlet`).

    Aggregators (Google News, Yahoo) end each headline with the outlet's name. When the
    index names the outlet, only that name is taken off; otherwise a short trailing part
    after " - " (at most six words, no sentence punctuation) is.
    """
    title = title.strip()
    if outlet:
        for dash in (" - ", " – ", " — ", " | "):
            suffix = f"{dash}{outlet}"
            if title.endswith(suffix) and len(title) > len(suffix):
                return title[: -len(suffix)].rstrip(), outlet
        return title, outlet
    found = _TRAILING_PUBLISHER.match(title)
    if found and len(found["outlet"].split()) <= _MAX_PUBLISHER_WORDS:
        return found["title"], found["outlet"].strip()
    return title, None


def repeats_headline(summary: str, full_title: str, title: str, outlet: str | None) -> bool:
    """Whether a description only repeats the headline, with or without the publisher.

    Some feeds do; Google News gives "Headline&nbsp;&nbsp;Publisher" for "Headline -
    Publisher". Compared with whitespace collapsed and case folded.
    """
    said = _words(summary)
    if not said:
        return False
    repeats = {_words(full_title), _words(title)}
    if outlet:
        repeats |= {_words(f"{title} {outlet}"), _words(f"{title} - {outlet}")}
    return said in repeats


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def feed_text_article(entry: Entry, *, reason: str) -> Article | None:
    """The article as the index told it (title and summary), or None if it told nothing.

    The result is marked `text_source="feed"` with `reason`, why the page was not used.
    """
    title, outlet = split_publisher(entry.title or "", entry.outlet)
    summary = (entry.summary or "").strip()
    if repeats_headline(summary, entry.title or "", title, outlet):
        summary = ""
    if not title and not summary:
        return None
    return Article(
        url=entry.url,
        source=entry.source,
        title=title or summary[:80],
        text=summary or title,
        language=entry.language or guess_language(f"{title}\n{summary}"),
        published_at=entry.published_at,
        guid=entry.guid,
        outlet=outlet,
        outlet_url=entry.outlet_url,
        text_source="feed",
        text_reason=reason,
    )
