"""Which alerts a story change makes due, and when: a pure decision over values.

`plan_alerts(state, match, …, now)` is asked inside the ingest transaction, after the new
copy joined or started its story. In order:
1. no event matched: nothing;
2. the story is older than `max_age_seconds` at `now` (by its publication time, else its
   first sight): nothing, so a new source with a long archive does not flood the channels;
3. for each channel, the events of the rules routed to it (a rule without `channels` goes to
   every channel); none: nothing for that channel;
4. a channel with no alert for this story:
   a. when grouping is on and the channel was told of the same event lately (same event type,
      similar key terms, within `group.window`; `alerts.grouping`), the story joins that
      event's group:
      - it reports an event type the group has not told the channel yet (a protest after
        drill reports): one alert of its own, at once, naming the group;
      - otherwise it is listed in the group's next "also reported" notification, due at
        `next_notice` (at most one such notification per group and `group.interval`);
        a story is never left out;
   b. otherwise one alert listing every event and its evidence, at once;
5. a channel that already has one gets nothing more (one story, one alert per channel),
   unless this copy reports an event the channel was not yet told of: then one update, at
   once, marked as such, listing the events so far with the evidence of the new ones.
Each plan carries the highest `severity` of the rules behind it.

`routed_channels` says which channels a story's events must reach, for the check that every
flagged story is named by a notification (`storage.outbox.unnotified`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alerts.grouping import same_event, similarity
from kurilwatch.model import AlertPlan, Match, RecentAlert, Rule, StoryState, highest_severity


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
                severity=highest_severity(severity.get(e.rule) for e in evidence),
            )
            plans.append(_grouped(plan, state, now, grouping) if grouping else plan)
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
                    group_story_id=state.groups.get(channel),
                    severity=highest_severity(severity.get(e.rule) for e in news),
                )
            )
    return tuple(plans)


def next_notice(group: RecentAlert, *, now: datetime, interval_seconds: float) -> datetime:
    """When a story joining `group` is listed: with the stories already waiting, else one
    `interval_seconds` after the group's last notification (at once if that has passed)."""
    if group.waiting_due is not None:
        return group.waiting_due
    return max(now, group.sent_at + timedelta(seconds=interval_seconds))


def routed_channels(rules: Sequence[Rule], channels: Sequence[str]) -> dict[str, frozenset[str]]:
    """Per event type, the channels that every rule reporting it routes to.

    A story flagged with the event must be named by a notification on each of them (a
    channel only some of the event's rules reach depends on which rule matched).
    """
    routed: dict[str, frozenset[str]] = {}
    for rule in rules:
        reach = frozenset(rule.channels or channels) & frozenset(channels)
        routed[rule.event] = routed[rule.event] & reach if rule.event in routed else reach
    return routed


def _grouped(plan: AlertPlan, state: StoryState, now: datetime, grouping: Grouping) -> AlertPlan:
    """`plan` as a member of the event group it belongs to on its channel, if any."""
    group = _same_event(state, plan.channel, plan.events, now, grouping)
    if group is None:
        return plan
    if not set(plan.events) <= group.events:
        return replace(plan, group_story_id=group.story_id)
    return replace(
        plan,
        is_update=True,
        group_story_id=group.story_id,
        due_at=next_notice(group, now=now, interval_seconds=grouping.interval_seconds),
    )


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
