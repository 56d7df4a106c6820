"""Event grouping: key terms, and when a story about a told event is listed or alerted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.decide import Grouping, next_notice, plan_alerts, routed_channels
from alerts.grouping import key_terms, same_event, similarity
from kurilwatch.model import AlertPlan, Evidence, Match, RecentAlert, Rule, StoryState

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
EXERCISE = Evidence(
    rule="exercise", event="exercise", sentences=("Troops drilled on Iturup.",), terms=("drills",)
)
RULES = (
    Rule(name="protest", event="protest", query="protest*", severity="high"),
    Rule(name="exercise", event="exercise", query="drill*"),
)
MATCH = Match(topic=True, events=("protest",), evidence=(PROTEST,))
DRILLS = Match(topic=True, events=("exercise",), evidence=(EXERCISE,))
BOTH = Match(topic=True, events=("protest", "exercise"), evidence=(PROTEST, EXERCISE))
GROUPING = Grouping(window_seconds=48 * 3600, interval_seconds=1800)
INTERVAL = timedelta(seconds=1800)


def test_key_terms_are_names_and_numbers() -> None:
    terms = key_terms("Japan protests Iturup drills", FIRST)
    assert {"eastern", "district", "1500", "iturup", "hayashi", "yoshimasa"} <= terms
    assert not {"japan", "russia", "tokyo", "the", "said", "chief", "cabinet"} & terms


@pytest.mark.parametrize(
    ("title", "text", "absent"),
    [
        (
            "Drills on Iturup on Thursday",
            "Troops of Colonel Ivanov fired on Iturup on Monday, Tuesday and Sunday in March, "
            "as in May and December; on Wed. 3 Sept. they moved.",
            {"thursday", "monday", "tuesday", "sunday", "march", "may", "december", "wed", "sept"},
        ),
        (
            None,
            "Учения на Итурупе начались. В Среду и в Четверг, с Марта по Декабрь, Шойгу приехал.",
            {"среду", "четверг", "марта", "декабрь"},
        ),
        (
            None,
            "ロシア軍は12月3日、択捉島で訓練を実施した。木原稔官房長官は水曜日午前の記者会見で抗議した。",
            {"12", "水曜日", "水曜日午前", "記者会見", "木原稔官房長官"},
        ),
    ],
)
def test_weekday_and_month_names_are_not_key_terms(
    title: str | None, text: str, absent: set[str]
) -> None:
    terms = key_terms(title, text)
    assert not absent & terms
    assert terms  # the names are kept: iturup / ivanov, итурупе / шойгу, 木原稔 / 択捉島


def test_names_in_japanese_runs_are_kept_without_their_titles_or_the_date() -> None:
    terms = key_terms(
        None, "木原稔官房長官は水曜日午前の記者会見で、択捉島での射撃訓練に抗議した。"
    )
    assert {"木原稔", "択捉島"} <= terms
    assert not {"官房長官", "記者会見", "射撃訓練", "抗議", "水曜日"} & terms


def test_rewrites_of_one_event_are_the_same_event_and_others_are_not() -> None:
    a, b, c = key_terms(None, FIRST), key_terms(None, REWRITE), key_terms(None, OTHER)
    assert similarity(a, b) >= 0.25
    assert same_event(["protest"], a, ["protest", "exercise"], b)
    assert not same_event(["exercise"], a, ["protest"], b)  # no common event type
    assert not same_event(["protest"], a, ["protest"], c)
    assert similarity(frozenset({"x"}), frozenset({"x"})) == 0.0  # too few terms to judge


def _told(
    sent_ago: timedelta,
    *,
    events: frozenset[str] = frozenset({"protest"}),
    waiting_due: datetime | None = None,
    channel: str = "desk",
) -> RecentAlert:
    return RecentAlert(
        story_id=1,
        channel=channel,
        events=events,
        key_terms=key_terms(None, FIRST),
        sent_at=NOW - sent_ago,
        waiting_due=waiting_due,
    )


def _state(*recent: RecentAlert) -> StoryState:
    return StoryState(
        story_id=2,
        is_new=True,
        published_at=NOW,
        first_seen_at=NOW,
        key_terms=key_terms(None, REWRITE),
        recent=recent,
    )


def _plan(
    state: StoryState,
    match: Match = MATCH,
    grouping: Grouping | None = GROUPING,
    channels: tuple[str, ...] = ("desk",),
) -> list[AlertPlan]:
    return list(
        plan_alerts(
            state,
            match,
            rules=RULES,
            channels=channels,
            now=NOW,
            max_age_seconds=72 * 3600,
            grouping=grouping,
        )
    )


def test_a_rewrite_after_the_interval_is_listed_at_once() -> None:
    [plan] = _plan(_state(_told(timedelta(hours=1))))
    assert plan.kind == "also_reported" and plan.group_story_id == 1
    assert plan.is_update and plan.severity == "high"
    assert plan.due_at == NOW
    assert plan.evidence == (PROTEST,)  # listed with its own evidence


def test_a_rewrite_within_the_interval_waits_for_the_end_of_it_and_is_not_dropped() -> None:
    [plan] = _plan(_state(_told(timedelta(minutes=10))))
    assert plan.kind == "also_reported" and plan.group_story_id == 1
    assert plan.due_at == NOW - timedelta(minutes=10) + INTERVAL


def test_a_rewrite_joins_the_stories_already_waiting() -> None:
    due = NOW + timedelta(minutes=3)
    [plan] = _plan(_state(_told(timedelta(minutes=10), waiting_due=due)))
    assert plan.kind == "also_reported" and plan.due_at == due


@pytest.mark.parametrize(
    ("sent_ago", "waiting", "due"),
    [
        (timedelta(0), None, NOW + INTERVAL),
        (timedelta(minutes=29), None, NOW + timedelta(minutes=1)),
        (timedelta(minutes=30), None, NOW),
        (timedelta(hours=5), None, NOW),
        (timedelta(minutes=5), NOW + timedelta(minutes=25), NOW + timedelta(minutes=25)),
        (timedelta(hours=1), NOW - timedelta(minutes=2), NOW - timedelta(minutes=2)),
    ],
)
def test_next_notice(sent_ago: timedelta, waiting: datetime | None, due: datetime) -> None:
    group = _told(sent_ago, waiting_due=waiting)
    assert next_notice(group, now=NOW, interval_seconds=1800) == due


def test_a_new_event_type_for_the_group_is_alerted_at_once() -> None:
    drills = _told(timedelta(minutes=1), events=frozenset({"exercise"}))
    [plan] = _plan(_state(drills), BOTH)
    assert plan.kind == "alert" and not plan.is_update and plan.due_at is None
    assert plan.group_story_id == 1  # named as a story of the event
    assert plan.events == ("protest", "exercise") and plan.evidence == (PROTEST, EXERCISE)
    # once the group has told both, another report of both is listed
    told_both = _told(timedelta(minutes=1), events=frozenset({"exercise", "protest"}))
    [listed] = _plan(_state(told_both), BOTH)
    assert listed.kind == "also_reported"


def test_a_story_of_another_event_type_only_is_its_own_alert() -> None:
    drills = _told(timedelta(minutes=1), events=frozenset({"exercise"}))
    [plan] = _plan(_state(drills), MATCH)
    assert plan.kind == "alert" and plan.group_story_id is None and plan.due_at is None


def test_an_event_told_before_the_window_is_a_new_alert() -> None:
    [plan] = _plan(_state(_told(timedelta(hours=49))))
    assert plan.group_story_id is None and plan.kind == "alert"


def test_grouping_off_is_always_a_new_alert() -> None:
    [plan] = _plan(_state(_told(timedelta(minutes=10))), grouping=None)
    assert plan.group_story_id is None and plan.kind == "alert"


def test_other_channels_are_grouped_on_their_own() -> None:
    plans = _plan(_state(_told(timedelta(minutes=10))), channels=("desk", "ops"))
    assert [(p.channel, p.kind, p.group_story_id) for p in plans] == [
        ("desk", "also_reported", 1),
        ("ops", "alert", None),
    ]


def test_an_update_of_a_grouped_story_stays_in_its_group() -> None:
    state = StoryState(
        story_id=2,
        is_new=False,
        published_at=NOW,
        first_seen_at=NOW,
        alerted={"desk": frozenset({"exercise"})},
        sent={"desk": 1},
        groups={"desk": 1},
    )
    [update] = _plan(state, BOTH)
    assert update.kind == "update" and update.seq == 1 and update.group_story_id == 1
    assert update.due_at is None


def test_routed_channels_are_those_every_rule_of_an_event_reaches() -> None:
    rules = (
        Rule(name="protest", event="protest", query="protest*"),
        Rule(name="drills", event="exercise", query="drill*", channels=("ops",)),
        Rule(name="missiles", event="exercise", query="missile*", channels=("ops", "desk")),
    )
    assert routed_channels(rules, ("desk", "ops")) == {
        "protest": frozenset({"desk", "ops"}),
        "exercise": frozenset({"ops"}),
    }
