"""`kurilwatch run`, the daemon: polls on schedule, alerts new stories once, stops cleanly."""

from __future__ import annotations

import json
import signal
import time

from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key


def test_daemon_polls_alerts_new_stories_once_and_stops_on_sigterm(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("etorofu-drill-protest"))
        site.add_story(story_by_key("kuril-earthquake"))
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        proc = kw.popen("run")
        try:
            [first] = rx.wait_for(1, timeout=60)
            assert first.json()["story"]["title"] == story_by_key("etorofu-drill-protest").title
            polls_before = site.hits("/rss.xml")
            site.add_story(story_by_key("ru-iturup-exercise"))
            _, second = rx.wait_for(2, timeout=30)
            assert second.json()["events"] == ["exercise"]
            time.sleep(3)  # several more polls: nothing is sent twice
            assert site.hits("/rss.xml") > polls_before + 1
            assert len(rx.received) == 2
            assert len({r.headers["webhook-id"] for r in rx.received}) == 2
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
        assert "daemon.started" in events and events[-1] == "daemon.stopped"
        assert rx.url not in stderr


def test_failing_source_backs_off_and_recovers(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        site.fail("/rss.xml", 500)
        kw.write_config(
            {
                "sources": [{"name": "flaky", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "crawl": {"failure_backoff_max": "4s"},
            }
        )
        proc = kw.popen("run")
        try:
            time.sleep(7)
            # without backoff: ~7 polls (each retried once by the crawler); with it: t=0, 2, 6
            failed_polls = site.hits("/rss.xml")
            assert 2 <= failed_polls <= 8, failed_polls
            site.clear("/rss.xml")
            [alert] = rx.wait_for(1, timeout=30)
            assert alert.json()["events"] == ["protest"]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        backoffs = [json.loads(x) for x in stderr.splitlines() if '"source.backing_off"' in x]
        delays = [b["next_poll_in"] for b in backoffs]
        assert delays[:2] == [2.0, 4.0] and max(delays) == 4.0  # doubling, capped at 4s
