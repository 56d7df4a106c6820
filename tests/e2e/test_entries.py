"""Durable entries end to end: unreadable pages alert from the feed's text, failing pages are
read in the end, and the entries a killed daemon held are finished by another."""

from __future__ import annotations

import signal
import time
from urllib.parse import urlsplit

import sqlalchemy as sa

from storage.engine import database_url as sa_url
from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key

CONSENT_PAGE = b"""<!doctype html><html><head><title>Before you continue</title></head><body>
<div class="consent"><h1>We value your privacy</h1>
<p>We and our partners use cookies to store and access information on your device. With your
consent we use them for personalised ads and content, measurement and audience research.</p>
<p>You can accept all, reject all or manage preferences at any time in our privacy settings.</p>
<button>Accept all</button><button>Reject all</button></div></body></html>"""
JS_SHELL = b"""<!doctype html><html><head><title>Loading</title>
<script src="/static/app.js"></script></head><body><div id="root"></div>
<noscript>You need to enable JavaScript to run this app.</noscript></body></html>"""
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _path(url: str) -> str:
    return urlsplit(url).path


def test_unreadable_pages_alert_from_the_feed_text_marked_so(kw: Kurilwatch) -> None:
    blocked = {
        "etorofu-drill-protest": "HTTP 403",
        "kunashir-bastion": "cookie-consent",
        "nemuro-rally": "JavaScript shell",
        "ja-drill-protest": "PDF",
    }
    with NewsSite() as site, WebhookReceiver() as rx:
        urls = {key: site.add_story(story_by_key(key)) for key in (*blocked, "ru-iturup-exercise")}
        site.fail(_path(urls["etorofu-drill-protest"]), 403)
        site.serve_raw(_path(urls["kunashir-bastion"]), CONSENT_PAGE, "text/html")
        site.serve_raw(_path(urls["nemuro-rally"]), JS_SHELL, "text/html")
        site.serve_raw(_path(urls["ja-drill-protest"]), PDF, "application/pdf")
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1m"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr

    payloads = {p["story"]["url"]: p for p in (r.json() for r in rx.received)}
    assert set(payloads) == set(urls.values())  # every flagged story alerted, none twice
    assert len(rx.received) == len(urls)
    for key, url in urls.items():
        story = payloads[url]["story"]
        assert set(payloads[url]["events"]) == set(story_by_key(key).expect_events)
        if key in blocked:
            assert story["text_source"] == "feed"
            assert blocked[key] in story["text_reason"]
        else:
            assert story["text_source"] == "page"
            assert story["text_reason"] is None
    entries = {e["url"]: e for e in kw.json("entries", "list")}
    for key, url in urls.items():
        expected = "feed" if key in blocked else "done"
        assert (entries[url]["status"], entries[url]["verdict"]) == (expected, "stored")
    feed_only = kw.json("entries", "list", "--status", "feed")
    assert {e["url"] for e in feed_only} == {urls[k] for k in blocked}
    assert kw.json("status")["entries"] == {"pending": 0, "retrying": 0, "done": 1, "feed": 4}
    summary = kw.run("status")
    assert "Entries: 0 waiting, 0 retrying, 1 judged on their page, 4 on the feed's text" in (
        summary.stdout
    )
    shown = {s["url"]: s for s in kw.json("stories", "list")}
    assert shown[urls["nemuro-rally"]]["text_source"] == "feed"
    assert shown[urls["ru-iturup-exercise"]]["text_source"] == "page"


def test_a_page_answering_503_twice_is_read_within_a_minute(kw: Kurilwatch) -> None:
    story = story_by_key("ru-iturup-exercise")
    with NewsSite() as site, WebhookReceiver() as rx:
        url = site.add_story(story)
        site.fail(_path(url), 503, times=2)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "10m"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        proc = kw.popen("run")
        try:
            [alert] = rx.wait_for(1, timeout=60)
            assert site.hits(_path(url)) == 3
            assert site.hits("/rss.xml") == 1  # the entry waited for its own next attempt
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "entry.retry_scheduled" in stderr
    assert alert.json()["story"]["text_source"] == "page"  # judged on the page it waited for
    [entry] = kw.json("entries", "list")
    assert (entry["status"], entry["attempts"], entry["last_error"]) == ("done", 3, "HTTP 503")


def test_entries_a_killed_daemon_held_are_finished_by_another(
    kw: Kurilwatch, database_url: str
) -> None:
    keys = ("etorofu-drill-protest", "kunashir-bastion")
    engine = sa.create_engine(sa_url(database_url))
    with NewsSite() as site, WebhookReceiver() as rx:
        urls = [site.add_story(story_by_key(key)) for key in keys]
        for url in urls:
            site.hang(_path(url), 120)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "10m"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "crawl": {"timeout": "5s"},
            }
        )
        first = kw.popen("run")
        try:
            deadline = time.monotonic() + 60
            leased = 0
            while time.monotonic() < deadline and leased < len(urls):
                with engine.connect() as conn:
                    leased = conn.execute(
                        sa.text("SELECT count(*) FROM entries WHERE leased_by IS NOT NULL")
                    ).scalar_one()
                time.sleep(0.05)
            assert leased == len(urls)
        finally:
            first.kill()  # SIGKILL: no chance to give anything back
            first.communicate(timeout=30)
        site.clear()
        second = kw.popen("run")
        try:
            received = rx.wait_for(len(urls), timeout=90)
            time.sleep(1)
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = second.communicate(timeout=60)
        assert second.returncode == 0, stderr
    assert sorted(r.json()["story"]["url"] for r in received) == sorted(urls)
    assert len(rx.received) == len(urls)
    entries = kw.json("entries", "list")
    assert [(e["status"], e["attempts"]) for e in entries] == [("done", 2)] * len(urls)
    engine.dispose()
