"""`kurilwatch run --once` against a local news site and a local webhook receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import Kurilwatch, events_by_title, fast_delivery, seed_story
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES, story_by_key


def test_once_alerts_each_story_once_and_a_second_run_adds_nothing(
    kw: Kurilwatch, seed_text: str, webhook_secret: str
) -> None:
    seed = seed_story(seed_text)
    with NewsSite() as site, WebhookReceiver() as rx:
        for story in (*STORIES, seed):
            site.add_story(story)
        kw.write_config(
            {
                "sources": [{"name": "local", "kind": "feed", "url": site.feed_url, "every": "1m"}],
                "channels": [
                    {"name": "ops", "kind": "webhook", "url": rx.url, "secret": webhook_secret},
                    {"name": "terminal", "kind": "console"},
                ],
                "delivery": fast_delivery(),
            }
        )
        first = kw.run("run", "--once")
        assert first.returncode == 0, first.stderr

        expected = {s.title: set(s.expect_events) for s in (*STORIES, seed) if s.expect_events}
        payloads = [r.json() for r in rx.received]
        assert events_by_title(payloads) == expected
        assert len(payloads) == len(expected)  # one alert per story, no repeats
        seed_alert = next(p for p in payloads if p["story"]["title"] == seed.title)
        assert set(seed_alert["events"]) == {"protest", "exercise"}
        assert seed_alert["evidence"] and all(isinstance(s, str) for s in seed_alert["evidence"])
        assert seed_alert["story"]["urls"] == [seed_alert["story"]["url"]]
        for request in rx.received:
            assert request.headers["webhook-id"] == request.json()["id"]
            Webhook(webhook_secret).verify(request.body, dict(request.headers))
        for title in expected:
            assert title in first.stdout  # the console channel printed it
        article_hits = sum(1 for r in site.requests if r.path.startswith("/news/"))
        assert article_hits == len(STORIES) + 1

        second = kw.run("run", "--once")
        assert second.returncode == 0, second.stderr
        assert len(rx.received) == len(expected)
        assert sum(1 for r in site.requests if r.path.startswith("/news/")) == article_hits

        # without validators the feed is refetched whole: only the one new page is fetched
        site.validators = False
        site.add_story(story_by_key("okinawa-joint-drills"), slug="okinawa-2")
        third = kw.run("run", "--once")
        assert third.returncode == 0, third.stderr
        assert sum(1 for r in site.requests if r.path.startswith("/news/")) == article_hits + 1
        assert len(rx.received) == len(expected)
        fourth = kw.run("run", "--once")  # same bytes again: the body hash ends the poll
        polled = [json.loads(x) for x in fourth.stderr.splitlines() if '"source.polled"' in x]
        assert [(p["not_modified"], p["new"]) for p in polled] == [(True, 0)]

    alerts = kw.json("alerts", "list")
    assert len(alerts) == 2 * len(expected)
    assert {a["status"] for a in alerts} == {"delivered"}
    assert {a["channel"] for a in alerts} == {"ops", "terminal"}
    stories = kw.json("stories", "list")
    titles = {s["title"] for s in stories}
    assert seed.title in titles
    assert "Sockeye" not in json.dumps(stories)  # off-topic stories are not stored
    [source] = kw.json("sources", "list")
    assert source["name"] == "local" and source["last_ok_at"] and source["last_error"] is None


def test_broken_source_and_failing_receiver_lose_nothing(kw: Kurilwatch) -> None:
    story = next(s for s in STORIES if s.key == "etorofu-drill-protest")
    with NewsSite() as good, NewsSite() as broken, WebhookReceiver() as rx:
        good.add_story(story)
        broken.add_story(story)
        broken.fail("/rss.xml", 500)
        rx.respond(503, b"down", times=1)
        kw.write_config(
            {
                "sources": [
                    {"name": "broken", "url": broken.feed_url, "every": "1m"},
                    {"name": "good", "url": good.feed_url, "every": "1m"},
                    {"name": "nothing", "url": "http://127.0.0.1:9/rss.xml", "every": "1m"},
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                # a retry is not due before the run ends; `alerts retry` makes it due
                "delivery": {**fast_delivery(), "retry_initial": "1h", "retry_max": "2h"},
            }
        )
        first = kw.run("run", "--once")
        assert first.returncode == 0, first.stderr
        assert rx.url not in first.stderr + first.stdout  # webhook URLs are secrets
        assert len(rx.received) == 1
        [alert] = kw.json("alerts", "list")
        assert alert["status"] == "pending" and alert["attempts"] == 1
        assert alert["last_error"] == "HTTP 503"
        health = {s["name"]: s for s in kw.json("sources", "list")}
        assert health["broken"]["last_error"] == "HTTP 500"
        assert health["broken"]["consecutive_failures"] == 1
        assert "connection refused" in health["nothing"]["last_error"]
        assert health["good"]["last_error"] is None and health["good"]["last_ok_at"]

        nothing_due = kw.run("run", "--once")
        assert nothing_due.returncode == 0 and len(rx.received) == 1
        requeued = kw.run("alerts", "retry", alert["id"])
        assert requeued.returncode == 0 and "re-queued 1 alert" in requeued.stdout
        second = kw.run("run", "--once")
        assert second.returncode == 0, second.stderr
        first_try, retry = rx.received
        assert retry.headers["webhook-id"] == first_try.headers["webhook-id"] == alert["id"]
        [alert] = kw.json("alerts", "list")
        assert alert["status"] == "delivered" and alert["attempts"] == 2


def test_old_stories_are_stored_but_not_alerted(kw: Kurilwatch) -> None:
    story = next(s for s in STORIES if s.key == "kunashir-bastion")
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story, published=datetime.now(UTC) - timedelta(days=10))
        kw.write_config(
            {
                "sources": [{"name": "archive", "url": site.feed_url}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "alert_max_age": "72h",
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        assert rx.received == []
    [stored] = kw.json("stories", "list")
    assert stored["title"] == story.title and stored["events"] == ["exercise"]
    assert kw.json("alerts", "list") == []


def test_invalid_config_names_file_key_and_expectation(kw: Kurilwatch) -> None:
    kw.config.write_text("sources:\n  - name: a\n    url: https://x.test/rss\n    every: often\n")
    done = kw.run("run", "--once")
    assert done.returncode == 2
    assert f"{kw.config}: sources[0].every: expected a duration" in done.stderr
