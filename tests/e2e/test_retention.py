"""Retention as a user sees it: `run --once` prunes what is past its window, says so in its
log, and `kurilwatch status` shows what went."""

from __future__ import annotations

import json

import sqlalchemy as sa

from storage.engine import database_url as sa_url
from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key

AGE = "interval '400 days'"


def test_run_once_prunes_a_year_old_story_and_status_shows_it(kw: Kurilwatch) -> None:
    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("nemuro-rally"))
        kw.write_config(
            {
                "sources": [{"name": "local", "url": site.feed_url}],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
                "listen": "off",
            }
        )
        first = kw.run("run", "--once")
        assert first.returncode == 0, first.stderr
        assert len(rx.received) == 1
    (story,) = kw.json("stories", "list")
    engine = sa.create_engine(sa_url(kw.env["KURILWATCH_DATABASE_URL"]))
    with engine.begin() as conn:  # a year and more goes by
        for statement in (
            f"UPDATE stories SET first_seen_at = first_seen_at - {AGE}",
            f"UPDATE articles SET fetched_at = fetched_at - {AGE}",
            f"UPDATE alerts SET created_at = created_at - {AGE},"
            f" delivered_at = delivered_at - {AGE}",
            f"UPDATE entries SET updated_at = updated_at - {AGE}",
        ):
            conn.execute(sa.text(statement))
    engine.dispose()

    # the site is gone (its poll fails and is recorded); the run still prunes
    second = kw.run("run", "--once")
    assert second.returncode == 0, second.stderr
    logged = [json.loads(line) for line in second.stderr.splitlines() if line.startswith("{")]
    (pruned,) = [r for r in logged if r.get("event") == "storage.pruned"]
    counts = pruned["counts"]
    assert (counts["stories"], counts["articles"], counts["alerts"]) == (1, 1, 1)
    assert counts["entries"] >= 1 and counts["payloads"] == 0  # payload went with its alert

    assert kw.json("stories", "list") == [] and kw.json("alerts", "list") == []
    status = kw.json("status")
    by_kind = {p["kind"]: p for p in status["pruned"]}
    assert by_kind["stories"]["total"] == 1 and by_kind["alerts"]["total"] == 1
    shown = kw.run("status")
    assert shown.returncode == 0, shown.stderr
    assert "Pruned (last run" in shown.stdout and "stories 1 (1 in all)" in shown.stdout
    assert story["id"] not in [s["id"] for s in kw.json("stories", "list")]
