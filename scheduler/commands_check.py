"""`kurilwatch sources check`: read each source's index once and say what it yields.

The shell around `crawler.source_check`: it opens the crawl every poll uses (`Poller`, with
the configuration's user agent, timeouts, size cap, robots.txt and each host's `delay:` /
`concurrency:`), reads each named source's index once, then the newest item's page as a
sample, and hands what it saw to `judge_check`. It never sends an alert; the verdicts are
its output, so it exits 0 whatever they are (2 on a bad configuration or an unknown source
name). They are also kept in the database as each source's latest check (the sources page
and `/api/sources` show them) when a database answers; when none does, the command says in
one line why they were not stored, and is otherwise the same.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import click

from crawler.source_check import (
    DNS_FAILED,
    CheckVerdict,
    Sample,
    SourceCheck,
    answer,
    judge_check,
)
from kurilwatch.config import Settings
from kurilwatch.errors import ConfigError, DatabaseError
from kurilwatch.model import FeedEntry, Source
from kurilwatch.redact import Redactor
from scheduler.context import CliContext, guarded

CONNECT_TIMEOUT = 3
"""Seconds the database has to answer before the verdicts go unstored."""
NOT_STORED = "verdicts not stored"
EVERY_ITEM = datetime(1, 1, 1, tzinfo=UTC)
"""The check counts every item a sitemap lists, however old, so an old one reads as stale."""


@click.command("check")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@guarded
def sources_check(obj: CliContext, names: tuple[str, ...], as_json: bool) -> None:
    """Read each source's index (or the NAMEd ones) once and say what it yields.

    Per source: the answer, robots.txt's verdict, the items listed, the newest item's date,
    whether the newest item's page gives the article, and a verdict: ok, feed text only,
    blocked by robots, forbidden, gone, JavaScript only, stale, empty or error. The
    verdicts are stored as each source's latest when a database answers (a last line
    says whether they were, and why not; on stderr with --json). Exit 0 whatever the
    verdicts and whether they were stored; no alert is sent.
    """
    settings = obj.settings()
    if not settings.sources:
        raise ConfigError(f"{obj.config_path}: sources: expected at least one source")
    configured = {s.name: s for s in settings.sources}
    unknown = [n for n in names if n not in configured]
    if unknown:
        raise ConfigError(
            f"unknown source {', '.join(map(repr, unknown))}: "
            f"{obj.config_path} names {', '.join(configured)}"
        )
    chosen = [configured[n].to_source() for n in dict.fromkeys(names)] or [
        s.to_source() for s in settings.sources
    ]
    checks = run_checks(settings, chosen)
    now = datetime.now(UTC)
    rows = [(check, judge_check(check, now=now)) for check in checks]
    if as_json:
        click.echo(json.dumps([_json(c, v) for c, v in rows], ensure_ascii=False, indent=2))
    else:
        for line in _table(rows):
            click.echo(line)
    click.echo(store_verdicts(settings, rows, now=now), err=as_json)


def store_verdicts(
    settings: Settings, rows: Sequence[tuple[SourceCheck, CheckVerdict]], *, now: datetime
) -> str:
    """Keep the verdicts as their sources' latest in the database, if one can be reached;
    return one line saying so, or why they were not stored.

    The configured database (`database_url`, `KURILWATCH_DATABASE_URL`), given
    `CONNECT_TIMEOUT` seconds to answer; else the embedded one, only if it already holds
    data (this command does not create one). Its schema is not upgraded here.
    """
    from platformdirs import user_data_path
    from sqlalchemy.exc import SQLAlchemyError

    from storage.engine import first_line, open_database, schema_is_current
    from storage.source_checks import StoredCheck, store_checks

    url = settings.database_url.get_secret_value() if settings.database_url else None
    data_dir = settings.data_dir or user_data_path("kurilwatch")
    if url is None and not (data_dir / "pgdata" / "PG_VERSION").exists():
        return (
            f"{NOT_STORED}: no database configured (database_url, KURILWATCH_DATABASE_URL) "
            f"and no embedded database in {data_dir} yet"
        )
    stored = [
        StoredCheck(
            source=check.name,
            kind=check.kind,
            url=check.url,
            verdict=verdict.name,
            reason=verdict.reason,
            answer=answer(check),
            robots=check.robots,
            items=check.items,
            newest_at=check.newest,
            checked_at=now,
        )
        for check, verdict in rows
    ]
    try:
        db = open_database(url, data_dir, connect_timeout=CONNECT_TIMEOUT)
    except DatabaseError as exc:
        return f"{NOT_STORED}: {exc}"
    try:
        if not schema_is_current(db.engine):
            return f"{NOT_STORED}: the database schema is not current: run `kurilwatch db upgrade`"
        store_checks(db.engine, stored)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return f"{NOT_STORED}: the database failed: {first_line(cause)}"
    finally:
        db.close()
    count = len(stored)
    return f"verdicts stored in the database ({count} source{'s' if count != 1 else ''})"


def run_checks(settings: Settings, sources: Sequence[Source]) -> list[SourceCheck]:
    """Check `sources` in one crawl (Scrapy's asyncio reactor); results in their order."""
    from scrapy.utils.reactor import install_reactor

    from crawler.settings import REACTOR

    install_reactor(REACTOR)
    from twisted.internet import reactor as installed

    reactor: Any = installed
    outcome: dict[str, Any] = {}

    def finished(future: asyncio.Future[list[SourceCheck]]) -> None:
        outcome["future"] = future
        reactor.stop()

    def begin() -> None:
        asyncio.ensure_future(_check_all(settings, sources)).add_done_callback(finished)

    reactor.callWhenRunning(begin)
    reactor.run(installSignalHandlers=False)
    result: list[SourceCheck] = outcome["future"].result()
    return result


async def _check_all(settings: Settings, sources: Sequence[Source]) -> list[SourceCheck]:
    from contextlib import AsyncExitStack

    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.poller import Poller
    from crawler.settings import host_policies, scrapy_settings
    from crawler.workers import Extractor

    async with AsyncExitStack() as stack:
        runner = AsyncCrawlerRunner(
            scrapy_settings(settings.crawl, host_policies(settings.sources))
        )
        stack.push_async_callback(runner.stop)
        poller = Poller(runner, extract=Extractor(0))
        stack.push_async_callback(poller.stop)
        turns = asyncio.Semaphore(settings.crawl.max_polls)

        async def one(source: Source) -> SourceCheck:
            async with turns:
                return await check_source(poller, settings, source)

        return list(await asyncio.gather(*(one(s) for s in sources)))


async def check_source(poller: Any, settings: Settings, source: Source) -> SourceCheck:
    """Read `source`'s index once through `poller`, then its newest item's page."""
    from crawler.source_check import item_text, stale_after

    listed: list[FeedEntry] = []

    def keep(entries: Sequence[FeedEntry]) -> int:
        listed.extend(entries)
        return 0  # nothing is stored, so nothing is new: an index with pages is read once

    timeout = settings.crawl.timeout
    report = await poller.poll(source, keep, since=EVERY_ITEM, timeout=timeout)
    robots, allows, robots_failure = _robots(poller, settings, source)
    words = (
        None
        if report.status is not None
        else _failure_words(report, source.url, robots, robots_failure)
    )
    dated = [e for e in listed if e.published_at is not None]
    newest = max(dated, key=lambda e: e.published_at or EVERY_ITEM) if dated else None
    sample_entry = newest or (listed[0] if listed else None)
    text = item_text(source)
    sample = None
    if text == "page" and sample_entry is not None and allows is not False and words is None:
        sample = await _sample(poller, source, sample_entry, timeout)
    redact = Redactor.for_sources([source])
    if sample is not None and sample.problem is not None:
        sample = replace(sample, problem=redact(sample.problem))
    return SourceCheck(
        name=source.name,
        kind=source.kind,
        url=source.shown_url,
        stale_after=stale_after(source),
        status=report.status,
        failure=redact(words) if words is not None else None,
        robots=robots,
        robots_allows=allows,
        html="html" in (report.content_type or "").lower(),
        unreadable=redact(report.error) if report.status is not None and report.error else None,
        items=len(listed),
        newest=newest.published_at if newest is not None else None,
        sample=sample,
        item_text=text,
    )


async def _sample(poller: Any, source: Source, item: FeedEntry, timeout: float) -> Sample | None:
    """Read one item's page as the crawl reads every entry's, and say what it gave."""
    from crawler.pages import PageOutcome, Transient, Unusable
    from kurilwatch.model import Article, Entry

    outcomes: list[PageOutcome] = []

    async def judge(entry: Entry, outcome: PageOutcome) -> str:
        outcomes.append(outcome)
        return type(outcome).__name__

    listed = {f.name: getattr(item, f.name) for f in fields(FeedEntry)}
    entry = Entry(
        id=0, source=source.name, status="pending", first_seen_at=datetime.now(UTC), **listed
    )
    await poller.fetch_pages([entry], judge, sources={source.name: source}, timeout=timeout)
    if not outcomes:
        return None
    outcome = outcomes[0]
    if isinstance(outcome, Article):
        return Sample(url=item.url, chars=len(outcome.text))
    if isinstance(outcome, Unusable):
        return Sample(url=item.url, problem=outcome.reason)
    assert isinstance(outcome, Transient)
    return Sample(url=item.url, problem=outcome.reason, transient=True)


def _failure_words(
    report: Any, url: str, robots: str, robots_failure: BaseException | None
) -> str | None:
    """Why the index was not read, in plain words; None when robots.txt's rules forbid it.

    An index not asked because robots.txt did not answer failed for robots.txt's reason (a
    host that does not resolve fails there first).
    """
    from crawler.robots import RobotsForbidden
    from crawler.source_check import plain_failure

    if report.error is None:
        return None
    if robots_failure is not None:
        return plain_failure(robots_failure, url)
    if isinstance(report.failure, RobotsForbidden):
        return None if report.failure.permanent else f"not asked: {robots}"
    if report.failure is not None:
        return plain_failure(report.failure, url)
    return str(report.error)  # the poll timed out, or the crawl stopped


def _robots(
    poller: Any, settings: Settings, source: Source
) -> tuple[str, bool | None, BaseException | None]:
    """robots.txt's word on `source`'s index as the crawl left it in its cache: (words,
    allows, cause)."""
    from crawler.robots import AllowAll, DisallowAll
    from crawler.settings import DEFAULT_USER_AGENT

    if not settings.crawl.obey_robots:
        return "not asked (crawl.obey_robots: false)", None, None
    if not source.obey_robots:  # `robots: ignore`
        return "not asked (robots: ignore)", None, None
    url = source.url
    parts = urlsplit(url)
    verdict = poller.robots.get(f"{parts.scheme}://{parts.netloc}")
    if verdict is None:
        return "unknown", None, None
    if isinstance(verdict, DisallowAll):
        if verdict.cause is not None:
            return "unreachable", None, verdict.cause  # the answer says why
        return f"{verdict.reason}: the host is off limits", None, None
    if isinstance(verdict, AllowAll):
        return "allowed (no robots.txt)", True, None
    user_agent = settings.crawl.user_agent or DEFAULT_USER_AGENT
    allows = verdict.allowed(url, user_agent)
    return ("allowed" if allows else "disallowed"), allows, None


def _json(check: SourceCheck, verdict: CheckVerdict) -> dict[str, Any]:
    sample = check.sample
    return {
        "name": check.name,
        "kind": check.kind,
        "url": check.url,
        "answer": answer(check),
        "status": check.status,
        "robots": check.robots,
        "items": check.items,
        "newest": check.newest.isoformat() if check.newest else None,
        "sample_url": sample.url if sample else None,
        "sample_extracts": (sample.problem is None) if sample else None,
        "sample_chars": sample.chars if sample else None,
        "sample_problem": sample.problem if sample else None,
        "verdict": verdict.name,
        "reason": verdict.reason,
    }


def _table(rows: Sequence[tuple[SourceCheck, CheckVerdict]]) -> list[str]:
    head = ("name", "answer", "robots", "items", "newest", "sample", "verdict")
    cells = [head]
    for check, verdict in rows:
        sample = check.sample
        cells.append(
            (
                check.name,
                answer(check),
                check.robots,
                str(check.items),
                check.newest.strftime("%Y-%m-%d %H:%M") if check.newest else "-",
                "-"
                if sample is None
                else f"{sample.chars} chars"
                if sample.problem is None
                else f"no: {sample.problem}",
                verdict.name,
            )
        )
    widths = [min(40, max(len(row[i]) for row in cells)) for i in range(len(head) - 1)]
    lines = [
        "  ".join(
            [
                *(
                    _fit(cell, w).rjust(w) if i == 3 else _fit(cell, w).ljust(w)
                    for i, (cell, w) in enumerate(zip(row, widths, strict=False))
                ),
                row[-1],
            ]
        )
        for row in cells
    ]
    lines.append("")
    lines.extend(f"{c.name}: {v.name}: {v.reason}" for c, v in rows if v.name != "ok")
    if len(rows) > 1 and all((c.failure or "").startswith(DNS_FAILED) for c, _ in rows):
        lines.append("No source's host name resolved: is this machine offline, or without DNS?")
    return lines


def _fit(cell: str, width: int) -> str:
    """`cell`, cut to `width` characters with an ellipsis when longer."""
    return cell if len(cell) <= width else cell[: width - 1] + "…"
