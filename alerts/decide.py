"""Which alerts a story change makes due: a pure decision over values.

`plan_alerts(state, match, …, now)` is asked inside the ingest transaction, after the new
copy joined or started its story. In order:
1. no event matched: nothing;
2. the story is older than `max_age_seconds` at `now` (by its publication time, else its
   first sight): nothing, so a new source with a long archive does not flood the channels;
3. for each channel, the events of the rules routed to it (a rule without `channels` goes to
   every channel); none: nothing for that channel;
4. a channel with no alert for this story gets one, listing every event and its evidence;
5. a channel that already has one gets nothing more (one story, one alert per channel),
   unless this copy reports an event the channel was not yet told of: then one update,
   marked as such, listing the events so far with the evidence of the new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from kurilwatch.model import AlertPlan, Match, Rule, StoryState


def plan_alerts(
    state: StoryState,
    match: Match,
    *,
    rules: Sequence[Rule],
    channels: Sequence[str],
    now: datetime,
    max_age_seconds: float,
) -> tuple[AlertPlan, ...]:
    """The outbox rows to write for `state` after a copy with verdict `match` arrived."""
    if not match.events:
        return ()
    born = state.published_at or state.first_seen_at
    if now - born > timedelta(seconds=max_age_seconds):
        return ()
    routes = {rule.name: rule.channels for rule in rules}
    plans = []
    for channel in channels:
        evidence = tuple(e for e in match.evidence if channel in (routes.get(e.rule) or channels))
        if not evidence:
            continue
        events = tuple(dict.fromkeys(e.event for e in evidence))
        told = state.alerted.get(channel)
        if told is None:
            plans.append(
                AlertPlan(
                    channel=channel,
                    events=events,
                    rules=tuple(e.rule for e in evidence),
                    evidence=evidence,
                )
            )
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
                )
            )
    return tuple(plans)
