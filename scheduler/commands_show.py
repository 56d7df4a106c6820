"""`kurilwatch stories|alerts|sources …`: read what is stored, as tables or JSON."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click

from kurilwatch.errors import ConfigError, KurilwatchError
from kurilwatch.redact import safe_urls, shown_url
from scheduler.context import CliContext, database, guarded


@click.group()
def stories() -> None:
    """Look at stored stories."""


@stories.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--limit", default=100, show_default=True)
@click.pass_obj
@guarded
def stories_list(obj: CliContext, as_json: bool, limit: int) -> None:
    """The newest stories with their copies."""
    from storage.stories import list_stories

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_stories(engine, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        events = ",".join(r["events"]) or "-"
        click.echo(
            f"{r['id']:>6}  {r['first_seen_at'][:16]}  {events:18} "
            f"{len(r['urls']):>3} copies  {r['title'][:80]}"
        )


@stories.command("show")
@click.argument("story_id", type=int)
@click.pass_obj
@guarded
def stories_show(obj: CliContext, story_id: int) -> None:
    """One story with all its copies, as JSON."""
    from storage.stories import show_story

    with database(obj.database_settings(), upgrade=False) as engine:
        story = show_story(engine, story_id)
    click.echo(json.dumps(story, ensure_ascii=False, indent=2))


@click.group()
def alerts() -> None:
    """Look at the outbox."""


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--limit", default=200, show_default=True)
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), help="Only these.")
@click.pass_obj
@guarded
def alerts_list(obj: CliContext, as_json: bool, limit: int, status: str | None) -> None:
    """The newest alerts with their delivery state."""
    from storage.outbox import list_alerts

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_alerts(engine, limit=limit, status=status)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        error = f"  {r['last_error']}" if r["last_error"] else ""
        click.echo(
            f"{r['id'][:8]}  {r['status']:9} {r['kind']:13} {r['channel']:12} "
            f"story {r['story_id']:<6} {','.join(r['events']):18} attempts {r['attempts']}{error}"
        )


@alerts.command("retry")
@click.argument("alert_id", required=False)
@click.option("--dead", is_flag=True, help="Re-queue every dead alert.")
@click.pass_obj
@guarded
def alerts_retry(obj: CliContext, alert_id: str | None, dead: bool) -> None:
    """Re-queue one alert (ALERT_ID) or every dead one (--dead); a delivered one is not resent."""
    from storage.clock import database_now
    from storage.outbox import requeue

    if (alert_id is None) == (not dead):
        raise ConfigError("give either ALERT_ID or --dead")
    with database(obj.database_settings(), upgrade=False) as engine:
        count = requeue(engine, now=database_now(engine), alert_id=alert_id)
    if alert_id is not None and count == 0:
        raise KurilwatchError(f"no pending or dead alert {alert_id}")
    click.echo(f"re-queued {count} alert{'s' if count != 1 else ''}")


@alerts.command("test")
@click.argument("channel")
@click.pass_obj
@guarded
def alerts_test(obj: CliContext, channel: str) -> None:
    """Send a test message to CHANNEL now and print the receiver's answer (outbox untouched)."""
    import asyncio

    import httpx

    from alerts.delivery import Delivered, Outcome, Reject, send
    from kurilwatch.model import Alert, Evidence, Notice, Story

    settings = obj.settings()
    found = {c.name: c for c in settings.channels}.get(channel)
    if found is None:
        raise ConfigError(f"{obj.config_path}: channels: no channel named {channel!r}")
    now = datetime.now(UTC)
    story = Story(
        id=0,
        title="kurilwatch test message",
        url="https://example.org/kurilwatch-test",
        language="en",
        published_at=now,
        first_seen_at=now,
        urls=("https://example.org/kurilwatch-test",),
    )
    evidence = Evidence(
        rule="test",
        event="test",
        terms=("test",),
        sentences=("This is a test of the kurilwatch channel.",),
    )
    notice = Notice(
        alert=Alert(
            id=f"test-{uuid.uuid4()}",
            channel=channel,
            story_id=0,
            events=("test",),
            rules=("test",),
            evidence=(evidence,),
            created_at=now,
        ),
        story=story,
    )

    async def attempt() -> Outcome:
        async with httpx.AsyncClient() as client:
            return await send(client, found, notice, timeout=settings.delivery.timeout, now=now)

    outcome = asyncio.run(attempt())
    if isinstance(outcome, Delivered):
        click.echo(
            f"{channel}: delivered" + (f" (HTTP {outcome.status})" if outcome.status else "")
        )
        return
    verdict = "refused for good" if isinstance(outcome, Reject) else "failed, would be retried"
    raise KurilwatchError(f"{channel}: {verdict}: {outcome.reason}")


