"""Which alerts a story change makes due: a pure decision over values.

`plan_alerts(state, match, …, now)` is asked inside the ingest transaction, after the new
copy joined or started its story. In order:
1. no event matched: nothing;
2. the story is older than `max_age_seconds` at `now` (by its publication time, else its
   first sight): nothing, so a new source with a long archive does not flood the channels;
3. for each channel, the events of the rules routed to it (a rule without `channels` goes to
   every channel); none: nothing for that channel;
4. a channel with no alert for this story:
   a. when grouping is on and the channel was told of the same event lately (same event type,
      similar key terms, within `group.window`; `alerts.grouping`), an "also reported"
      update to that event — unless one went out less than `group.interval` ago: nothing;
   b. otherwise one alert listing every event and its evidence;
5. a channel that already has one gets nothing more (one story, one alert per channel),
   unless this copy reports an event the channel was not yet told of: then one update,
   marked as such, listing the events so far with the evidence of the new ones.
Each plan carries the highest `severity` of the rules behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.grouping import same_event, similarity
from kurilwatch.model import AlertPlan, Evidence, Match, RecentAlert, Rule, StoryState

_SEVERITY = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class Grouping:
    """Alertmanager-style grouping of stories about one event (`group_*` in the YAML)."""

    window_seconds: float = 48 * 3600.0
    interval_seconds: float = 30 * 60.0


def plan_alerts(
    state: StoryState,
    match: Match,
    *,
    rules: Sequence[Rule],
    channels: Sequence[str],
    now: datetime,
    max_age_seconds: float,
    grouping: Grouping | None = None,
) -> tuple[AlertPlan, ...]:
    """The outbox rows to write for `state` after a copy with verdict `match` arrived."""
    if not match.events:
        return ()
    born = state.published_at or state.first_seen_at
    if now - born > timedelta(seconds=max_age_seconds):
        return ()
    routes = {rule.name: rule.channels for rule in rules}
    severity = {rule.name: rule.severity for rule in rules}
    plans = []
    for channel in channels:
        evidence = tuple(e for e in match.evidence if channel in (routes.get(e.rule) or channels))
        if not evidence:
            continue
        events = tuple(dict.fromkeys(e.event for e in evidence))
        told = state.alerted.get(channel)
        if told is None:
            plan = AlertPlan(
                channel=channel,
                events=events,
                rules=tuple(e.rule for e in evidence),
                evidence=evidence,
                severity=_highest(severity, evidence),
            )
            earlier = None
            if grouping is not None:
                earlier = _same_event(state, channel, events, now, grouping)
            if earlier is None:
                plans.append(plan)
            elif grouping is not None and now - earlier.sent_at >= timedelta(
                seconds=grouping.interval_seconds
            ):
                plans.append(_also_reported(plan, earlier))
            continue
        news = tuple(e for e in evidence if e.event not in told)
        if news:
            plans.append(
                AlertPlan(
                    channel=channel,
                    events=(*sorted(told), *dict.fromkeys(e.event for e in news)),
                    rules=tuple(e.rule for e in news),
                    evidence=news,
                    seq=state.sent.get(channel, 1),
                    is_update=True,
                    severity=_highest(severity, news),
                )
            )
    return tuple(plans)


def _same_event(
    state: StoryState,
    channel: str,
    events: Sequence[str],
    now: datetime,
    grouping: Grouping,
) -> RecentAlert | None:
    """The most similar event told on `channel` within the window, if this story is one."""
    since = now - timedelta(seconds=grouping.window_seconds)
    matches = [
        r
        for r in state.recent
        if r.channel == channel
        and r.story_id != state.story_id
        and r.sent_at >= since
        and same_event(events, state.key_terms, r.events, r.key_terms)
    ]
    return max(matches, key=lambda r: similarity(state.key_terms, r.key_terms), default=None)


def _also_reported(plan: AlertPlan, earlier: RecentAlert) -> AlertPlan:
    return AlertPlan(
        channel=plan.channel,
        events=plan.events,
        rules=plan.rules,
        evidence=plan.evidence,
        is_update=True,
        group_story_id=earlier.story_id,
        severity=plan.severity,
    )


def _highest(severity: dict[str, str | None], evidence: Sequence[Evidence]) -> str | None:
    levels = [severity.get(e.rule) for e in evidence]
    known = [level for level in levels if level]
    return max(known, key=lambda level: _SEVERITY.get(level, 0)) if known else None
