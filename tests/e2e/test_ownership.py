"""A run removes nothing it does not own: other files, the demo and `sources prune` vs a daemon."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from scheduler.demo import DEMO_STORIES
from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.ports import free_port
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key


def _stop(proc: subprocess.Popen[str], log: Path) -> list[dict[str, Any]]:
    proc.send_signal(signal.SIGCONT)  # in case a test left it stopped
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    events = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    assert proc.returncode == 0, events[-5:]
    return events


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def _sources(kw: Kurilwatch) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in kw.json("sources", "list")}


def test_a_daemon_keeps_alerting_through_another_file_and_the_demo(
    kw: Kurilwatch, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "daemon.log"
    other = Kurilwatch(config=tmp_path / "other.yaml", env=dict(kw.env))  # same database
    with (
        NewsSite(name="Desk Wire") as site,
        NewsSite(name="Elsewhere") as elsewhere,
        WebhookReceiver() as rx,
    ):
        # two stories of different events: the second is alerted on its own, never grouped
        site.add_story(story_by_key("nemuro-rally"))
        elsewhere.add_story(story_by_key("kuril-earthquake"))
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "listen": f"127.0.0.1:{port}",
                "crawl": {"source_claim": "3s"},  # renewed every 0.6 s
            }
        )
        other.write_config(
            {
                "sources": [{"name": "elsewhere", "url": elsewhere.feed_url}],
                "crawl": {"source_claim": "1s"},
            }
        )
        daemon = kw.popen_logged("run", log=log)
        try:
            rx.wait_for(1, timeout=60)
            once = other.run("run", "--once")
            assert once.returncode == 0, once.stderr
            assert _sources(kw)["elsewhere"]["last_ok_at"]  # the other file did its work
            demo = kw.run("demo")
            assert demo.returncode == 0, demo.stderr
            assert "3 alerts printed above." in demo.stdout  # on its own database

            # the other file's claim lapses; the daemon's is renewed and stays
            lapsed = _until(
                lambda: (s := _sources(kw))["elsewhere"]["not_configured_since"] and s,
                "the other file's claim to lapse",
            )
            assert set(lapsed) == {"local", "elsewhere"}  # nothing removed, no demo source
            assert lapsed["local"]["configured"] and lapsed["local"]["last_error"] is None
            listed = kw.run("sources", "list")
            assert "not configured since" in listed.stdout
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
            assert (health["sources"], health["unconfigured_sources"]) == (1, 1)

            dry = kw.run("sources", "prune", "--dry-run")
            assert dry.returncode == 0, dry.stderr
            assert "would remove elsewhere" in dry.stdout and "local" not in dry.stdout
            assert set(_sources(kw)) == {"local", "elsewhere"}
            pruned = kw.run("sources", "prune")
            assert pruned.returncode == 0, pruned.stderr
            assert "removed elsewhere" in pruned.stdout and "removed 1 source" in pruned.stdout
            assert set(_sources(kw)) == {"local"}

            # after all that, a new story still reaches the daemon's channel
            site.add_story(story_by_key("kunashir-bastion"))
            _, second = rx.wait_for(2, timeout=60)
            assert second.json()["story"]["title"] == story_by_key("kunashir-bastion").title
        finally:
            events = _stop(daemon, log)
    titles = {s["title"] for s in kw.json("stories", "list")}
    assert not titles & {title for _, title, _ in DEMO_STORIES}  # no demo story landed here
    assert titles >= {
        story_by_key("nemuro-rally").title,
        story_by_key("kuril-earthquake").title,
    }
    skipped = [e for e in events if e["event"] == "source.poll_skipped"]
    assert not [e for e in skipped if e["reason"] == "polled by another daemon"], skipped
    assert not [e for e in events if e["event"] == "source.recreated"]
    assert rx.url not in log.read_text()


def test_a_source_pruned_while_its_daemon_was_suspended_comes_back(
    kw: Kurilwatch, tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "listen": "off",
                "crawl": {"source_claim": "2s"},
            }
        )
        daemon = kw.popen_logged("run", log=log)
        try:
            rx.wait_for(1, timeout=60)
            # its delivery recorded first: a process stopped between the receiver's answer
            # and the record sends the alert again, by design (same webhook-id)
            _until(
                lambda: [a["status"] for a in kw.json("alerts", "list")] == ["delivered"],
                "the first alert to be recorded as delivered",
            )
            while True:  # suspended past its claim, then pruned by someone else
                daemon.send_signal(signal.SIGSTOP)
                _until(
                    lambda: _sources(kw)["local"]["not_configured_since"],
                    "the suspended daemon's claim to lapse",
                )
                if "removed local" in kw.run("sources", "prune").stdout:
                    break
                # stopped in the middle of a poll: its lease keeps the row; try again
                daemon.send_signal(signal.SIGCONT)
                time.sleep(0.5)
            assert _sources(kw) == {}
            daemon.send_signal(signal.SIGCONT)
            site.add_story(story_by_key("kunashir-bastion"))
            _, second = rx.wait_for(2, timeout=60)
            assert second.json()["story"]["title"] == story_by_key("kunashir-bastion").title
            assert _sources(kw)["local"]["configured"]
        finally:
            events = _stop(daemon, log)
    recreated = [e for e in events if e["event"] == "source.recreated"]
    assert [e["source"] for e in recreated] == ["local"]


def test_another_files_run_leaves_the_daemons_retrying_entries_to_it(
    kw: Kurilwatch, tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"
    other = Kurilwatch(config=tmp_path / "other.yaml", env=dict(kw.env))
    with NewsSite() as site, NewsSite() as elsewhere, WebhookReceiver() as rx:
        page = site.add_story(story_by_key("nemuro-rally")).removeprefix(site.url)
        site.fail(page, 503)  # the daemon's entry waits for its next attempt
        elsewhere.add_story(story_by_key("kuril-earthquake"))
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "listen": "off",
                "crawl": {"entry_retry_initial": "1s", "entry_retry_max": "1s"},
            }
        )
        other.write_config({"sources": [{"name": "elsewhere", "url": elsewhere.feed_url}]})
        daemon = kw.popen_logged("run", log=log)

        def due_and_free() -> bool:
            [entry] = kw.json("entries", "list", "--source", "local")
            now = datetime.now(UTC).isoformat()
            return (
                entry["status"] == "retrying"
                and entry["next_attempt_at"] < now
                and (entry["leased_until"] is None or entry["leased_until"] < now)
            )

        try:
            _until(lambda: kw.json("entries", "list", "--source", "local"), "the entry")
            while True:  # the daemon stopped while its entry is due and not leased
                daemon.send_signal(signal.SIGSTOP)
                try:
                    _until(due_and_free, "the entry to be due again", timeout=10)
                    break
                except AssertionError:  # stopped while it held the entry: let it go on
                    daemon.send_signal(signal.SIGCONT)
                    time.sleep(0.5)
            site.clear(page)
            once = other.run("run", "--once")
            assert once.returncode == 0, once.stderr
            [entry] = kw.json("entries", "list", "--source", "local")
            assert entry["status"] == "retrying"  # not taken by a run that does not poll it
            daemon.send_signal(signal.SIGCONT)
            [alert] = rx.wait_for(1, timeout=60)
            assert alert.json()["story"]["title"] == story_by_key("nemuro-rally").title
        finally:
            _stop(daemon, log)
