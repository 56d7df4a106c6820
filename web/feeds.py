"""Events out: Atom, JSON Feed 1.1 and CSV of a timeline page (pure: values in, bytes out).

Each item is one story with an event: its headline, a link to the story (its own URL when
that is http(s), else its page here), the events as categories (tags), the outlets as
authors, and the evidence sentences as the summary. Characters XML cannot carry are dropped
from Atom. A CSV cell that a spreadsheet would take for a formula (starting with `=`, `+`,
`-`, `@`, tab or carriage return) is prefixed with `'`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from alerts.render import evidence_sentences
from storage.timeline import TimelineStory
from web.views import safe_href

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "published_at",
    "first_seen_at",
    "events",
    "title",
    "url",
    "outlets",
    "copies",
    "language",
    "rules",
    "evidence",
    "channels",
    "group_id",
)


def _flat(groups: Iterable[TimelineStory]) -> list[tuple[TimelineStory, int | None]]:
    """Every story of `groups`, members after their group's first story, with the group id."""
    flat: list[tuple[TimelineStory, int | None]] = []
    for group in groups:
        flat.append((group, None))
        flat.extend((m, group.story.id) for m in group.members)
    return flat


def _xml(text: str | None) -> str:
    return _XML_INVALID.sub("", text or "")


def _link(item: TimelineStory, base: str) -> str:
    href = safe_href(item.story.url)
    return href if href != "#" else f"{base}/stories/{item.story.id}"


def _summary(item: TimelineStory) -> str:
    return " … ".join(evidence_sentences(item.evidence))


def atom(groups: Iterable[TimelineStory], *, base: str, self_url: str, title: str) -> bytes:
    """An Atom 1.0 feed of the stories of `groups`, newest first."""
    from feedgen.feed import FeedGenerator

    stories = _flat(groups)
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(_xml(title))
    feed.author({"name": "kurilwatch"})
    feed.link(href=self_url, rel="self")
    feed.link(href=f"{base}/", rel="alternate")
    feed.updated(max((s.at for s, _ in stories), default=datetime(2000, 1, 1, tzinfo=UTC)))
    for item, _group in stories:
        entry = feed.add_entry(order="append")
        entry.id(f"{base}/stories/{item.story.id}")
        entry.title(_xml(item.story.title) or "(no title)")
        entry.link(href=_link(item, base), rel="alternate")
        entry.published(item.at)
        entry.updated(item.story.first_seen_at)
        for outlet in item.outlets:
            entry.author({"name": _xml(outlet)})
        for event in item.events:
            entry.category(term=event)
        summary = _xml(_summary(item))
        if summary:
            entry.summary(summary)
    return bytes(feed.atom_str(pretty=True))


def json_feed(groups: Iterable[TimelineStory], *, base: str, self_url: str, title: str) -> bytes:
    """A JSON Feed 1.1 of the stories of `groups`, newest first."""
    items: list[dict[str, Any]] = []
    for item, group in _flat(groups):
        entry: dict[str, Any] = {
            "id": f"{base}/stories/{item.story.id}",
            "url": _link(item, base),
            "external_url": f"{base}/stories/{item.story.id}",
            "title": item.story.title,
            "content_text": _summary(item) or item.story.title,
            "date_published": item.at.isoformat(),
            "date_modified": item.story.first_seen_at.isoformat(),
            "tags": list(item.events),
            "authors": [{"name": outlet} for outlet in item.outlets],
            "_kurilwatch": {"story_id": item.story.id, "group_id": group},
        }
        if item.story.language:
            entry["language"] = item.story.language
        items.append(entry)
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": f"{base}/",
        "feed_url": self_url,
        "items": items,
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def events_csv(groups: Iterable[TimelineStory]) -> bytes:
    """One CSV row per story of `groups` (members after their group's first story)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item, group in _flat(groups):
        story = item.story
        row = (
            str(story.id),
            item.at.isoformat(),
            story.first_seen_at.isoformat(),
            " ".join(item.events),
            story.title,
            story.url,
            "; ".join(item.outlets),
            str(len(item.copies)),
            story.language or "",
            " ".join(item.rules),
            " | ".join(evidence_sentences(item.evidence)),
            " ".join(f"{c.channel}:{c.status}" for c in item.channels),
            str(group) if group is not None else "",
        )
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode("utf-8")
