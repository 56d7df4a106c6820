"""From a request's query string to a timeline view, and from a page to what templates show.

Pure functions: `parse_view` reads the filters a URL carries (so a view can be bookmarked),
`filter_query` writes them back, `by_day` groups a page by the local day in `ui.timezone`,
and `safe_href` keeps only http(s) links, since story URLs come from the sites we read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from storage.timeline import ALERT_STATES, MAX_PAGE, AlertState, TimelineStory, TimelineView

DEFAULT_LIMIT = 100


class BadFilter(ValueError):
    """A query-string parameter that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    """The groups of one local day, newest first."""

    day: date
    groups: tuple[TimelineStory, ...]


def parse_view(params: Mapping[str, Any], zone: ZoneInfo, *, getall: Any = None) -> TimelineView:
    """The timeline view a query string asks for.

    Args:
        params: The query string (a multidict's `get` suffices for single values).
        zone: Where `from` and `to` (YYYY-MM-DD, both days included) are days.
        getall: `params.getall`-like callable for the repeatable `event`; else one value.

    Raises:
        BadFilter: a date, the status, the cursor or the limit is malformed.
    """
    events: Iterable[str] = getall("event", []) if getall else [params.get("event") or ""]
    status = params.get("status") or None
    if status is not None and status not in ALERT_STATES:
        raise BadFilter(f"status: expected one of {', '.join(ALERT_STATES)}")
    since = _day(params.get("from"), "from", zone)
    until = _day(params.get("to"), "to", zone)
    try:
        limit = int(params.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise BadFilter(f"limit: expected a number from 1 to {MAX_PAGE}") from None
    if not 1 <= limit <= MAX_PAGE:
        raise BadFilter(f"limit: expected a number from 1 to {MAX_PAGE}")
    return TimelineView(
        events=tuple(dict.fromkeys(e for e in events if e)),
        language=params.get("lang") or None,
        source=params.get("source") or None,
        status=cast(AlertState | None, status),
        since=since,
        until=until + timedelta(days=1) if until is not None else None,
        query=(params.get("q") or "").strip() or None,
        before=_cursor(params.get("before")),
        limit=limit,
    )


def _day(value: str | None, key: str, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{key}: expected a date as YYYY-MM-DD") from None
    return datetime.combine(day, time(), tzinfo=zone)


def _cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    at, _, story_id = value.rpartition("_")
    try:
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(story_id)
    except ValueError:
        raise BadFilter("before: expected a cursor from a timeline page's link") from None


def cursor(before: tuple[datetime, int]) -> str:
    """The `before` parameter of the next page."""
    return f"{before[0].isoformat()}_{before[1]}"


def filter_query(view: TimelineView, zone: ZoneInfo, **extra: str) -> str:
    """The query string (without `?`) that asks for `view`'s filters, plus `extra`."""
    pairs: list[tuple[str, str]] = [("event", e) for e in view.events]
    if view.language:
        pairs.append(("lang", view.language))
    if view.source:
        pairs.append(("source", view.source))
    if view.status:
        pairs.append(("status", view.status))
    if view.since is not None:
        pairs.append(("from", view.since.astimezone(zone).date().isoformat()))
    if view.until is not None:
        last = view.until.astimezone(zone).date() - timedelta(days=1)
        pairs.append(("to", last.isoformat()))
    if view.query:
        pairs.append(("q", view.query))
    if view.limit != DEFAULT_LIMIT:
        pairs.append(("limit", str(view.limit)))
    pairs.extend(extra.items())
    return urlencode(pairs)


def without_cursor(view: TimelineView) -> TimelineView:
    """`view` from its first page."""
    return replace(view, before=None)


def by_day(groups: Iterable[TimelineStory], zone: ZoneInfo) -> list[Day]:
    """`groups` (newest first) split by the local day of their time in `zone`."""
    days: list[Day] = []
    current: list[TimelineStory] = []
    day: date | None = None
    for group in groups:
        local = group.at.astimezone(zone).date()
        if day is not None and local != day:
            days.append(Day(day=day, groups=tuple(current)))
            current = []
        day = local
        current.append(group)
    if day is not None:
        days.append(Day(day=day, groups=tuple(current)))
    return days


def safe_href(url: str | None) -> str:
    """`url` if it is an http(s) URL, else "#": a `javascript:` link never reaches a page."""
    if not url:
        return "#"
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "#"
    return url.strip()
