"""Event grouping: key terms, and when a story about a told event becomes an update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.decide import Grouping, plan_alerts
from alerts.grouping import key_terms, same_event, similarity
from kurilwatch.model import Evidence, Match, RecentAlert, Rule, StoryState

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
FIRST = (
    "Russia's Eastern Military District said 1,500 troops held drills on Iturup on Wednesday. "
    "Chief Cabinet Secretary Yoshimasa Hayashi said Tokyo lodged a protest."
)
REWRITE = (
    "Tokyo protested on Wednesday after 1,500 Russian troops drilled on Iturup, Hayashi said. "
    "The Eastern Military District called the drills routine."
)
OTHER = (
    "Former residents of Shikotan gathered in Nemuro on Sunday. Governor Naomichi Suzuki "
    "called for the resumption of visa-free visits."
)
PROTEST = Evidence(
    rule="protest", event="protest", sentences=("Tokyo lodged a protest.",), terms=("protest",)
)
RULES = (Rule(name="protest", event="protest", query="protest*", severity="high"),)
MATCH = Match(topic=True, events=("protest",), evidence=(PROTEST,))
GROUPING = Grouping(window_seconds=48 * 3600, interval_seconds=1800)


def test_key_terms_are_names_and_numbers() -> None:
    terms = key_terms("Japan protests Iturup drills", FIRST)
    assert {"eastern", "district", "1500", "iturup", "wednesday", "hayashi", "yoshimasa"} <= terms
    assert not {"japan", "russia", "tokyo", "the", "said"} & terms


def test_rewrites_of_one_event_are_the_same_event_and_others_are_not() -> None:
    a, b, c = key_terms(None, FIRST), key_terms(None, REWRITE), key_terms(None, OTHER)
    assert similarity(a, b) >= 0.25
    assert same_event(["protest"], a, ["protest", "exercise"], b)
    assert not same_event(["exercise"], a, ["protest"], b)  # no common event type
    assert not same_event(["protest"], a, ["protest"], c)
    assert similarity(frozenset({"x"}), frozenset({"x"})) == 0.0  # too few terms to judge


def _state(sent_ago: timedelta) -> StoryState:
    told = RecentAlert(
        story_id=1,
        channel="desk",
        events=frozenset({"protest"}),
        key_terms=key_terms(None, FIRST),
        sent_at=NOW - sent_ago,
    )
    return StoryState(
        story_id=2,
        is_new=True,
        published_at=NOW,
        first_seen_at=NOW,
        key_terms=key_terms(None, REWRITE),
        recent=(told,),
    )


def _plan(state: StoryState, grouping: Grouping | None = GROUPING) -> list[object]:
    return list(
        plan_alerts(
            state,
            MATCH,
            rules=RULES,
            channels=("desk",),
            now=NOW,
            max_age_seconds=72 * 3600,
            grouping=grouping,
        )
    )


def test_a_rewrite_after_the_interval_is_an_also_reported_update() -> None:
    [plan] = _plan(_state(timedelta(hours=1)))
    assert plan.group_story_id == 1 and plan.is_update and plan.severity == "high"  # type: ignore[attr-defined]


def test_a_rewrite_within_the_interval_is_not_sent_again() -> None:
    assert _plan(_state(timedelta(minutes=10))) == []


def test_an_event_told_before_the_window_is_a_new_alert() -> None:
    [plan] = _plan(_state(timedelta(hours=49)))
    assert plan.group_story_id is None and not plan.is_update  # type: ignore[attr-defined]


def test_grouping_off_is_always_a_new_alert() -> None:
    [plan] = _plan(_state(timedelta(minutes=10)), grouping=None)
    assert plan.group_story_id is None  # type: ignore[attr-defined]


def test_other_channels_are_grouped_on_their_own() -> None:
    plans = plan_alerts(
        _state(timedelta(minutes=10)),
        MATCH,
        rules=RULES,
        channels=("desk", "ops"),
        now=NOW,
        max_age_seconds=72 * 3600,
        grouping=GROUPING,
    )
    assert [(p.channel, p.group_story_id) for p in plans] == [("ops", None)]
