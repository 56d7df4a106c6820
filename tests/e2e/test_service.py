"""Running as a service: health and metrics, replicas, a missing database, stalls, timeouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import Kurilwatch, fast_delivery, until
from tests.support.newssite import NewsSite
from tests.support.ports import free_port
from tests.support.receiver import WebhookReceiver
from tests.support.stories import STORIES, story_by_key

EVENTFUL = [s for s in STORIES if s.expect_events]


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stderr


def _stop_all(replicas: list[subprocess.Popen[str]], files: list[Path]) -> list[str]:
    """Stop the daemons (each must exit 0) and return their logs."""
    for proc in replicas:
        proc.send_signal(signal.SIGTERM)
    for proc, file in zip(replicas, files, strict=False):
        proc.wait(timeout=60)
        assert proc.returncode == 0, file.read_text(encoding="utf-8")[-2000:]
    return [f.read_text(encoding="utf-8") if f.exists() else "" for f in files]


def _metrics_when(port: int, line: str) -> str:
    """`/metrics` once it shows `line`."""
    seen = [""]

    def shows() -> bool:
        seen[0] = _get(f"http://127.0.0.1:{port}/metrics").text
        return line in seen[0]

    until(shows)
    return seen[0]


def _last_error(kw: Kurilwatch, source: str) -> str | None:
    health = {s["name"]: s for s in kw.json("sources", "list")}
    error: str | None = health[source]["last_error"] if source in health else None
    return error


def _get(url: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_healthz_and_metrics(kw: Kurilwatch) -> None:
    port = free_port()
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "listen": f"127.0.0.1:{port}",
            }
        )
        proc = kw.popen("run")
        try:
            rx.wait_for(1, timeout=60)
            health = _get(f"http://127.0.0.1:{port}/healthz")
            assert health.status_code == 200
            body = health.json()
            assert body["status"] == "ok" and body["database"] and body["scheduler"]
            assert body["sources"] == 1
            # the receiver got the alert before the daemon recorded it: wait for the record
            metrics = _metrics_when(port, 'kurilwatch_alert_latency_seconds_count{channel="ops"}')
        finally:
            _stop(proc)
    assert 'kurilwatch_polls_total{outcome="ok",source="local"}' in metrics
    assert 'kurilwatch_articles_total{outcome="stored",source="local"} 1.0' in metrics
    assert "kurilwatch_stories_created_total 1.0" in metrics
    assert 'kurilwatch_alerts_total{channel="ops",status="delivered"} 1.0' in metrics
    assert 'kurilwatch_delivery_attempts_total{channel="ops",result="delivered"} 1.0' in metrics
    assert 'kurilwatch_outbox{status="delivered"} 1.0' in metrics
    assert 'kurilwatch_source_staleness_seconds{source="local"}' in metrics
    assert 'kurilwatch_alert_latency_seconds_count{channel="ops"} 1.0' in metrics
    assert rx.url not in metrics


def test_three_replicas_fetch_each_page_once_and_alert_once(kw: Kurilwatch, tmp_path: Path) -> None:
    later = story_by_key("ru-iturup-exercise")
    with NewsSite() as site, WebhookReceiver() as rx:
        for story in STORIES:
            if story is not later:
                site.add_story(story)
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "listen": "off",
            }
        )
        files = [tmp_path / f"replica-{i}.log" for i in range(3)]
        replicas = [kw.popen_logged("run", log=file) for file in files]

        def polls() -> list[int]:
            return [f.read_text(encoding="utf-8").count('"source.polled"') for f in files]

        try:
            rx.wait_for(len(EVENTFUL) - 1, timeout=90)
            site.add_story(later)  # appears while all three run
            rx.wait_for(len(EVENTFUL), timeout=60)
            after = sum(polls())
            # several more polls, by more than one replica
            until(lambda: sum(polls()) >= after + 6 and sum(map(bool, polls())) >= 2, timeout=90)
        finally:
            logs = _stop_all(replicas, files)
        pages = [r.path for r in site.requests if r.path.startswith("/news/")]
        assert len(pages) == len(set(pages)) == len(STORIES)  # each page fetched once
        ids = [r.headers["webhook-id"] for r in rx.received]
        assert len(ids) == len(set(ids)) == len(EVENTFUL)  # each alert delivered once
        polled_by = [sum('"source.polled"' in line for line in log.splitlines()) for log in logs]
        assert sum(1 for n in polled_by if n) >= 2  # the work was shared


def test_replicas_share_the_polls_a_source_just_polled_is_skipped(
    kw: Kurilwatch, tmp_path: Path
) -> None:
    """Three daemons started one after another: the first polls the source, the other two
    find it polled less than half its interval ago and skip it (one feed request, not
    three)."""
    with NewsSite() as site:
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url, "every": "10m"}],
                "channels": [{"name": "ops", "kind": "console"}],
                "listen": "off",
            }
        )
        files = [tmp_path / f"replica-{i}.log" for i in range(3)]
        replicas: list[subprocess.Popen[str]] = []

        def logged(i: int, event: str) -> bool:
            return f'"{event}"' in files[i].read_text(encoding="utf-8")

        try:
            replicas.append(kw.popen_logged("run", log=files[0]))
            until(lambda: logged(0, "source.polled"), timeout=120)
            for i in (1, 2):
                replicas.append(kw.popen_logged("run", log=files[i]))
                until(lambda i=i: logged(i, "source.poll_skipped"), timeout=120)
        finally:
            logs = _stop_all(replicas, files)
        assert site.hits("/rss.xml") == 1
        skipped = logs[1:]
        assert all("polled by another daemon" in log for log in skipped)
        assert not any('"source.polled"' in log for log in skipped)


def test_a_missing_database_at_start_is_waited_for(kw: Kurilwatch) -> None:
    kw.env["KURILWATCH_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nothing"
    kw.write_config(
        {"sources": [{"name": "s", "url": "http://127.0.0.1:9/rss.xml"}], "listen": "off"}
    )
    proc = kw.popen("run")
    assert proc.stderr is not None
    waits = []
    for line in proc.stderr:  # the daemon keeps waiting and logging; stop after two waits
        if '"database.unavailable"' in line:
            waits.append(json.loads(line))
            if len(waits) == 2:
                break
    assert proc.poll() is None  # still waiting, not crashed
    _stop(proc)
    assert len(waits) == 2 and waits[1]["retry_in"] > waits[0]["retry_in"]  # with backoff
    assert "cannot connect" in waits[0]["reason"]


def test_a_stalled_process_catches_up_once_and_a_slow_crawl_times_out(kw: Kurilwatch) -> None:
    with NewsSite() as site, NewsSite() as slow:
        site.add_story(story_by_key("fisheries-talks"))
        slow.add_story(story_by_key("fisheries-talks"))
        slow.hang("/rss.xml", 30)
        kw.write_config(
            {
                "sources": [
                    {"name": "local", "url": site.feed_url, "every": "1s"},
                    {"name": "slow", "url": slow.feed_url, "every": "1s"},
                ],
                "crawl": {"timeout": "2s", "download_timeout": "20s"},
                "listen": "off",
            }
        )
        proc = kw.popen("run")
        try:
            until(lambda: site.hits("/rss.xml") >= 2)  # polling on schedule, however slow
            proc.send_signal(signal.SIGSTOP)  # the machine sleeps
            stopped_at = site.hits("/rss.xml")
            time.sleep(5)  # five intervals missed
            proc.send_signal(signal.SIGCONT)
            until(lambda: site.hits("/rss.xml") > stopped_at)  # the catch-up poll
            time.sleep(0.3)  # less than the interval: a burst would land in it, the next poll not
            caught_up = site.hits("/rss.xml") - stopped_at
            until(lambda: _last_error(kw, "slow") is not None)  # its poll timed out
        finally:
            _stop(proc)
        assert 1 <= caught_up <= 2  # once on wake, not once per missed interval (5)
    assert _last_error(kw, "slow") == "poll timed out after 2s"


def test_status_summarizes_sources_channels_and_dead_alerts(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        rx.respond(410, b"gone", times=1)
        kw.write_config(
            {
                "sources": [
                    {"name": "local", "url": site.feed_url},
                    {"name": "down", "url": "http://127.0.0.1:9/x"},
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        assert kw.run("run", "--once").returncode == 0
    done = kw.run("status")
    assert done.returncode == 0, done.stderr
    assert "local" in done.stdout and "down" in done.stdout and "connection refused" in done.stdout
    assert "UNHEALTHY: HTTP 410" in done.stdout
    assert "Dead alerts: 1" in done.stdout


def test_demo_shows_the_pipeline_with_nothing_to_set_up(kw: Kurilwatch) -> None:
    done = kw.run("demo")
    assert done.returncode == 0, done.stderr
    headers = [
        line for line in done.stdout.splitlines() if line.startswith("┃ ") and ": " in line[:60]
    ]
    alerts = [h for h in headers if h.startswith(("┃ Protest", "┃ Military exercise"))]
    assert len(alerts) == 3
    assert any(
        "2 copies" in line for line in done.stdout.splitlines()
    )  # the syndicated copy joined
    assert "earthquake" not in "\n".join(alerts).lower() and "wage" not in "\n".join(alerts).lower()
    # it says what happened, counted; and it ran on a database of its own
    assert "the demo feed listed 6 articles; 5 kept as 4 stories" in done.stdout
    assert "3 alerts printed above." in done.stdout
    assert "Let pass (no rule matched): Magnitude 5.8 earthquake" in done.stdout
    assert "leaves that database alone" in done.stdout
    assert kw.json("stories", "list") == [] and kw.json("sources", "list") == []


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_with_listen_off_the_daemon_opens_no_port(kw: Kurilwatch) -> None:
    # Nothing listens but what `listen:` asks for: Scrapy 2.19's remote-control server (it
    # runs Python code sent to it) and telnet console stay off in the shared crawl.
    with NewsSite() as site:
        site.add_story(story_by_key("fisheries-talks"))
        kw.write_config(
            {"listen": "off", "sources": [{"name": "local", "url": site.feed_url, "every": "1s"}]}
        )
        proc = kw.popen("run")
        try:
            deadline = time.monotonic() + 30
            while site.hits("/rss.xml") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert site.hits("/rss.xml") >= 2  # the crawl is open and polling
            assert _listening_ports(proc.pid) == set()
        finally:
            _stop(proc)