@alerts.command("channels")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@guarded
def alerts_channels(obj: CliContext, as_json: bool) -> None:
    """Each channel's delivery health and outbox counts."""
    from storage.outbox import channel_health

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = channel_health(engine)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        state = "healthy" if r["healthy"] else "UNHEALTHY"
        counts = " ".join(f"{k} {v}" for k, v in sorted(r["outbox"].items()))
        click.echo(f"{r['name']:16} {r['kind']:8} {state:9} {counts}  {r['last_error'] or ''}")


@click.group()
def sources() -> None:
    """Look at the sources and their health."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@guarded
def sources_list(obj: CliContext, as_json: bool) -> None:
    """Every source with its last poll, last success and last error."""
    from storage.clock import database_now
    from storage.sources import list_sources

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_sources(engine, now=database_now(engine))
    safe = _safe_urls(obj)
    for row in rows:
        row["url"] = shown_url(row["url"], safe)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'name':20} {'kind':8} {'last ok':17} {'last new':17} {'fails':>5}  status")
    for r in rows:
        ok = (r["last_ok_at"] or "never")[:16]
        new = (r["last_new_at"] or "never")[:16]
        click.echo(
            f"{r['name']:20} {r['kind']:8} {ok:17} {new:17} "
            f"{r['consecutive_failures']:>5}  {_source_state(r)}"
        )


@sources.command("prune")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.pass_obj
@guarded
def sources_prune(obj: CliContext, dry_run: bool) -> None:
    """Remove the sources no running configuration names (their articles stay)."""
    from storage.sources import prune_sources

    with database(obj.database_settings(), upgrade=False) as engine:
        gone = prune_sources(engine, dry_run=dry_run)
    safe = _safe_urls(obj)
    verb = "would remove" if dry_run else "removed"
    for s in gone:
        since = s.configured_until.isoformat(timespec="seconds")
        shown = shown_url(s.url, safe)
        click.echo(f"{verb} {s.name} ({s.kind} {shown}), not configured since {since}")
    if not gone:
        click.echo("no source to remove: a running configuration names every one")
        return
    click.echo(f"{verb} {len(gone)} source{'s' if len(gone) != 1 else ''}")


def _safe_urls(obj: CliContext) -> frozenset[str]:
    """The source URLs the configuration marks `redact_url: false` (none if it cannot be
    read: then every stored URL is shown redacted)."""
    try:
        settings = obj.settings(required=False)
    except ConfigError:
        return frozenset()
    return safe_urls(s.to_source() for s in settings.sources)


def _source_state(row: dict[str, Any]) -> str:
    """One source's state in a table: not configured, its last error, stale, or ok; then the
    last poll's note, if any."""
    if row["not_configured_since"]:
        return f"not configured since {row['not_configured_since'][:19]}"
    if row["last_error"]:
        return str(row["last_error"])
    state = "stale" if row["stale"] else "ok"
    return f"{state} ({row['last_note']})" if row.get("last_note") else state


