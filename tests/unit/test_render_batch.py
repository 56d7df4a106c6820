"""How an "also reported" batch reads: every listed story, within each channel's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alerts.render import apprise_message, console_text, kind, slack_message, webhook_body
from kurilwatch.model import Alert, Evidence, Member, Notice, Story

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
FIRST = Story(
    id=1,
    title="Japan protests as 1,500 Russian troops drill on Iturup",
    url="https://wire.test/first",
    language="en",
    published_at=NOW,
    first_seen_at=NOW,
    urls=("https://wire.test/first",),
    outlet="Wire",
)


def _member(i: int, *, title: str | None = None, url: str | None = None) -> Member:
    story = Story(
        id=100 + i,
        title=title or f"Bastion crews drill on Iturup, report {i}",
        url=url or f"https://outlet{i}.test/story/{i}",
        language="en",
        published_at=NOW,
        first_seen_at=NOW,
        urls=(url or f"https://outlet{i}.test/story/{i}",),
        outlet=None if i % 2 else f"Outlet {i}",
    )
    evidence = Evidence(
        rule="exercise",
        event="exercise",
        sentences=(f"Troops drilled on Iturup, report {i} said.",),
        terms=("drilled",),
    )
    alert = Alert(
        id=f"a{i}",
        channel="ops",
        story_id=story.id,
        events=("exercise",),
        rules=("exercise",),
        evidence=(evidence,),
        created_at=NOW,
    )
    return Member(alert=alert, story=story)


def _batch(members: tuple[Member, ...]) -> Notice:
    lead = members[0].alert
    union = Alert(
        id=lead.id,
        channel="ops",
        story_id=lead.story_id,
        events=("exercise",),
        rules=("exercise",),
        evidence=tuple(e for m in members for e in m.alert.evidence),
        created_at=NOW,
    )
    return Notice(
        alert=union,
        story=members[0].story,
        is_update=True,
        group=FIRST,
        severity="high",
        members=members,
    )


def test_webhook_body_lists_every_story_with_its_outlet_events_and_evidence() -> None:
    members = tuple(_member(i) for i in range(3))
    body = webhook_body(_batch(members))
    assert body["kind"] == "also_reported" and body["is_update"] is True
    assert body["id"] == "a0" and body["group"]["id"] == 1
    assert body["story"]["id"] == 100  # the promised single-story fields stay
    assert body["events"] == ["exercise"] and body["rules"] == ["exercise"]
    assert [s["id"] for s in body["stories"]] == [100, 101, 102]
    listed = body["stories"][1]
    assert listed["alert_id"] == "a1"
    assert listed["title"] == "Bastion crews drill on Iturup, report 1"
    assert listed["url"] == "https://outlet1.test/story/1"
    assert listed["outlet"] == "outlet1.test"  # no outlet named: the host
    assert body["stories"][0]["outlet"] == "Outlet 0"
    assert listed["events"] == ["exercise"]
    assert listed["evidence"] == ["Troops drilled on Iturup, report 1 said."]
    json.dumps(body)


def test_an_alert_lists_its_one_story_too() -> None:
    member = _member(5)
    body = webhook_body(Notice(alert=member.alert, story=member.story))
    assert body["kind"] == "alert"
    assert [s["id"] for s in body["stories"]] == [105]


def test_a_new_event_alert_in_a_group_is_an_alert_naming_the_group() -> None:
    member = _member(5)
    notice = Notice(alert=member.alert, story=member.story, group=FIRST)
    assert kind(notice) == "alert"
    assert webhook_body(notice)["group"]["id"] == 1
    assert "Same event as" in json.dumps(slack_message(notice))


def test_slack_lists_a_full_batch_compactly_within_its_limits() -> None:
    long_url = "https://outlet.test/" + "x" * 900
    members = tuple(
        _member(i, title=("<!channel> & " * 30) if i % 3 else None, url=long_url if i % 7 else None)
        for i in range(100)
    )
    message = slack_message(_batch(members))
    assert len(message["blocks"]) <= 50
    header = message["blocks"][0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    assert "100 more stories" in header["text"]["text"]
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert all(len(s) <= 3000 for s in sections)
    lines = [line for s in sections for line in s.splitlines() if line.startswith("•")]
    assert len(lines) == 100  # every story listed, none left out
    assert "<!channel>" not in json.dumps(message)
    assert all(long_url not in line for line in lines)  # too long to link: shown by host


def test_console_and_apprise_name_each_story() -> None:
    members = tuple(_member(i) for i in range(4))
    text = console_text(_batch(members))
    assert text.startswith("[ALSO REPORTED] (high) exercise: 4 more stories")
    assert all(m.story.url in text for m in members)
    title, body = apprise_message(_batch(members))
    assert "4 more stories" in title
    assert all(m.story.url in body for m in members)
    many = tuple(_member(i, title="Drills " * 20) for i in range(100))
    _, body = apprise_message(_batch(many))
    assert len(body) <= 1900 and "…and" in body
