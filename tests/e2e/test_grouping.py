"""Stories about one event, in other words: one alert, then at most one "also reported" per interval."""

from __future__ import annotations

import time

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import FixtureStory


def _story(key: str, title: str, *paragraphs: str) -> FixtureStory:
    return FixtureStory(
        key=key,
        title=title,
        paragraphs=paragraphs,
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest", "exercise"}),
    )


FIRST = _story(
    "matua-drills-protest",
    "Japan protests as 1,500 Russian troops drill on Iturup",
    "Japan lodged a protest with Russia on Thursday after the Eastern Military District said 1,500 troops began drills on Iturup, one of the islands Tokyo calls the Northern Territories.",
    "Chief Cabinet Secretary Yoshimasa Hayashi told reporters the exercise was unacceptable and that the protest had been conveyed through diplomatic channels.",
    "The district said the drills involved Bastion coastal missile crews and Tor air defence units and would last until Saturday.",
)
SECOND = _story(
    "hayashi-iturup-protest",
    "Tokyo lodges protest over Eastern Military District drills",
    "Hayashi said on Thursday that Tokyo had protested against the Eastern Military District exercise, in which 1,500 servicemen are drilling on Iturup with Bastion and Tor systems.",
    "Yoshimasa Hayashi, the chief cabinet secretary, called the drills regrettable and said Japan's position on the Northern Territories was unchanged.",
    "Russian officials said the manoeuvres on the Kurils were planned and would end on Saturday.",
)
THIRD = _story(
    "bastion-tor-iturup",
    "Bastion and Tor crews drill on Iturup; Japan protests",
    "Bastion coastal missile crews and Tor air defence units of the Eastern Military District drilled on Iturup on Thursday, with 1,500 troops taking part.",
    "Japan protested the exercise, Chief Cabinet Secretary Yoshimasa Hayashi said, calling it contrary to Tokyo's stance on the Northern Territories.",
    "The drills run until Saturday, the district said.",
)


def test_one_alert_per_event_then_one_also_reported_per_interval(kw: Kurilwatch) -> None:
    with NewsSite() as a, NewsSite() as b, NewsSite() as c, WebhookReceiver() as rx:
        kw.write_config(
            {
                "sources": [
                    {"name": n, "url": s.feed_url} for n, s in (("a", a), ("b", b), ("c", c))
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "group_interval": "3s",
            }
        )
        a.add_story(FIRST)
        assert kw.run("run", "--once").returncode == 0
        [first] = [r.json() for r in rx.received]
        assert first["kind"] == "alert"
        time.sleep(3.2)
        b.add_story(SECOND)
        assert kw.run("run", "--once").returncode == 0
        _, also = [r.json() for r in rx.received]
        assert also["kind"] == "also_reported" and also["is_update"] is True
        assert also["group"]["id"] == first["story"]["id"]
        assert also["story"]["id"] != first["story"]["id"]
        c.add_story(THIRD)  # within the interval of the last update: stored, not sent
        assert kw.run("run", "--once").returncode == 0
        assert len(rx.received) == 2
    titles = {s["title"] for s in kw.json("stories", "list")}
    assert titles == {FIRST.title, SECOND.title, THIRD.title}


def test_grouping_can_be_turned_off(kw: Kurilwatch) -> None:
    with NewsSite() as a, NewsSite() as b, WebhookReceiver() as rx:
        a.add_story(FIRST)
        b.add_story(SECOND)
        kw.write_config(
            {
                "sources": [{"name": "a", "url": a.feed_url}, {"name": "b", "url": b.feed_url}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "group_events": False,
            }
        )
        assert kw.run("run", "--once").returncode == 0
        assert sorted(r.json()["kind"] for r in rx.received) == ["alert", "alert"]
