"""Pure alert decisions: which alerts are due, how they read, how answers are sorted."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.decide import plan_alerts
from alerts.delivery import Delivered, Reject, Retry, classify, next_attempt
from alerts.render import slack_message, webhook_body
from kurilwatch.backoff import retry_after
from kurilwatch.config import DeliveryConfig
from kurilwatch.model import Alert, Evidence, Match, Notice, Rule, Story, StoryState

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
PROTEST = Evidence(
    rule="protest", event="protest", sentences=("Japan lodged a protest.",), terms=("protest",)
)
EXERCISE = Evidence(
    rule="exercise", event="exercise", sentences=("Drills began on Iturup.",), terms=("drills",)
)
RULES = (
    Rule(name="protest", event="protest", query="protest"),
    Rule(name="exercise", event="exercise", query="drill*", channels=("ops",)),
)
BOTH = Match(topic=True, events=("protest", "exercise"), evidence=(PROTEST, EXERCISE))


def _state(**kw: object) -> StoryState:
    base: dict[str, object] = {
        "story_id": 1,
        "is_new": True,
        "published_at": NOW,
        "first_seen_at": NOW,
    }
    base.update(kw)
    return StoryState(**base)  # type: ignore[arg-type]


def _plan(
    state: StoryState, match: Match = BOTH, channels: tuple[str, ...] = ("desk", "ops")
) -> dict[str, tuple[str, ...]]:
    plans = plan_alerts(
        state, match, rules=RULES, channels=channels, now=NOW, max_age_seconds=72 * 3600
    )
    return {p.channel: p.events for p in plans}


def test_one_alert_per_channel_with_routed_events() -> None:
    assert _plan(_state()) == {"desk": ("protest",), "ops": ("protest", "exercise")}


def test_no_event_no_alert() -> None:
    assert _plan(_state(), Match(topic=True)) == {}


def test_story_older_than_max_age_is_not_alerted() -> None:
    old = _state(published_at=NOW - timedelta(hours=73))
    assert _plan(old) == {}
    assert _plan(_state(published_at=NOW - timedelta(hours=71))) != {}


def test_undated_story_counts_from_first_sight() -> None:
    assert _plan(_state(published_at=None, first_seen_at=NOW)) != {}


def test_channel_already_alerted_gets_nothing_more() -> None:
    state = _state(is_new=False, alerted={"desk": frozenset({"protest"})}, sent={"desk": 1})
    assert _plan(state) == {"ops": ("protest", "exercise")}
    told = {"desk": frozenset({"protest"}), "ops": frozenset({"protest", "exercise"})}
    assert _plan(_state(is_new=False, alerted=told, sent={"desk": 1, "ops": 1})) == {}


def test_a_new_event_on_a_told_story_is_one_update() -> None:
    state = _state(is_new=False, alerted={"ops": frozenset({"protest"})}, sent={"ops": 1})
    plans = plan_alerts(state, BOTH, rules=RULES, channels=("ops",), now=NOW, max_age_seconds=3600)
    [update] = plans
    assert update.is_update and update.seq == 1
    assert update.events == ("protest", "exercise")
    assert update.evidence == (EXERCISE,) and update.rules == ("exercise",)
    after = _state(
        is_new=False, alerted={"ops": frozenset({"protest", "exercise"})}, sent={"ops": 2}
    )
    assert (
        plan_alerts(after, BOTH, rules=RULES, channels=("ops",), now=NOW, max_age_seconds=3600)
        == ()
    )


STORY = Story(
    id=7,
    title="Japan protests <!channel> drills & more on <http://evil.test|Kunashir>",
    url="https://news.test/a?x=1&y=2",
    language="en",
    published_at=NOW,
    first_seen_at=NOW,
    urls=("https://news.test/a?x=1&y=2", "https://other.test/b"),
)
ALERT = Alert(
    id="3f0c",
    channel="desk",
    story_id=7,
    events=("protest", "exercise"),
    rules=("protest", "exercise"),
    evidence=(PROTEST, EXERCISE),
    created_at=NOW,
)


def test_webhook_body_has_the_promised_fields() -> None:
    body = webhook_body(Notice(alert=ALERT, story=STORY))
    assert body["id"] == "3f0c"
    assert body["events"] == ["protest", "exercise"]
    assert body["rules"] == ["protest", "exercise"]
    assert body["evidence"] == ["Japan lodged a protest.", "Drills began on Iturup."]
    assert set(body["story"]) >= {"id", "title", "url", "published_at", "language", "urls"}
    assert body["story"]["urls"] == list(STORY.urls)
    json.dumps(body)


def test_slack_message_escapes_control_characters_and_stays_in_limits() -> None:
    message = slack_message(Notice(alert=ALERT, story=STORY))
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "<http://evil.test" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert len(message["blocks"]) <= 50
    header = message["blocks"][0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    link = message["blocks"][1]["text"]["text"]
    assert link.startswith("*<https://news.test/a?x=1&amp;y=2|")


def test_slack_sections_are_clipped_without_breaking_entities() -> None:
    long_story = Story(**{**{f: getattr(STORY, f) for f in STORY.__slots__}, "title": "&" * 400})  # type: ignore[arg-type]
    huge = Evidence(rule="protest", event="protest", sentences=("<&>" * 2000,), terms=())
    alert = Alert(**{**{f: getattr(ALERT, f) for f in ALERT.__slots__}, "evidence": (huge,)})  # type: ignore[arg-type]
    message = slack_message(Notice(alert=alert, story=long_story))
    for block in message["blocks"]:
        if block["type"] == "section":
            body = block["text"]["text"]
            assert len(body) <= 3000
            assert not body.rstrip("…").endswith(("&", "&a", "&am", "&l", "&g"))
    assert len(message["blocks"][0]["text"]["text"]) <= 150


@pytest.mark.parametrize(
    ("kind", "status", "body", "expected"),
    [
        ("webhook", 200, b"", Delivered),
        ("webhook", 204, b"", Delivered),
        ("slack", 200, b"ok", Delivered),
        ("slack", 200, b"something else", Retry),
        ("webhook", 500, b"", Retry),
        ("webhook", 503, b"", Retry),
        ("webhook", 429, b"", Retry),
        ("webhook", 408, b"", Retry),
        ("webhook", 400, b"", Reject),
        ("webhook", 404, b"", Reject),
        ("webhook", 410, b"", Reject),
        ("webhook", 301, b"", Reject),
        ("slack", 400, b"invalid_payload", Reject),
        ("slack", 404, b"channel_not_found", Reject),
        ("slack", 410, b"channel_is_archived", Reject),
        ("slack", 500, b"rollup_error", Retry),
    ],
)
def test_classify(kind: str, status: int, body: bytes, expected: type) -> None:
    assert isinstance(classify(kind, status, {}, body, now=NOW), expected)


def test_retry_after_seconds_and_date() -> None:
    assert retry_after("30", now=NOW) == 30
    assert retry_after("Fri, 03 Apr 2026 09:02:00 GMT", now=NOW) == 120
    assert retry_after("garbage", now=NOW) is None
    outcome = classify("webhook", 429, {"retry-after": "7"}, b"", now=NOW)
    assert isinstance(outcome, Retry) and outcome.after == 7


def test_backoff_grows_with_full_jitter_and_honours_retry_after() -> None:
    config = DeliveryConfig(retry_initial=10, retry_max=3600, give_up_after=86400)
    rng = random.Random(1)
    for attempts in range(1, 12):
        when = next_attempt(
            Retry("x"), attempts=attempts, created_at=NOW, now=NOW, config=config, rng=rng
        )
        assert when is not None
        assert timedelta(0) <= when - NOW <= timedelta(seconds=min(3600, 10 * 2 ** (attempts - 1)))
    when = next_attempt(
        Retry("x", after=900), attempts=1, created_at=NOW, now=NOW, config=config, rng=rng
    )
    assert when == NOW + timedelta(seconds=900)


def test_gives_up_after_the_deadline() -> None:
    config = DeliveryConfig(retry_initial=10, retry_max=3600, give_up_after=3600)
    late = NOW + timedelta(seconds=3599)
    assert (
        next_attempt(
            Retry("x", after=60),
            attempts=5,
            created_at=NOW,
            now=late,
            config=config,
            rng=random.Random(0),
        )
        is None
    )


def test_delivery_client_is_made_once_and_not_after_closing() -> None:
    import asyncio

    from scheduler.jobs import DeliveryClient

    async def scenario() -> None:
        lazy = DeliveryClient(timeout=3.0)
        first = lazy.get()
        assert lazy.get() is first and not first.is_closed
        await lazy.aclose()
        assert first.is_closed
        # a drain still running while the daemon stops gets an error, not a fresh client
        with pytest.raises(RuntimeError, match="closed"):
            lazy.get()
        never_used = DeliveryClient(timeout=3.0)
        await never_used.aclose()
        with pytest.raises(RuntimeError):
            never_used.get()

    asyncio.run(scenario())
