"""One story, one alert: syndicated copies on several outlets fold into one story."""

from __future__ import annotations

import json

import yaml

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES, FixtureStory
from tests.support.syndicate import syndicate

ORIGINALS = tuple(s for s in STORIES if s.expect_events)
OUTLET_STYLES = {"Regional Daily": "wire", "Asia Desk": "new_headline", "Harbour Post": "dateline"}

# Two different stories about the same event, place and words, written independently: they
# must stay two stories (and so two alerts).
SAME_EVENT_A = FixtureStory(
    key="iturup-drill-report-a",
    title="Russian troops hold drills on Iturup; Tokyo lodges protest",
    paragraphs=(
        "Russian troops held artillery drills on Iturup on Wednesday, the Eastern Military District said, and Japan lodged a protest through diplomatic channels.",
        "About 800 servicemen took part in the exercise, which included coastal missile crews and armoured vehicles, according to the district's press office.",
        "Japan's top government spokesman told reporters in Tokyo that the drills were unacceptable and contrary to Japan's position on the Northern Territories.",
        "The two countries have never signed a peace treaty because of the dispute over the islands, which Soviet forces seized in 1945.",
    ),
    language="en",
    expect_topic=True,
    expect_events=frozenset({"protest", "exercise"}),
)
SAME_EVENT_B = FixtureStory(
    key="iturup-drill-report-b",
    title="Japan protests as Russia stages artillery exercise on Iturup",
    paragraphs=(
        "Tokyo formally protested on Wednesday after Russian forces staged an artillery exercise on Iturup, one of the disputed islands off Hokkaido.",
        "Defence officials in Moscow said crews practised firing from coastal positions and that the drill tested the readiness of units stationed on the Kurils.",
        "A Japanese Foreign Ministry official called the move deeply regrettable and said the protest had been conveyed to the Russian embassy.",
        "Relations have been frozen since 2022, and visa-free visits by former Japanese residents of the islands remain suspended.",
    ),
    language="en",
    expect_topic=True,
    expect_events=frozenset({"protest", "exercise"}),
)

# A story reported first without its last paragraph (protest only), then in full (it also
# reports drills): one alert, then one update.
BARRACKS = FixtureStory(
    key="etorofu-barracks-protest",
    title="Japan protests Russian construction of barracks on Etorofu",
    paragraphs=(
        "Japan lodged a strong protest with Russia on Tuesday over the construction of new barracks on Etorofu, one of the four islands Tokyo calls its Northern Territories.",
        "The chief cabinet secretary said the protest had been conveyed through diplomatic channels and that the construction could not be accepted given Japan's position on the islands.",
        "The Foreign Ministry also summoned a Russian embassy official in Tokyo to deliver the message, officials said.",
        "Moscow has rejected similar complaints in the past, saying the Southern Kurils became part of Russia after the Second World War.",
        "Separately, Russia's Eastern Military District said about 1,000 troops began live-fire drills on Etorofu and Kunashiri on Monday, involving artillery and coastal missile systems.",
    ),
    language="en",
    expect_topic=True,
    expect_events=frozenset({"protest", "exercise"}),
)


def _copy(story: FixtureStory, style: str) -> FixtureStory:
    title, text = syndicate(story.title, story.text, style)
    return FixtureStory(
        key=f"{story.key}-{style}",
        title=title,
        paragraphs=tuple(text.split("\n\n")),
        language=story.language,
        expect_topic=story.expect_topic,
        expect_events=story.expect_events,
    )


