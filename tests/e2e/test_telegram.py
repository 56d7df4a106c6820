"""`kind: telegram` by the real command: a t.me/s-style stand-in channel and a webhook receiver.

Posts become stories judged on their own text (no page fetched), event posts alert once,
a poll pages back with `?before=` until it reaches a post it has seen or `max_pages`, and a
channel without a public preview is a clear source error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crawler.telegram import post_title
from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.receiver import WebhookReceiver
from tests.support.telegram import DESK_POSTS, PROTEST_POST, ChannelText, Post, TelegramPreview

FILLERS = 12
"""Off-topic posts between the desk's, so the channel spans two preview pages."""


def _post(number: int, item: ChannelText, when: datetime) -> Post:
    return Post(
        id=number,
        text=item.text,
        published=when,
        photo=item.photo,
        link_preview=item.link_preview,
    )


def _rules_test(kw: Kurilwatch, items: list[ChannelText]) -> dict[str, set[str]]:
    """What `kurilwatch rules test` says of each item's text, by the title it is told under."""
    lines = [
        json.dumps({"id": post_title(i.shown()), "title": post_title(i.shown()), "text": i.shown()})
        for i in items
    ]
    done = kw.run("rules", "test", "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {v["id"]: set(v["events"]) for v in verdicts if v["events"]}


def test_posts_become_stories_alert_once_and_a_second_poll_reads_one_page(kw: Kurilwatch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    fillers = [
        ChannelText(key=f"filler-{n}", text=f"Fleet football league, round {n}: results inside.")
        for n in range(FILLERS)
    ]
    # the desk's first four posts are the oldest: they are on the second preview page
    items = [*DESK_POSTS[:4], *fillers, *DESK_POSTS[4:]]
    posts = [_post(n, item, now - timedelta(hours=30 - n)) for n, item in enumerate(items, 1)]
    with TelegramPreview(page_size=20) as tg, WebhookReceiver() as rx:
        url = tg.add_channel("kuril_desk", "Kuril Desk", posts)
        kw.write_config(
            {
                "sources": [{"name": "desk", "kind": "telegram", "url": url, "every": "1m"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "group_events": False,  # every event post is its own alert, none batched
            }
        )
        first = kw.run("run", "--once")
        assert first.returncode == 0, first.stderr
        assert tg.page_requests("kuril_desk") == ["/s/kuril_desk", "/s/kuril_desk?before=5"]
        assert set(tg.requests) <= {"/robots.txt", *tg.page_requests("kuril_desk")}

        payloads = [r.json() for r in rx.received]
        alerted = {p["story"]["title"]: set(p["events"]) for p in payloads}
        assert len(payloads) == len(alerted)  # one alert per post
        assert alerted == _rules_test(kw, list(DESK_POSTS))
        expected = {post_title(i.shown()): set(i.events) for i in DESK_POSTS if i.events}
        assert alerted == expected
        for payload in payloads:
            story = payload["story"]
            assert story["text_source"] == "post" and story["text_reason"] is None
            assert story["url"].startswith("https://t.me/kuril_desk/")
            assert story["urls"] == [story["url"]]
        landing = next(p for p in payloads if "Итуруп" in p["story"]["title"])
        assert landing["story"]["url"] == "https://t.me/kuril_desk/1"  # from the older page

        # a new post: the first page now holds posts seen before, so no older page is read
        tg.add_post("kuril_desk", _post(len(items) + 1, PROTEST_POST, now - timedelta(minutes=5)))
        second = kw.run("run", "--once")
        assert second.returncode == 0, second.stderr
        assert tg.page_requests("kuril_desk")[2:] == ["/s/kuril_desk"]
        [new] = [r.json() for r in rx.received[len(payloads) :]]
        assert new["events"] == ["protest"]
        assert new["story"]["url"] == f"https://t.me/kuril_desk/{len(items) + 1}"

        third = kw.run("run", "--once")  # nothing new: one page, no alert
        assert third.returncode == 0, third.stderr
        assert tg.page_requests("kuril_desk")[3:] == ["/s/kuril_desk"]
        assert len(rx.received) == len(payloads) + 1

    stories = kw.json("stories", "list")
    on_topic = [i for i in (*DESK_POSTS, PROTEST_POST) if i.key != "en-band-concert"]
    assert len(stories) == len(on_topic)  # off-topic posts are not stored
    assert {s["text_source"] for s in stories} == {"post"}
    assert {c["outlet"] for s in stories for c in s["copies"]} == {"Kuril Desk"}
    entries = kw.json("entries", "list", "--limit", "100")
    assert len(entries) == len(items) + 1
    assert {e["status"] for e in entries} == {"done"}  # judged on the post: no page, no retry
    [source] = kw.json("sources", "list")
    assert source["last_error"] is None and source["last_ok_at"]


def test_paging_stops_at_max_pages_and_a_hidden_channel_is_a_source_error(
    kw: Kurilwatch,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    busy = [
        Post(id=n, text=f"Garrison canteen menu for day {n}.", published=now - timedelta(minutes=n))
        for n in range(1, 101)
    ]
    with TelegramPreview(page_size=20) as tg:
        long_url = tg.add_channel("busy_channel", "Busy", busy)
        hidden_url = tg.add_channel("closed_channel", "Closed", busy[:3])
        tg.hide("closed_channel")
        kw.write_config(
            {
                "sources": [
                    {"name": "busy", "kind": "telegram", "url": long_url, "max_pages": 3},
                    {"name": "closed", "kind": "telegram", "url": hidden_url},
                    {"name": "nobody", "kind": "telegram", "url": tg.preview_url("no_such_one")},
                ],
                "channels": [{"name": "terminal", "kind": "console"}],
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr
        assert tg.page_requests("busy_channel") == [
            "/s/busy_channel",
            "/s/busy_channel?before=81",
            "/s/busy_channel?before=61",
        ]
    health = {s["name"]: s for s in kw.json("sources", "list")}
    assert health["busy"]["last_error"] is None
    assert health["closed"]["last_error"] == (
        "telegram channel closed_channel is not public or does not exist"
    )
    assert health["nobody"]["last_error"] == (
        "telegram channel no_such_one is not public or does not exist"
    )
    assert health["closed"]["consecutive_failures"] == 1
