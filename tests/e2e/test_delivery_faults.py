"""Alerts are never lost and never doubled, whatever the receiver, the daemon or the database do.

Real local receivers on 127.0.0.1 that fail, throttle, hang or refuse; the real `kurilwatch`
daemon; timers made small through configuration.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
import time

import pytest
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook

from tests.conftest import ADMIN_URL
from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES, story_by_key

EVENTFUL = [s for s in STORIES if s.expect_events]
FAST = {
    "interval": "200ms",
    "timeout": "1s",
    "retry_initial": "100ms",
    "retry_max": "300ms",
}


def _config(
    site: NewsSite, *channels: tuple[str, WebhookReceiver], **delivery: str
) -> dict[str, object]:
    return {
        "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
        "channels": [{"name": name, "kind": "webhook", "url": rx.url} for name, rx in channels],
        "delivery": {**FAST, **delivery},
    }


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stderr


def test_receiver_down_then_up_gets_every_alert_exactly_once(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        for story in EVENTFUL:
            site.add_story(story)
        rx.respond(500, b"down", times=8)
        kw.write_config(_config(site, ("ops", rx)))
        proc = kw.popen("run")
        try:
            rx.wait_for(8 + len(EVENTFUL), timeout=60)
            time.sleep(1.5)  # more polls and drains: nothing more may come
        finally:
            stderr = _stop(proc)
        ids_ok = [r.headers["webhook-id"] for r in rx.received[8:]]
        assert len(ids_ok) == len(set(ids_ok)) == len(EVENTFUL)  # each once, none lost
        assert {r.headers["webhook-id"] for r in rx.received[:8]} <= set(ids_ok)
        assert rx.url not in stderr
    assert {a["status"] for a in kw.json("alerts", "list")} == {"delivered"}


def test_429_retry_after_is_honoured_and_every_attempt_is_signed(
    kw: Kurilwatch, webhook_secret: str
) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        rx.respond(429, b"slow down", headers={"Retry-After": "2"}, times=1)
        config = _config(site, ("ops", rx))
        config["channels"][0]["secret"] = webhook_secret  # type: ignore[index]
        kw.write_config(config)
        proc = kw.popen("run")
        try:
            throttled, accepted = rx.wait_for(2, timeout=30)
        finally:
            _stop(proc)
        assert accepted.monotonic - throttled.monotonic >= 2.0 - 0.05
        assert accepted.headers["webhook-id"] == throttled.headers["webhook-id"]
        for attempt in (throttled, accepted):  # a fresh timestamp and signature per attempt
            Webhook(webhook_secret).verify(attempt.body, dict(attempt.headers))
        assert (
            int(accepted.headers["webhook-timestamp"])
            >= int(throttled.headers["webhook-timestamp"]) + 1
        )


def test_slack_gets_at_most_one_message_a_second(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as slack:
        for story in EVENTFUL[:4]:
            site.add_story(story)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url}],
                "channels": [{"name": "desk", "kind": "slack", "url": slack.url}],
                "delivery": FAST,
            }
        )
        assert kw.run("run", "--once").returncode == 0
        arrivals = [r.monotonic for r in slack.received]
    assert len(arrivals) == 4
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 1.0 - 0.02


def test_alerts_test_sends_a_test_message_now(kw: Kurilwatch) -> None:
    with WebhookReceiver() as rx:
        rx.respond(500, b"no", times=1)
        kw.write_config({"channels": [{"name": "ops", "kind": "webhook", "url": rx.url}]})
        failed = kw.run("alerts", "test", "ops")
        assert failed.returncode == 1 and "failed, would be retried: HTTP 500" in failed.stderr
        done = kw.run("alerts", "test", "ops")
        assert done.returncode == 0 and "ops: delivered (HTTP 200)" in done.stdout
        assert rx.received[-1].json()["story"]["title"] == "kurilwatch test message"
        assert rx.url not in done.stdout + done.stderr + failed.stderr
    unknown = kw.run("alerts", "test", "nope")
    assert unknown.returncode == 2 and "no channel named 'nope'" in unknown.stderr
    assert kw.json("alerts", "list") == []  # the outbox is untouched


@pytest.mark.parametrize(
    ("status", "body"), [(400, b"bad"), (404, b"gone"), (410, b"gone for good")]
)
def test_permanent_refusal_is_one_attempt_and_other_channels_carry_on(
    kw: Kurilwatch, status: int, body: bytes
) -> None:
    with NewsSite() as site, WebhookReceiver() as bad, WebhookReceiver() as good:
        site.add_story(story_by_key("kunashir-bastion"))
        bad.respond(status, body, times=10)
        kw.write_config(_config(site, ("bad", bad), ("good", good)))
        assert kw.run("run", "--once").returncode == 0
        assert kw.run("run", "--once").returncode == 0
        assert len(bad.received) == 1 and len(good.received) == 1
    states = {a["channel"]: (a["status"], a["attempts"]) for a in kw.json("alerts", "list")}
    assert states == {"bad": ("dead", 1), "good": ("delivered", 1)}
    health = {c["name"]: c for c in kw.json("alerts", "channels")}
    assert health["bad"]["healthy"] is False and health["good"]["healthy"] is True
    assert kw.json("alerts", "list", "--status", "dead")[0]["channel"] == "bad"


def test_a_hanging_receiver_times_out_and_does_not_hold_up_others(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as slow, WebhookReceiver() as fast:
        for story in EVENTFUL[:3]:
            site.add_story(story)
        slow.delay(30)
        kw.write_config(_config(site, ("slow", slow), ("fast", fast)))
        proc = kw.popen("run")
        try:
            started = time.monotonic()
            fast.wait_for(3, timeout=30)
            fast_done = time.monotonic() - started
            slow.wait_for(4, timeout=30)  # each attempt ends at the deadline; then retries
        finally:
            _stop(proc)
        assert fast_done < 15  # not waiting behind the hanging receiver's attempts
        arrivals = slow.received
        gaps = [b.monotonic - a.monotonic for a, b in itertools.pairwise(arrivals)]
        assert min(gaps) >= 0.95  # one attempt at a time, each cut at the 1 s deadline
        ids = [r.headers["webhook-id"] for r in arrivals]
        assert len(set(ids)) < len(ids)  # a timed-out alert was tried again under its id
    pending = [a for a in kw.json("alerts", "list") if a["channel"] == "slow"]
    assert all(a["status"] == "pending" for a in pending)
    assert any(a["last_error"] == "no answer within 1s" for a in pending)


def test_sigkill_during_a_post_then_restart_delivers_under_the_same_id(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        rx.delay(20)
        kw.write_config(_config(site, ("ops", rx), timeout="10s"))
        proc = kw.popen("run")
        [in_flight] = rx.wait_for(1, timeout=90)
        proc.kill()  # SIGKILL: no cleanup, the row stays leased
        proc.wait(timeout=10)
        rx.delay(0)
        restarted = kw.popen("run")
        try:
            # after the lease (the deadline plus a margin) lapses; generous for a loaded machine
            _, redelivered = rx.wait_for(2, timeout=150)
        finally:
            _stop(restarted)
        assert redelivered.headers["webhook-id"] == in_flight.headers["webhook-id"]
        time.sleep(0.5)
        assert len(rx.received) == 2
    [alert] = kw.json("alerts", "list")
    assert alert["status"] == "delivered"


def _test_cluster() -> tuple[str, str] | None:
    """(version, name) of the local Debian cluster serving `KURILWATCH_TEST_DATABASE_URL`:
    the one listening on its port, when its host is this machine; None if there is none."""
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        return None
    url = make_url(ADMIN_URL)
    if url.host not in (None, "", "127.0.0.1", "localhost", "::1") and not url.host.startswith("/"):
        return None
    listed = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    for line in listed.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == (url.port or 5432):
            return version, name
    return None


TEST_CLUSTER = _test_cluster()


@pytest.mark.skipif(
    TEST_CLUSTER is None,
    reason="KURILWATCH_TEST_DATABASE_URL is not served by a local Debian cluster (pg_ctlcluster)",
)
def test_postgresql_restart_while_the_daemon_runs(kw: Kurilwatch) -> None:
    assert TEST_CLUSTER is not None
    version, cluster = TEST_CLUSTER  # the tests' own server, whatever else runs here
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        kw.write_config(_config(site, ("ops", rx)))
        proc = kw.popen("run")
        try:
            rx.wait_for(1, timeout=30)
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
                check=True,
                timeout=120,
            )
            site.add_story(story_by_key("ru-iturup-exercise"))
            rx.wait_for(2, timeout=240)  # reconnecting with backoff: slow on a loaded machine
            time.sleep(2)
            assert proc.poll() is None  # it kept running
        finally:
            stderr = _stop(proc)
        ids = [r.headers["webhook-id"] for r in rx.received]
        assert len(ids) == len(set(ids)) == 2
        logged = [json.loads(x)["event"] for x in stderr.splitlines() if x.startswith("{")]
        assert "daemon.stopped" in logged


def test_apprise_channel_is_sent_from_the_outbox_with_our_retries(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        rx.respond(503, b"busy", times=1)
        apprise_url = rx.url.replace("http://", "json://")
        # The first retry is drawn from [0, 1 h] (full jitter), so it is not due again within
        # this pass: a pass sends every alert that falls due while it drains the channel.
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url}],
                "channels": [{"name": "chat", "kind": "apprise", "url": apprise_url}],
                "delivery": {**FAST, "retry_initial": "1h", "retry_max": "1h"},
            }
        )
        assert kw.run("run", "--once").returncode == 0
        [pending] = kw.json("alerts", "list")
        assert (
            pending["status"] == "pending" and pending["last_error"] == "apprise reported a failure"
        )
        assert len(rx.received) == 1
        assert kw.run("alerts", "retry", str(pending["id"])).returncode == 0
        assert kw.run("run", "--once").returncode == 0
        _failed, sent = rx.received
    body = sent.json()
    assert story_by_key("nemuro-rally").title in body["title"]
    assert body["message"].startswith(site.url)  # the story link, then the evidence
    [alert] = kw.json("alerts", "list")
    assert alert["status"] == "delivered" and alert["attempts"] == 2
