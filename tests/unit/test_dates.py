"""Dates without an offset are the source's `timezone:` (UTC by default), in every index kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.dates import parse_date, zone
from crawler.spiders import parse_index
from kurilwatch.config import load_config
from kurilwatch.errors import ConfigError
from kurilwatch.model import Source

TOKYO = zone("Asia/Tokyo")
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-04-02T09:30:00", UTC, datetime(2026, 4, 2, 9, 30, tzinfo=UTC)),
        ("2026-04-02T09:30:00", TOKYO, datetime(2026, 4, 2, 0, 30, tzinfo=UTC)),
        ("2026-04-02T09:30:00+03:00", TOKYO, datetime(2026, 4, 2, 6, 30, tzinfo=UTC)),
        ("Thu, 02 Apr 2026 09:30:00 +0900", UTC, datetime(2026, 4, 2, 0, 30, tzinfo=UTC)),
        ("Thu, 02 Apr 2026 09:30:00 GMT", TOKYO, datetime(2026, 4, 2, 9, 30, tzinfo=UTC)),
        ("Thu, 02 Apr 2026 09:30:00", TOKYO, datetime(2026, 4, 2, 0, 30, tzinfo=UTC)),
        ("2026-04-02", TOKYO, datetime(2026, 4, 1, 15, 0, tzinfo=UTC)),
        ("yesterday", TOKYO, None),
        ("", UTC, None),
    ],
)
def test_parse_date_takes_a_time_without_offset_in_the_zone(
    text: str, tz: object, expected: datetime | None
) -> None:
    assert parse_date(text, tz) == expected  # type: ignore[arg-type]


def _source(kind: str, timezone: str | None) -> Source:
    return Source(
        name="s", kind=kind, url="https://news.test/index", every_seconds=60, timezone=timezone
    )  # type: ignore[arg-type]


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>naive</title><link>https://news.test/a</link>
<pubDate>Thu, 02 Apr 2026 09:30:00</pubDate></item>
<item><title>offset</title><link>https://news.test/b</link>
<pubDate>Thu, 02 Apr 2026 09:30:00 +0300</pubDate></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>naive</title><link href="https://news.test/a"/><id>a</id>
<updated>2026-04-02T09:30:00</updated></entry>
<entry><title>offset</title><link href="https://news.test/b"/><id>b</id>
<updated>2026-04-02T09:30:00+03:00</updated></entry></feed>"""
JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": "a", "url": "https://news.test/a", "date_published": "2026-04-02T09:30:00"},
            {"id": "b", "url": "https://news.test/b", "date_published": "2026-04-02T09:30+03:00"},
        ],
    }
).encode()
SITEMAP = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://news.test/a</loc><lastmod>2026-04-02T09:30:00</lastmod></url>
<url><loc>https://news.test/b</loc><lastmod>2026-04-02T09:30:00+03:00</lastmod></url>
</urlset>"""
NAIVE_UTC = datetime(2026, 4, 2, 9, 30, tzinfo=UTC)
NAIVE_TOKYO = datetime(2026, 4, 2, 0, 30, tzinfo=UTC)
OFFSET = datetime(2026, 4, 2, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "body"), [("feed", RSS), ("feed", ATOM), ("feed", JSON_FEED), ("sitemap", SITEMAP)]
)
def test_each_index_kind_reads_naive_dates_in_the_source_zone(kind: str, body: bytes) -> None:
    def dates(timezone: str | None) -> list[datetime | None]:
        page = parse_index(
            _source(kind, timezone), body, "https://news.test/index", {}, since=SINCE
        )
        return [e.published_at for e in sorted(page.entries, key=lambda e: e.url)]

    assert dates(None) == [NAIVE_UTC, OFFSET]  # the default stays UTC
    assert dates("Asia/Tokyo") == [NAIVE_TOKYO, OFFSET]  # an offset wins over the zone


def test_a_listing_dates_its_links_at_midnight_in_the_source_zone() -> None:
    body = b'<html><body><a href="/news/2026/04/02/drills-near-kunashir">Drills</a></body></html>'
    for timezone, midnight in [
        (None, datetime(2026, 4, 2, tzinfo=UTC)),
        ("Asia/Tokyo", datetime(2026, 4, 1, 15, tzinfo=UTC)),
    ]:
        page = parse_index(
            _source("listing", timezone), body, "https://news.test/news/", {}, since=SINCE
        )
        assert [e.published_at for e in page.entries] == [midnight]


def test_timezone_must_be_an_iana_name(tmp_path: Path) -> None:
    path = tmp_path / "kurilwatch.yaml"
    source = "sources:\n  - name: s\n    url: https://news.test/rss\n    timezone: {}\n"
    path.write_text(source.format("Asia/Tokyo"), encoding="utf-8")
    assert load_config(path, {}).sources[0].to_source().timezone == "Asia/Tokyo"
    path.write_text(source.format("JST+9"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert f"{path}: sources[0].timezone: expected an IANA time zone name" in str(caught.value)
