"""Stories about one event, in other words: one alert, then every other story listed in the
event's "also reported" notifications (at most one per interval), none dropped; a new event
type in the group is alerted at once."""

from __future__ import annotations

import random
import signal
import time
from datetime import datetime
from itertools import pairwise
from typing import Any

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import FixtureStory

NAMES = (
    "The Eastern Military District said 1,500 troops of its Bastion and Tor units drilled on "
    "Iturup, Colonel Andrei Marchenko told reporters in Yuzhno-Kurilsk."
)
_FILLER = [
    "crews",
    "vehicles",
    "launchers",
    "convoys",
    "radar",
    "batteries",
    "shore",
    "roads",
    "harbour",
    "villages",
    "fog",
    "rain",
    "patrols",
    "observers",
    "ships",
    "boats",
    "hills",
    "valleys",
    "coast",
    "camps",
    "tents",
    "fuel",
    "trucks",
    "cables",
]


def _report(i: int, *, protest: bool = False) -> FixtureStory:
    """Report `i` of the drills on Iturup: the event's names, in words of its own."""
    rng = random.Random(i)
    own = [" ".join(rng.choice(_FILLER) for _ in range(14)).capitalize() + "." for _ in range(4)]
    lead = "Japan lodged a protest with Russia over the drills on Iturup. " if protest else ""
    return FixtureStory(
        key=f"iturup-drills-{i}" + ("-protest" if protest else ""),
        title=f"Troops drill on Iturup ({'Japan protests' if protest else f'report {i}'})",
        paragraphs=(lead + NAMES, *own),
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest", "exercise"} if protest else {"exercise"}),
    )


def _config(kw: Kurilwatch, sites: list[NewsSite], rx: WebhookReceiver, **extra: Any) -> None:
    kw.write_config(
        {
            "sources": [
                {"name": f"s{i}", "url": s.feed_url, "every": "1s"} for i, s in enumerate(sites)
            ],
            "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
            "delivery": fast_delivery(),
            **extra,
        }
    )


def _pending(kw: Kurilwatch) -> list[dict[str, Any]]:
    return [a for a in kw.json("alerts", "list") if a["status"] == "pending"]


def _wait_until_due(pending: list[dict[str, Any]]) -> None:
    """Sleep until the latest pending alert is due (a time the database holds, not a guess)."""
    due = max(datetime.fromisoformat(a["next_attempt_at"]) for a in pending)
    time.sleep(max(0.0, (due - datetime.now(due.tzinfo)).total_seconds()) + 0.05)


def test_many_stories_about_one_event_are_all_listed_none_dropped(kw: Kurilwatch) -> None:
    first, grouped = _report(0), [_report(i) for i in range(1, 13)]
    with NewsSite() as a, NewsSite() as b, WebhookReceiver() as rx:
        _config(kw, [a, b], rx, group_interval="3s")
        a.add_story(first)
        assert kw.run("run", "--once").returncode == 0
        [alert] = [r.json() for r in rx.received]
        assert alert["kind"] == "alert" and alert["story"]["title"] == first.title
        for story in grouped:
            b.add_story(story)
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        # The stories wait for the interval's end: a run that ends first leaves them pending
        # (then the test waits for the time the database set and runs again); a run slow
        # enough to cross that end sends those stored so far and the rest an interval later.
        for _ in range(4):
            pending = _pending(kw)
            if not pending:
                break
            assert {a["kind"] for a in pending} == {"also_reported"}
            _wait_until_due(pending)
            assert kw.run("run", "--once").returncode == 0
        assert _pending(kw) == []
        notified = [r.json() for r in rx.received]
    assert notified[0] == alert
    batches = notified[1:]
    assert batches and {b["kind"] for b in batches} == {"also_reported"}
    listed = [s["title"] for b in batches for s in b["stories"]]
    assert sorted(listed) == sorted(s.title for s in grouped)  # each once, none dropped
    made = [datetime.fromisoformat(p["created_at"]) for p in notified]
    assert all((later - sooner).total_seconds() >= 3 for sooner, later in pairwise(made))
    for also in batches:
        assert also["is_update"] is True and also["group"]["id"] == alert["story"]["id"]
        for story in also["stories"]:
            assert story["url"].startswith(b.base_url) and story["outlet"]
            assert story["events"] == ["exercise"] and story["evidence"]
        assert also["story"]["title"] in {s.title for s in grouped}  # the promised fields stay
        assert also["events"] == ["exercise"] and also["evidence"] and also["rules"]
    status = kw.json("status")
    assert status["unnotified"] == 0
    rows = kw.json("alerts", "list")
    assert len(rows) == 13 and {r["status"] for r in rows} == {"delivered"}


def test_a_protest_after_two_drill_reports_is_alerted_at_once(kw: Kurilwatch) -> None:
    with NewsSite() as a, NewsSite() as b, NewsSite() as c, WebhookReceiver() as rx:
        _config(kw, [a, b, c], rx, group_interval="1h")
        a.add_story(_report(0))
        assert kw.run("run", "--once").returncode == 0
        b.add_story(_report(1))
        assert kw.run("run", "--once").returncode == 0
        assert len(rx.received) == 1  # the second drill report waits for the hour to end
        c.add_story(_report(2, protest=True))
        assert kw.run("run", "--once").returncode == 0
        first, protest = [r.json() for r in rx.received]
    assert first["events"] == ["exercise"]
    assert protest["kind"] == "alert" and protest["is_update"] is False
    assert protest["events"] == ["protest", "exercise"]
    assert protest["story"]["title"] == _report(2, protest=True).title
    assert protest["group"]["id"] == first["story"]["id"]  # named as a story of the event
    waiting = [r for r in kw.json("alerts", "list") if r["kind"] == "also_reported"]
    assert [(r["status"], r["story_id"]) for r in waiting] == [("pending", waiting[0]["story_id"])]
    assert kw.json("status")["unnotified"] == 0  # a waiting story is named by its batch
    shown = kw.run("status")
    assert "Flagged stories no notification names: 0" in shown.stdout


def test_the_batch_goes_out_when_the_interval_ends_without_another_story(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        _config(kw, [site], rx, group_interval="2s")
        site.add_story(_report(0))
        proc = kw.popen("run")
        try:
            [alert] = rx.wait_for(1, timeout=60)
            site.add_story(_report(1))
            _, also = rx.wait_for(2, timeout=60)  # no further story needed
            site.add_story(_report(2))
            _, _, later = rx.wait_for(3, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    first, batch, next_batch = alert.json(), also.json(), later.json()
    assert [s["title"] for s in batch["stories"]] == [_report(1).title]
    assert [s["title"] for s in next_batch["stories"]] == [_report(2).title]
    assert batch["kind"] == next_batch["kind"] == "also_reported"
    # at most one notification of the group per interval (times the daemon decided them)
    made = [datetime.fromisoformat(p["created_at"]) for p in (first, batch, next_batch)]
    assert (made[1] - made[0]).total_seconds() >= 2
    assert (made[2] - made[1]).total_seconds() >= 2
    assert len({r.headers["webhook-id"] for r in (alert, also, later)}) == 3


def test_grouping_can_be_turned_off(kw: Kurilwatch) -> None:
    with NewsSite() as a, NewsSite() as b, WebhookReceiver() as rx:
        a.add_story(_report(0))
        b.add_story(_report(1))
        _config(kw, [a, b], rx, group_events=False)
        assert kw.run("run", "--once").returncode == 0
        assert sorted(r.json()["kind"] for r in rx.received) == ["alert", "alert"]
