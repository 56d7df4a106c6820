"""`kurilwatch label` and `kurilwatch labels …`: the desk's corrections of the rules.

`label STORY_ID --missed EVENT | --wrong EVENT [--note TEXT]` stores the desk's verdict on
a story (see `storage.labels`); `labels list` shows the corrections; `labels export` writes
the labelled stories as JSON Lines in the format of the development sets, which `rules test`
scores. The desk's truth is the labels where there are some and the story's stored verdict
elsewhere; every stored story passed the topic gate, so `kurils_relevant` is true.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

import click

from kurilwatch.errors import ConfigError, StoryNotFound
from kurilwatch.model import Rule
from scheduler.context import CliContext, database, guarded, json_row


@click.command("label")
@click.argument("story_id", type=int)
@click.option(
    "--missed",
    multiple=True,
    metavar="EVENT",
    help="The story reports EVENT; the rules did not say so (repeatable).",
)
@click.option(
    "--wrong",
    multiple=True,
    metavar="EVENT",
    help="The rules said EVENT; the story does not report it (repeatable).",
)
@click.option("--note", help="Why, in the desk's words (kept with each label stored now).")
@click.pass_obj
@guarded
def label(
    obj: CliContext,
    story_id: int,
    missed: tuple[str, ...],
    wrong: tuple[str, ...],
    note: str | None,
) -> None:
    """Correct the rules' verdict on a story: an event they MISSED, or were WRONG about.

    A newer label of the same story and event replaces the older one. Nothing is stored
    when the story is unknown, an event is not one of the rules in force, or an event is
    both missed and wrong.
    """
    from alerts.rules import rules_in_force
    from storage.labels import desk_verdicts, set_labels

    settings = obj.settings(required=False)
    rules, _ = rules_in_force(settings)
    try:
        verdicts = desk_verdicts(missed, wrong, allowed=events_of(rules))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with database(settings, upgrade=False) as engine:
        try:
            stored = set_labels(engine, story_id, verdicts, note=note)
        except StoryNotFound:
            raise ConfigError(f"no story {story_id} (see `kurilwatch stories list`)") from None
    click.echo(f"story {story_id}: {stored[0].story_title}")
    for one in stored:
        click.echo(f"  {one.event}: {one.verdict}" + (f"  ({one.note})" if one.note else ""))


@click.group()
def labels() -> None:
    """Look at and export the desk's corrections."""


@labels.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@guarded
def labels_list(obj: CliContext, as_json: bool) -> None:
    """Every label, newest story first: story, event, verdict, note, when."""
    from storage.labels import list_labels

    with database(obj.database_settings(), upgrade=False) as engine:
        rows = list_labels(engine)
    if as_json:
        click.echo(json.dumps([json_row(asdict(r)) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no labels yet: `kurilwatch label STORY_ID --missed EVENT` adds one")
    for r in rows:
        click.echo(
            f"{r.story_id:>6}  {r.updated_at.isoformat()[:16]}  {r.event:12} {r.verdict:7} "
            f"{r.story_title[:60]}" + (f"  ({r.note})" if r.note else "")
        )


@labels.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8", lazy=True), default="-")
@click.pass_obj
@guarded
def labels_export(obj: CliContext, file: TextIO) -> None:
    """Write the labelled stories as JSON Lines to FILE (default: - for stdout).

    One line per labelled story, as in the development sets: {"id", "url", "title", "text",
    "language", "labels", "story_id", "note"}; `labels` has `kurils_relevant` (true) and,
    per event of the rules in force (and any other event labelled), the desk's truth.
    """
    from alerts.rules import rules_in_force
    from storage.labels import labelled_stories

    settings = obj.settings(required=False)
    rules, _ = rules_in_force(settings)
    with database(settings, upgrade=False) as engine:
        found = labelled_stories(engine)
    for story in found:
        truth = story.truth(events_of(rules))
        line = {
            "id": f"story-{story.story_id}",
            "url": story.url,
            "title": story.title,
            "text": story.text,
            "language": story.language,
            "labels": {"kurils_relevant": True, **truth},
            "story_id": story.story_id,
            "note": story.note,
        }
        file.write(json.dumps(line, ensure_ascii=False) + "\n")
    file.flush()


def events_of(rules: Sequence[Rule]) -> list[str]:
    """The events of `rules`, in rule order, without repeats."""
    return list(dict.fromkeys(rule.event for rule in rules))