@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@guarded
def status(obj: CliContext, as_json: bool) -> None:
    """A summary for a person at a terminal: sources, outbox, entries by status, dead alerts,
    channels, what retention pruned, and how many flagged stories no notification names (0
    normally)."""
    from storage.clock import database_now
    from storage.entries import count_entries
    from storage.outbox import channel_health, list_alerts, unnotified
    from storage.retention import pruned_counts
    from storage.sources import list_sources

    routes, max_age, why_not = _routes(obj)
    with database(obj.database_settings(), upgrade=False) as engine:
        now = database_now(engine)
        source_rows = list_sources(engine, now=now)
        channel_rows = channel_health(engine)
        dead = list_alerts(engine, status="dead", limit=20)
        last = _last_per_channel(list_alerts(engine, status="delivered", limit=500))
        entries = count_entries(engine)
        pruned = [_pruned_row(p) for p in pruned_counts(engine)]
        missing = (
            unnotified(engine, now=now, max_age_seconds=max_age, routes=routes)
            if why_not is None
            else None
        )
    safe = _safe_urls(obj)
    for row in source_rows:
        row["url"] = shown_url(row["url"], safe)
    if as_json:
        summary: dict[str, Any] = {
            "sources": source_rows,
            "channels": channel_rows,
            "dead": dead,
            "last_alerts": last,
            "entries": entries,
            "pruned": pruned,
            "unnotified": len(missing) if missing is not None else None,
            "unnotified_stories": [asdict(m) for m in (missing or [])[:20]],
        }
        if why_not is not None:
            summary["unnotified_unknown"] = why_not
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo("Sources")
    for src in source_rows:
        state = _source_state(src)
        last_ok = (src["last_ok_at"] or "never")[:16]
        failures = src["consecutive_failures"]
        click.echo(f"  {src['name']:20} last ok {last_ok:16}  failures {failures:<3} {state}")
    click.echo("Channels")
    for ch in channel_rows:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(ch["outbox"].items())) or "empty"
        health = "healthy" if ch["healthy"] else f"UNHEALTHY: {ch['last_error']}"
        recent = last.get(ch["name"])
        when = f"last alert {str(recent['delivered_at'])[:16]}" if recent else "no alert yet"
        click.echo(f"  {ch['name']:20} {health:30} outbox: {counts}; {when}")
    click.echo(
        f"Entries: {entries['pending']} waiting, {entries['retrying']} retrying"
        + (" (kurilwatch entries list --status retrying)" if entries["retrying"] else "")
        + f", {entries['done']} judged on their page, {entries['feed']} on the feed's text"
    )
    click.echo(f"Dead alerts: {len(dead)}" + (" (kurilwatch alerts retry --dead)" if dead else ""))
    for a in dead[:5]:
        click.echo(f"  {a['id'][:8]} {a['channel']:12} story {a['story_id']}: {a['last_error']}")
    click.echo(_pruned_line(pruned))
    if missing is None:
        click.echo(f"Flagged stories no notification names: unknown ({why_not})")
        return
    click.echo(f"Flagged stories no notification names: {len(missing)}")
    for m in missing[:5]:
        where = f"({', '.join(m.events)}) on {', '.join(m.channels)}"
        click.echo(f"  story {m.story_id} {where}: {m.title[:60]}")


def _pruned_row(record: Any) -> dict[str, Any]:
    row = asdict(record)
    for key in ("last_run_at", "last_cutoff"):
        row[key] = row[key].isoformat() if row[key] is not None else None
    return row


def _pruned_line(pruned: list[dict[str, Any]]) -> str:
    """`Pruned (last run …): kind N (M in all), …`, or that retention has not run yet."""
    if not pruned:
        return "Pruned: nothing yet (the retention job has not run)"
    last = max(p["last_run_at"] or "" for p in pruned)
    kinds = ", ".join(f"{p['kind']} {p['last_count']:,} ({p['total']:,} in all)" for p in pruned)
    return f"Pruned (last run {last[:16]}): {kinds}"


def _routes(obj: CliContext) -> tuple[dict[str, frozenset[str]], float, str | None]:
    """Where the configured rules send each event, and `alert_max_age`; or why that is not
    known (a configuration that does not load)."""
    from alerts.decide import routed_channels
    from alerts.rules import rules_in_force

    try:
        settings = obj.settings(required=False)
        rules, _ = rules_in_force(settings)
    except KurilwatchError as exc:
        return {}, 0.0, str(exc).splitlines()[0]
    channels = [c.name for c in settings.channels]
    return routed_channels(rules, channels), settings.alert_max_age, None


def _last_per_channel(delivered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for alert in delivered:  # newest first
        last.setdefault(str(alert["channel"]), alert)
    return last