def test_syndicated_copies_make_one_story_and_one_alert_each(kw: Kurilwatch) -> None:
    with (
        NewsSite(name="Wire Service") as wire,
        NewsSite(name="Regional Daily") as regional,
        NewsSite(name="Asia Desk") as desk,
        NewsSite(name="Harbour Post") as harbour,
        WebhookReceiver() as rx,
    ):
        outlets = {"Regional Daily": regional, "Asia Desk": desk, "Harbour Post": harbour}
        for story in ORIGINALS:
            wire.add_story(story)
            for name, site in outlets.items():
                site.add_story(_copy(story, OUTLET_STYLES[name]), slug=f"{story.key}-copy")
                site.link_query = "?utm_source=feed&utm_campaign=wire"
        wire.add_story(SAME_EVENT_A)
        desk.add_story(SAME_EVENT_B)
        kw.write_config(
            {
                "sources": [
                    {"name": "wire", "url": wire.feed_url},
                    *(
                        {"name": n.lower().replace(" ", "-"), "url": s.feed_url}
                        for n, s in outlets.items()
                    ),
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                # stories, not event grouping, are under test here (see test_grouping.py)
                "group_events": False,
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr

        payloads = [r.json() for r in rx.received]
        assert len(payloads) == len(ORIGINALS) + 2  # one per original, two for the same event
        assert not any(p["is_update"] for p in payloads)
        stories = kw.json("stories", "list")
        assert len(stories) == len(ORIGINALS) + 2
        for story in stories:
            if any(key in u for u in story["urls"] for key in (SAME_EVENT_A.key, SAME_EVENT_B.key)):
                assert len(story["urls"]) == 1  # written independently: never merged
            else:
                assert len(story["urls"]) == 4, story
                assert all("utm_" not in u for u in story["urls"])
                assert {c["source"] for c in story["copies"]} == {
                    "wire",
                    "regional-daily",
                    "asia-desk",
                    "harbour-post",
                }
        logged = [json.loads(x) for x in done.stderr.splitlines() if '"article.joined"' in x]
        assert {e["how"] for e in logged} <= {"exact", "near"} and len(logged) == 3 * len(ORIGINALS)

        # an hour later another outlet carries one of them: it joins, and no new alert is sent
        with NewsSite(name="Late Edition") as late:
            late.add_story(_copy(ORIGINALS[0], "footer"), slug="late-copy")
            data = yaml.safe_load(kw.config.read_text())
            data["sources"].append({"name": "late", "url": late.feed_url})
            kw.write_config(data)
            again = kw.run("run", "--once")
            assert again.returncode == 0, again.stderr
        assert len(rx.received) == len(payloads)
        original = f"/news/{ORIGINALS[0].key}"
        joined = next(
            s for s in kw.json("stories", "list") if any(u.endswith(original) for u in s["urls"])
        )
        assert len(joined["urls"]) == 5
        assert kw.json("stories", "list")  # still readable
        shown = json.loads(kw.run("stories", "show", str(joined["id"])).stdout)
        assert [c["source"] for c in shown["copies"]][-1] == "late"


def test_a_copy_that_adds_an_event_sends_one_update(kw: Kurilwatch) -> None:
    cut = FixtureStory(
        key="barracks-short",
        title=BARRACKS.title,
        paragraphs=BARRACKS.paragraphs[:4],
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest"}),
    )
    with NewsSite(name="Short") as short, NewsSite(name="Full") as full, WebhookReceiver() as rx:
        short.add_story(cut)
        kw.write_config(
            {
                "sources": [
                    {"name": "short", "url": short.feed_url},
                    {"name": "full", "url": full.feed_url},
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        assert kw.run("run", "--once").returncode == 0
        [first] = [r.json() for r in rx.received]
        assert first["events"] == ["protest"] and first["is_update"] is False
        full.add_story(BARRACKS)
        assert kw.run("run", "--once").returncode == 0
        _, update = [r.json() for r in rx.received]
        assert update["is_update"] is True
        assert update["events"] == ["protest", "exercise"] and update["rules"] == ["exercise"]
        assert update["story"]["id"] == first["story"]["id"]
        assert len(update["story"]["urls"]) == 2 and update["id"] != first["id"]
        assert kw.run("run", "--once").returncode == 0
        assert len(rx.received) == 2
