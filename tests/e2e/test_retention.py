"""Retention as a user sees it: `run --once` prunes what is past its window, says so in its
log, and `kurilwatch status` shows what went."""

from __future__ import annotations

import json
import subprocess

import sqlalchemy as sa

from storage.engine import database_url as sa_url
from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key


def _age(kw: Kurilwatch, days: int) -> None:
    """Move every stored time `days` back, as if that long had gone by."""
    age = f"interval '{days} days'"
    engine = sa.create_engine(sa_url(kw.env["KURILWATCH_DATABASE_URL"]))
    with engine.begin() as conn:
        for statement in (
            f"UPDATE stories SET first_seen_at = first_seen_at - {age}",
            f"UPDATE articles SET fetched_at = fetched_at - {age}",
            f"UPDATE alerts SET created_at = created_at - {age},"
            f" delivered_at = delivered_at - {age}",
            f"UPDATE entries SET updated_at = updated_at - {age}",
        ):
            conn.execute(sa.text(statement))
    engine.dispose()


def _pruned_log(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert done.returncode == 0, done.stderr
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (pruned,) = [r for r in logged if r.get("event") == "storage.pruned"]
    counts: dict[str, int] = pruned["counts"]
    return counts


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

    # 100 days on: the text goes, the story stays; the site is gone (its poll fails and is
    # recorded), the run still prunes
    _age(kw, 100)
    counts = _pruned_log(kw.run("run", "--once"))
    assert (counts["article_text"], counts["payloads"], counts["stories"]) == (1, 1, 0)
    assert [s["id"] for s in kw.json("stories", "list")] == [story["id"]]
    backtest = kw.run("rules", "backtest", "--since", "3650d")
    assert backtest.returncode == 0, backtest.stderr
    summary = json.loads(backtest.stdout.splitlines()[-1])
    assert (summary["stories"], summary["changed"], summary["texts_pruned"]) == (0, 0, 1)
    assert "not judged: their text is past retention.article_text" in backtest.stderr

    # more than a year on: the story goes with its copy and alert
    _age(kw, 300)
    counts = _pruned_log(kw.run("run", "--once"))
    assert (counts["stories"], counts["articles"], counts["alerts"]) == (1, 1, 1)
    assert counts["entries"] == 0  # the entry went in the first prune, with its 90 days

    assert kw.json("stories", "list") == [] and kw.json("alerts", "list") == []
    status = kw.json("status")
    by_kind = {p["kind"]: p for p in status["pruned"]}
    assert by_kind["stories"]["total"] == 1 and by_kind["alerts"]["total"] == 1
    shown = kw.run("status")
    assert shown.returncode == 0, shown.stderr
    assert "Pruned (last run" in shown.stdout and "stories 1 (1 in all)" in shown.stdout
    assert "article_text 0 (1 in all)" in shown.stdout
    assert story["id"] not in [s["id"] for s in kw.json("stories", "list")]
