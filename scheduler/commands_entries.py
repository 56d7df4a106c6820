"""`kurilwatch entries list`: the entries indexes yielded and what became of each."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from scheduler.context import CliContext, database, guarded, json_row

STATUSES = ("pending", "retrying", "done", "feed")


@click.group()
def entries() -> None:
    """Look at the entries found in sources' indexes."""


@entries.command("list")
@click.option(
    "--status",
    "statuses",
    type=click.Choice(STATUSES),
    multiple=True,
    help="Only entries in this status (repeatable): pending, retrying (with the reason), "
    "done (judged on the page), feed (judged on the feed's own text).",
)
@click.option("--source", default=None, help="Only entries of this source.")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--limit", default=100, show_default=True)
@click.pass_obj
@guarded
def entries_list(
    obj: CliContext, statuses: tuple[str, ...], source: str | None, as_json: bool, limit: int
) -> None:
    """The most recently changed entries, newest first."""
    from storage.entries import list_entries

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_entries(engine, statuses=statuses, source=source, limit=limit)
    if as_json:
        click.echo(json.dumps([json_row(asdict(e)) for e in rows], ensure_ascii=False, indent=2))
        return
    for e in rows:
        if e.status == "retrying":
            when = e.next_attempt_at.isoformat()[:19] if e.next_attempt_at else "?"
            what = f"attempt {e.attempts}, next {when}: {e.last_error}"
        elif e.status == "feed":
            what = f"{e.verdict} on the feed's text: {e.reason}"
        elif e.status == "done":
            what = f"{e.verdict}"
        else:
            what = f"waiting (attempts {e.attempts})"
        click.echo(f"{e.id:>7}  {e.status:8} {e.source:16} {e.url}\n         {what}")
