"""The one retry schedule: exponential backoff with full jitter, Retry-After honoured.

Used for outbox deliveries (`alerts.delivery.next_attempt`) and for the pages of durable
entries (`crawler.pages.decide_page`). Pure: the clock and the random source are arguments.
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """How a failing piece of work is retried.

    The `n`-th failed attempt waits uniformly in [0, min(cap, initial * 2**(n-1))], never
    less than the other side's Retry-After, and the work is given up once the next attempt
    would fall more than `give_up` seconds after the work began.
    """

    initial: float
    cap: float
    give_up: float


def next_try(
    backoff: Backoff,
    *,
    attempts: int,
    began_at: datetime,
    now: datetime,
    rng: random.Random,
    after: float | None = None,
) -> datetime | None:
    """When to try again after the `attempts`-th failure; None once it is time to give up."""
    ceiling = min(backoff.cap, backoff.initial * 2 ** max(0, min(attempts, 60) - 1))
    delay = rng.uniform(0, ceiling)
    if after is not None:
        delay = max(delay, min(after, backoff.give_up))
    when = now + timedelta(seconds=delay)
    if when - began_at > timedelta(seconds=backoff.give_up):
        return None
    return when


def retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())
