"""`parse_feed` over third-party test feeds, read where they lie.

`../shared/corpora/` (from the repository root) holds feedparser's own test documents
(2,106 hand-made RSS/Atom/CDF/RDF files, ill-formed and mis-encoded ones, sanitizer
payloads, one JSON Feed), Scrapy's sample feeds and trafilatura's test feeds; they are never
copied here. Every document either gives entries or raises `FeedUnreadable`; nothing else
escapes, and what comes out carries no markup, no `javascript:` and only http(s) URLs. Each
file is parsed once; failures are collected per folder and asserted together.
"""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest

from crawler.extract import FeedUnreadable, parse_feed
from crawler.feeds import plain_text
from kurilwatch.model import FeedEntry

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
FEEDPARSER = CORPORA / "feedparser-tests"
FEED_URL = "http://feeds.example.org/dir/feed.xml"
_HEADER = re.compile(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.MULTILINE)
_MARKUP = re.compile(r"<[A-Za-z/!?]")

needs_corpora = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"shared test corpora not found at {CORPORA}"
)


def _headers(body: bytes) -> dict[str, str]:
    """The HTTP headers a feedparser test file asks to be served with (`Header:` lines)."""
    head = body[:3000].decode("latin-1")
    return {m.group(1): m.group(2) for m in _HEADER.finditer(head)}


def _problems(entries: list[FeedEntry]) -> list[str]:
    problems = []
    for entry in entries:
        if not entry.url.startswith(("http://", "https://")):
            problems.append(f"url {entry.url!r}")
        for name, value in (("title", entry.title), ("summary", entry.summary)):
            lowered = (value or "").lower()
            if "<script" in lowered or "javascript:" in lowered or _MARKUP.search(lowered):
                problems.append(f"{name} {value[:80]!r}" if value else name)
    return problems


def _run_folder(files: list[Path]) -> tuple[int, int, list[str]]:
    """(files with entries, files unreadable, failures) for the given files."""
    with_entries = unreadable = 0
    failures = []
    for path in files:
        body = path.read_bytes()
        try:
            entries = parse_feed(body, FEED_URL, _headers(body))
        except FeedUnreadable:
            unreadable += 1
            continue
        except Exception as exc:  # what the test exists to catch
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        with_entries += bool(entries)
        failures += [f"{path.name}: {problem}" for problem in _problems(entries)]
    return with_entries, unreadable, failures


FOLDERS = ["wellformed", "illformed", "encoding", "entities", "json"]


@needs_corpora
@pytest.mark.parametrize("folder", FOLDERS)
def test_feedparser_corpus_gives_entries_or_unreadable(folder: str) -> None:
    files = sorted(p for p in (FEEDPARSER / folder).rglob("*") if p.suffix in (".xml", ".json"))
    assert files, f"no test documents in {FEEDPARSER / folder}"
    with_entries, unreadable, failures = _run_folder(files)
    assert not failures, "\n".join(failures[:40])
    if folder in ("wellformed", "json"):
        assert with_entries, f"no document in {folder} gave entries"
        # well-formed documents are read (7 channel-only CDF files have no feed version)
        assert unreadable <= len(files) // 100, f"{unreadable} well-formed documents unreadable"


@needs_corpora
def test_sanitizer_payloads_come_out_as_plain_text() -> None:
    """Most sanitizer cases have no item link, so their entries are dropped; check the text
    cleaning on every title and summary feedparser reads from them instead."""
    failures = []
    for path in sorted((FEEDPARSER / "wellformed" / "sanitize").glob("*.xml")):
        parsed = feedparser.parse(path.read_bytes())
        for item in [parsed.feed, *parsed.entries]:
            for key in ("title", "summary", "subtitle", "rights"):
                text = plain_text(item.get(key)) or ""
                lowered = text.lower()
                if "<script" in lowered or "javascript:" in lowered or _MARKUP.search(text):
                    failures.append(f"{path.name} {key}: {text[:80]!r}")
    assert not failures, "\n".join(failures[:40])


@needs_corpora
@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("trafilatura-eval/resources/feed1.atom", 1),  # the rel=self-only entry is dropped
        ("trafilatura-eval/resources/feed2.rss", 1),
        ("trafilatura-eval/resources/feed.json", None),
        ("scrapy-sample-data/feeds/feed-sample2.xml", None),
    ],
)
def test_real_feeds_give_entries(relative: str, expected: int | None) -> None:
    entries = parse_feed((CORPORA / relative).read_bytes(), "https://example.org/feed")
    assert entries
    if expected is not None:
        assert len(entries) == expected
    assert not _problems(entries)
    assert all(e.title for e in entries)


@needs_corpora
def test_json_feed_from_trafilatura_has_dates_and_clean_urls() -> None:
    body = (CORPORA / "trafilatura-eval/resources/feed.json").read_bytes()
    entries = parse_feed(body, "https://feeds.example.org/feed.json")
    assert all(e.published_at is not None and e.published_at.tzinfo for e in entries)
    assert all("utm_" not in e.url for e in entries)


@needs_corpora
@pytest.mark.parametrize(
    "relative",
    [
        "scrapy-sample-data/feeds/feed-sample1.xml",  # a product list: XML, not a feed
        "scrapy-sample-data/feeds/feed-sample3.csv",
        "scrapy-sample-data/feeds/feed-sample4.csv",
        "scrapy-sample-data/feeds/feed-sample5.csv",
        "scrapy-sample-data/feeds/feed-sample6.csv",
    ],
)
def test_documents_that_are_not_news_feeds_are_unreadable(relative: str) -> None:
    with pytest.raises(FeedUnreadable):
        parse_feed((CORPORA / relative).read_bytes(), "https://example.org/feed")
