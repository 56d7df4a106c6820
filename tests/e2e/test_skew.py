"""Replicas whose clocks disagree share one database without sending an alert twice.

Two real `kurilwatch run` daemons on one database, one of them under libfaketime with its
clock 90 s ahead, and a webhook receiver that answers each post after 4 s: every alert is
claimed by one daemon at a time, because leases are granted and judged on the database's
clock. (Judged on each daemon's own clock, the one ahead took every alert the other was
still sending, and each arrived twice.) Commands judge what is due on the database's clock
too: an alert re-queued from a host whose clock runs ahead is due at once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from storage.engine import database_url
from tests.e2e.conftest import Kurilwatch, until
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
"""Debian's `libfaketime` package (scripts/test installs it as root)."""
AHEAD = 90.0


def _ahead(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": f"+{AHEAD:g}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # timers keep their pace; the date is ahead
    }


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr[-3000:]
    return stderr


CLOCK_PROBE = """
import os, time
import sqlalchemy as sa
from storage.clock import DatabaseClock
from storage.engine import database_url
engine = sa.create_engine(database_url(os.environ["KURILWATCH_DATABASE_URL"]))
clock = DatabaseClock(engine)
clock.sync()
print(time.time(), clock().timestamp())
"""


def test_the_database_clock_corrects_a_host_clock_running_ahead(kw: Kurilwatch) -> None:
    assert LIBFAKETIME.exists(), "needs libfaketime: apt-get install faketime libfaketime"
    done = subprocess.run(
        [sys.executable, "-c", CLOCK_PROBE], env=_ahead(kw.env), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    local, database = map(float, done.stdout.split())
    real = time.time()
    assert local - real > AHEAD - 30  # the process's own clock is ahead
    assert abs(database - real) < 30  # what it writes is not


def test_a_replica_whose_clock_runs_ahead_takes_no_alert_another_is_sending(
    kw: Kurilwatch, tmp_path: Path
) -> None:
    assert LIBFAKETIME.exists(), "needs libfaketime: apt-get install faketime libfaketime"
    probe = "import time; print(time.time())"
    skewed = subprocess.run(
        [sys.executable, "-c", probe], env=_ahead(kw.env), capture_output=True, text=True
    )
    assert float(skewed.stdout) - time.time() > AHEAD - 30  # the skew is real
    eventful = [s for s in STORIES if s.expect_events][:4]
    with NewsSite() as site, WebhookReceiver() as rx:
        for story in eventful:
            site.add_story(story)
        rx.delay(4)  # each post is answered after 4 s: the other daemon has time to look
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": {"interval": "200ms", "timeout": "10s", "retry_initial": "100ms"},
                "listen": "off",
                "group_events": False,  # one alert per story, none waiting for a batch
            }
        )
        other = Kurilwatch(config=kw.config, env=_ahead(kw.env))
        straight = kw.popen("run")
        ahead = other.popen("run")
        try:

            def all_delivered() -> bool:
                alerts = kw.json("alerts", "list")
                return len(alerts) >= len(eventful) and all(
                    a["status"] == "delivered" for a in alerts
                )

            until(all_delivered, timeout=180)
        finally:
            logs = _stop(straight) + _stop(ahead)
        ids = [r.headers["webhook-id"] for r in rx.received]
    alerts = kw.json("alerts", "list")
    assert sorted(ids) == sorted(a["id"] for a in alerts)  # each alert arrived once
    assert all(a["attempts"] == 1 for a in alerts)
    events = [json.loads(x)["event"] for x in logs.splitlines() if x.startswith("{")]
    assert "alert.lease_lost" not in events  # nobody stole a lease it then lost
    assert "clock.skewed" in events  # the daemon ahead said so, and wrote the database's time
    # each story was first seen after (within a minute of) its entry, whichever daemon read
    # it: the entry is stamped by PostgreSQL, the story by the daemon's clock
    with sa.create_engine(database_url(kw.env["KURILWATCH_DATABASE_URL"])).connect() as conn:
        gaps = (
            conn.execute(
                sa.text(
                    "SELECT extract(epoch FROM s.first_seen_at - e.first_seen_at) FROM entries e "
                    "JOIN stories s ON s.id = e.story_id"
                )
            )
            .scalars()
            .all()
        )
    assert gaps and all(-1 < gap < 60 for gap in gaps), gaps


def test_an_alert_requeued_from_a_host_whose_clock_runs_ahead_is_due_at_once(
    kw: Kurilwatch,
) -> None:
    assert LIBFAKETIME.exists(), "needs libfaketime: apt-get install faketime libfaketime"
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(next(s for s in STORIES if s.expect_events))
        rx.respond(503, b"down", times=1)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1m"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                # the failed post is not due again before `alerts retry` makes it due
                "delivery": {"timeout": "10s", "retry_initial": "1h", "retry_max": "2h"},
                "listen": "off",
            }
        )
        first = kw.run("run", "--once")
        assert first.returncode == 0, first.stderr[-2000:]
        [alert] = kw.json("alerts", "list")
        assert alert["status"] == "pending" and alert["attempts"] == 1
        ahead = Kurilwatch(config=kw.config, env=_ahead(kw.env))
        requeued = ahead.run("alerts", "retry", alert["id"])
        assert requeued.returncode == 0 and "re-queued 1 alert" in requeued.stdout
        # due at once on the database's clock, not 90 s from now
        second = kw.run("run", "--once")
        assert second.returncode == 0, second.stderr[-2000:]
        assert [r.headers["webhook-id"] for r in rx.received] == [alert["id"]] * 2
    [alert] = kw.json("alerts", "list")
    assert alert["status"] == "delivered" and alert["attempts"] == 2
