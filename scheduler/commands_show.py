"""`kurilwatch stories|alerts|sources …`: read what is stored, as tables or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

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
@click.pass_obj
@guarded
def alerts_list(obj: CliContext, as_json: bool, limit: int) -> None:
    """The newest alerts with their delivery state."""
    from storage.outbox import list_alerts

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_alerts(engine, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        error = f"  {r['last_error']}" if r["last_error"] else ""
        click.echo(
            f"{r['id'][:8]}  {r['status']:9} {r['channel']:12} story {r['story_id']:<6} "
            f"{','.join(r['events']):18} attempts {r['attempts']}{error}"
        )


@click.group()
def sources() -> None:
    """Look at the sources and their health."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@guarded
def sources_list(obj: CliContext, as_json: bool) -> None:
    """Every source with its last poll, last success and last error."""
    from storage.sources import list_sources

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_sources(engine, now=datetime.now(UTC))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'name':20} {'kind':8} {'last ok':17} {'last new':17} {'fails':>5}  status")
    for r in rows:
        ok = (r["last_ok_at"] or "never")[:16]
        new = (r["last_new_at"] or "never")[:16]
        status = r["last_error"] or ("stale" if r["stale"] else "ok")
        click.echo(
            f"{r['name']:20} {r['kind']:8} {ok:17} {new:17} "
            f"{r['consecutive_failures']:>5}  {status}"
        )
