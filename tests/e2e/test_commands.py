"""The other commands a user runs: rules test, Slack delivery, unusable pages."""

from __future__ import annotations

import json

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES, FixtureStory, story_by_key


def test_rules_test_reads_json_lines_and_needs_no_database(kw: Kurilwatch, seed_text: str) -> None:
    kw.env.pop("KURILWATCH_DATABASE_URL")
    lines = [
        json.dumps({"id": s.key, "title": s.title, "text": s.text, "language": s.language})
        for s in STORIES
    ]
    lines.append(json.dumps({"id": "seed", "title": None, "text": seed_text, "language": "en"}))
    done = kw.run("rules", "test", "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    verdicts = {v["id"]: v for v in map(json.loads, done.stdout.splitlines())}
    for story in STORIES:
        verdict = verdicts[story.key]
        assert verdict["topic"] == story.expect_topic, story.key
        assert set(verdict["events"]) == story.expect_events, story.key
        for rule, why in verdict["evidence"].items():
            assert why["sentences"] and why["terms"], (story.key, rule)
    assert set(verdicts["seed"]["events"]) == {"protest", "exercise"}


def test_rules_test_rejects_a_bad_line_with_its_number(kw: Kurilwatch) -> None:
    done = kw.run("rules", "test", "-", stdin='{"id": 1, "text": "Kuril"}\nnot json\n')
    assert done.returncode == 2
    assert "line 2" in done.stderr


def test_invalid_rule_fails_at_start_with_its_name(kw: Kurilwatch) -> None:
    kw.write_config(
        {
            "sources": [{"name": "s", "url": "http://127.0.0.1:9/rss.xml"}],
            "rules": [{"name": "broken", "event": "protest", "query": "(protest AND"}],
        }
    )
    done = kw.run("run", "--once")
    assert done.returncode == 2
    assert str(kw.config) in done.stderr and "rule 'broken'" in done.stderr
    assert "column" in done.stderr


def test_rule_with_no_channel_is_refused_at_start(kw: Kurilwatch) -> None:
    # `channels: []` once sent the rule's alerts to every channel and the run exited 0
    kw.write_config(
        {
            "sources": [{"name": "s", "url": "http://127.0.0.1:9/rss.xml"}],
            "channels": [{"name": "terminal", "kind": "console"}],
            "rules": [{"name": "quiet", "event": "protest", "query": "protest", "channels": []}],
        }
    )
    done = kw.run("run", "--once")
    assert done.returncode == 2, done.stderr
    assert f"{kw.config}: rules[0].channels: expected at least one channel name" in done.stderr


def test_slack_channel_gets_block_kit_with_escaped_text(kw: Kurilwatch) -> None:
    base = story_by_key("nemuro-rally")
    tricky = FixtureStory(
        key="tricky",
        title="Nemuro rally <!channel> & <http://evil.test|click> on Kurils",
        paragraphs=base.paragraphs,
        language="en",
        expect_topic=True,
        expect_events=base.expect_events,
    )
    with NewsSite() as site, WebhookReceiver() as slack:
        site.add_story(tricky)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url}],
                "channels": [{"name": "desk", "kind": "slack", "url": slack.url}],
                "delivery": fast_delivery(),
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        [message] = slack.received
    body = message.json()
    raw = message.text
    assert "<!channel>" not in raw and "<http://evil.test" not in raw
    assert body["blocks"][0]["type"] == "header"
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert "&lt;!channel&gt;" in body["text"]
    assert body["blocks"][1]["text"]["text"].startswith(f"*<{site.url}/news/tricky|")
    [alert] = kw.json("alerts", "list")
    assert alert["status"] == "delivered"


def test_slack_permanent_error_goes_dead_without_retry(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as slack:
        site.add_story(story_by_key("nemuro-rally"))
        slack.respond(404, b"channel_not_found", times=5)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url}],
                "channels": [{"name": "desk", "kind": "slack", "url": slack.url}],
                "delivery": fast_delivery(),
            }
        )
        assert kw.run("run", "--once").returncode == 0
        assert kw.run("run", "--once").returncode == 0
        assert len(slack.received) == 1
    [alert] = kw.json("alerts", "list")
    assert alert["status"] == "dead" and alert["last_error"] == "HTTP 404 channel_not_found"


def test_unusable_pages_are_judged_on_the_feed_text_and_the_rest_carry_on(
    kw: Kurilwatch,
) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        full = site.add_story(story_by_key("ru-iturup-exercise"))
        empty = site.add_story(story_by_key("nemuro-rally"), slug="empty")
        gone = site.add_story(story_by_key("kunashir-bastion"), slug="gone")
        site.serve_raw("/news/empty", b"<html><body><nav>menu</nav></body></html>", "text/html")
        site.fail("/news/gone", 404)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        told = {r.json()["story"]["url"]: r.json() for r in rx.received}
        assert {url: body["events"] for url, body in told.items()} == {
            full: ["exercise"],
            empty: ["protest"],
            gone: ["exercise"],
        }
        assert [told[u]["story"]["text_source"] for u in (full, empty, gone)] == [
            "page",
            "feed",
            "feed",
        ]
        logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        reasons = {e["url"]: e["reason"] for e in logged if e["event"] == "entry.feed_text"}
        assert set(reasons) == {empty, gone}
        assert reasons[gone] == "the page answered HTTP 404"
        assert reasons[empty].startswith("no article text")
        site.add_story(story_by_key("kuril-earthquake"))  # the feed changes: no 304
        assert kw.run("run", "--once").returncode == 0
        assert site.hits("/news/kuril-earthquake") == 1
        assert site.hits("/news/empty") == 1 and site.hits("/news/gone") == 1
