"""A source's schedule: `every` is the mean gap between polls, each gap within ± 5 %."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.daemon import poll_trigger


@pytest.mark.parametrize(("every", "spread"), [(60.0, 3.0), (3600.0, 15.0), (10.0, 0.5)])
def test_polls_come_every_interval_on_average_within_the_spread(
    every: float, spread: float
) -> None:
    random.seed(7)  # APScheduler draws its jitter from the module's generator
    trigger = poll_trigger(every)
    now = datetime(2026, 12, 2, tzinfo=UTC)
    fired = [now]
    for _ in range(2000):
        fired.append(trigger.get_next_fire_time(fired[-1], fired[-1]))
    gaps = [(b - a) / timedelta(seconds=1) for a, b in itertools.pairwise(fired)]
    assert abs(statistics.mean(gaps) - every) < every * 0.005
    assert every - spread - 1e-6 <= min(gaps) and max(gaps) <= every + spread + 1e-6
    assert max(gaps) - min(gaps) > spread  # they do spread
