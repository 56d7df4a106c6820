"""The crawler's one date parser: dates as indexes and pages write them, as aware UTC times.

`parse_date(text, tz)` reads RFC 3339 / ISO 8601 (`2026-04-02T09:30:00+09:00`) and, leniently,
RFC 822 (`Thu, 02 Apr 2026 09:30:00 +0900`); `as_utc(moment, tz)` makes a parsed time aware.
Either way a time that carries no offset is taken in `tz`: the source's `timezone:`
(`zone(name)`), UTC when it sets none. Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo


@cache
def zone(name: str | None) -> tzinfo:
    """The zone an IANA `name` (validated by the configuration) names; UTC for None."""
    return ZoneInfo(name) if name else UTC


def as_utc(moment: datetime, tz: tzinfo = UTC) -> datetime | None:
    """`moment` in UTC, taken in `tz` if it has no offset; None when out of range."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    try:
        return aware.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_date(value: Any, tz: tzinfo = UTC) -> datetime | None:
    """An RFC 3339 (or RFC 822) date string as an aware UTC datetime; None if it is none."""
    if not isinstance(value, str) or not value.strip():
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return as_utc(parsed, tz)
