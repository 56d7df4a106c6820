"""`kurilwatch rules …`: check rules before they go live.

`rules test` runs the rules over JSON Lines of articles, or over one page fetched with
`--url`, and prints each verdict with its evidence; no database is needed. `rules backtest`
runs the current rules over the articles stored in the last `--since` and prints every story
whose alert would change: would alert now and did not, or did and would not now; then, for
the stories of that period the desk labelled, each event's precision and recall against
the desk's truth (`storage.labels.desk_truth`), counted by `alerts.score`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, TextIO

import click

from kurilwatch.config import parse_duration
from kurilwatch.errors import ConfigError, ExtractionError
from scheduler.context import CliContext, database, guarded


@click.group()
def rules() -> None:
    """Check rules before they go live."""


@rules.command("test")
@click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--url", help="Fetch this page, extract it and explain the verdict.")
@click.pass_obj
@guarded
def rules_test(obj: CliContext, file: TextIO | None, url: str | None) -> None:
    """Run the rules over JSON Lines of articles (FILE or - for stdin); print verdicts.

    Each input line: {"id", "title", "text", "language"}. Each output line:
    {"id", "topic", "events", "rules", "evidence"}. With --url, one page instead.
    No database is needed. When input lines carry `labels` (as in the development sets and
    `labels export`), precision and recall per label and per language follow on stderr.
    """
    from alerts.rules import match_article, rules_in_force, verdict
    from alerts.score import (
        Scored,
        labels_truth,
        language_table,
        predicted_labels,
        score,
        score_table,
    )

    if (file is None) == (url is None):
        raise ConfigError("give either FILE (or -) or --url URL")
    settings = obj.settings(required=False)
    _, ruleset = rules_in_force(settings)
    if url is not None:
        article = _fetch_article(url, settings.crawl.user_agent, settings.crawl.max_size)
        match = match_article(
            ruleset, title=article.title, text=article.text, language=article.language
        )
        line = verdict(url, match)
        line.update(title=article.title, language=article.language, url=article.url)
        click.echo(json.dumps(line, ensure_ascii=False))
        return
    assert file is not None
    judged: list[Scored] = []
    for number, text in enumerate(file, start=1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError("expected an object with a text string")
        except ValueError as exc:
            raise ConfigError(f"{file.name}: line {number}: {exc}") from None
        match = match_article(
            ruleset, title=item.get("title"), text=item["text"], language=item.get("language")
        )
        click.echo(json.dumps(verdict(item.get("id"), match), ensure_ascii=False))
        if isinstance(item.get("labels"), dict):
            judged.append(
                Scored(
                    id=item.get("id"),
                    truth=labels_truth(item["labels"]),
                    predicted=predicted_labels(match.topic, match.events),
                    language=item.get("language"),
                )
            )
    if judged:
        scores = score(judged)
        click.echo(f"\nscored {scores.items} labelled items of {file.name}:", err=True)
        click.echo("\n".join([*score_table(scores), "", *language_table(scores)]), err=True)


@rules.command("backtest")
@click.option("--since", default="30d", show_default=True, help="How far back: 7d, 30d, 12h…")
@click.pass_obj
@guarded
def rules_backtest(obj: CliContext, since: str) -> None:
    """Re-run the current rules over stored articles; print the stories whose alert changes.

    One JSON line per changed story: {"story_id", "title", "before", "now", "change"}, where
    change is "would alert" (no events before, some now) or "would not alert" (the reverse),
    or "events differ"; then a summary line {"stories", "changed", "since", "labelled",
    "scores", "scores_by_language", "texts_pruned"}: precision and recall of each event of the
    current rules against the desk's labels (`kurilwatch label`) of the stories in the period,
    also printed as a table on stderr. Copies whose text retention dropped are not judged
    (`texts_pruned` counts them); a story none of whose copies kept its text is left out.
    """
    from alerts.rules import match_article, rules_in_force
    from alerts.score import Scored, language_table, score, score_table, scores_json
    from scheduler.commands_labels import events_of
    from storage.clock import database_now
    from storage.labels import Label, desk_truth, list_labels
    from storage.stories import stored_articles

    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    settings = obj.settings(required=False)
    rules, ruleset = rules_in_force(settings)
    stories: dict[int, dict[str, Any]] = {}
    pruned = 0
    with database(settings, upgrade=False) as engine:
        start = database_now(engine) - timedelta(seconds=seconds)
        for row in stored_articles(engine, since=start):
            if row["text"] == "":  # dropped by retention.article_text: nothing to judge
                pruned += 1
                continue
            match = match_article(
                ruleset, title=row["title"], text=row["text"], language=row["language"]
            )
            story = stories.setdefault(
                row["story_id"],
                {
                    "title": row["story_title"],
                    "before": set(row["story_events"]),
                    "now": set(),
                    "language": row["language"],
                },
            )
            if match.topic:
                story["now"].update(match.events)
        desk = list_labels(engine, story_ids=stories) if stories else []
    changed = 0
    for story_id, story in sorted(stories.items()):
        before, now = story["before"], story["now"]
        if before == now:
            continue
        changed += 1
        change = "would alert" if not before else "would not alert" if not now else "events differ"
        click.echo(
            json.dumps(
                {
                    "story_id": story_id,
                    "title": story["title"],
                    "before": sorted(before),
                    "now": sorted(now),
                    "change": change,
                },
                ensure_ascii=False,
            )
        )
    events = events_of(rules)
    labelled: dict[int, list[Label]] = {}
    for label in desk:
        labelled.setdefault(label.story_id, []).append(label)
    scores = score(
        (
            Scored(
                id=story_id,
                truth=desk_truth(events, stories[story_id]["before"], found),
                predicted=frozenset(stories[story_id]["now"]),
                language=stories[story_id]["language"],
            )
            for story_id, found in sorted(labelled.items())
        ),
        events,
    )
    figures = scores_json(scores)
    click.echo(
        json.dumps(
            {
                "stories": len(stories),
                "changed": changed,
                "since": start.isoformat(),
                "labelled": len(labelled),
                "scores": figures["labels"] if labelled else {},
                "scores_by_language": figures["by_language"],
                "texts_pruned": pruned,
            }
        )
    )
    if pruned:
        click.echo(
            f"{pruned} cop{'y' if pruned == 1 else 'ies'} since {start.isoformat()[:16]} not"
            " judged: their text is past retention.article_text",
            err=True,
        )
    if not labelled:
        click.echo(
            f"no labelled story since {start.isoformat()[:16]}: no precision or recall to "
            "report (`kurilwatch label STORY_ID --missed EVENT | --wrong EVENT` adds one)",
            err=True,
        )
        return
    click.echo(
        f"the current rules against the desk's labels of {len(labelled)} labelled "
        f"stor{'y' if len(labelled) == 1 else 'ies'} since {start.isoformat()[:16]}:",
        err=True,
    )
    click.echo("\n".join([*score_table(scores), "", *language_table(scores)]), err=True)


def _fetch_article(url: str, user_agent: str | None, max_size: int) -> Any:
    """Fetch one page as the crawler would (its address policy on the page and on every
    redirect, the size cap) and extract it (HTML or PDF)."""
    import asyncio

    import httpx

    from crawler.extract import extract_page

    try:
        body, final, content_type = asyncio.run(_fetch(url, user_agent, max_size))
    except httpx.HTTPError as exc:
        raise ConfigError(f"{url}: could not be fetched: {type(exc).__name__}: {exc}") from None
    try:
        return extract_page(body, final, source="rules-test", content_type=content_type)
    except ExtractionError as exc:
        raise ConfigError(f"{url}: {exc}") from None


async def _fetch(url: str, user_agent: str | None, max_size: int) -> tuple[bytes, str, str | None]:
    """The body, final URL and Content-Type of `url`, redirects followed hop by hop, each hop
    held to `crawler.safety.check_target` as the page's own source would be.

    Raises:
        ConfigError: a hop the address policy refuses, too many redirects, or too large.
        httpx.HTTPError: the page could not be fetched.
    """
    from urllib.parse import urljoin, urlsplit

    import httpx

    from crawler.safety import AddressForbidden, check_target, host_private
    from crawler.settings import DEFAULT_USER_AGENT, MAX_REDIRECTS

    private = await host_private(urlsplit(url).hostname or "")
    headers = {"User-Agent": user_agent or DEFAULT_USER_AGENT}
    target = url
    async with httpx.AsyncClient(follow_redirects=False, timeout=30, headers=headers) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                await check_target(target, source_private=private)
            except AddressForbidden as exc:
                hop = "" if target == url else f"redirected to {target}, "
                raise ConfigError(f"{url}: {hop}refused by the address policy: {exc}") from None
            async with client.stream("GET", target) as response:
                if response.is_redirect:
                    target = urljoin(str(response.url), response.headers["Location"])
                    continue
                response.raise_for_status()
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_size:
                        raise ConfigError(f"{url}: larger than crawl.max_size ({max_size} bytes)")
                return body, str(response.url), response.headers.get("Content-Type")
    raise ConfigError(f"{url}: more than {MAX_REDIRECTS} redirects (crawl's limit)")
