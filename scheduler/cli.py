"""The `kurilwatch` command line: the one place that reads the environment.

It loads the configuration (`--config`, `KURILWATCH_CONFIG`, default `./kurilwatch.yaml`),
opens the database (`KURILWATCH_DATABASE_URL`, `database_url:`, else the embedded one), and
hands both down. Exit status: 0 done, 1 failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from kurilwatch import __version__
from kurilwatch.config import DatabaseSettings, Settings, load_config, load_database_settings
from kurilwatch.errors import ConfigError, KurilwatchError, RuleError
from kurilwatch.model import Rule

if TYPE_CHECKING:
    from alerts.rules import RuleSet

DEFAULT_CONFIG = "kurilwatch.yaml"


class _Context:
    def __init__(self, config: str | None, log_level: str, log_format: str) -> None:
        self.config_path = Path(config or os.environ.get("KURILWATCH_CONFIG") or DEFAULT_CONFIG)
        self.log_level = log_level
        self.log_format = log_format

    def settings(self, *, required: bool = True) -> Settings:
        return load_config(self.config_path, os.environ, required=required)

    def database_settings(self) -> DatabaseSettings:
        return load_database_settings(self.config_path, os.environ)


def _fail(exc: KurilwatchError) -> None:
    click.echo(f"kurilwatch: {exc}", err=True)
    sys.exit(2 if isinstance(exc, ConfigError) else 1)


@contextmanager
def _database(settings: Settings | DatabaseSettings, *, upgrade: bool) -> Iterator[Any]:
    from platformdirs import user_data_path

    from storage.engine import open_database, schema_is_current, upgrade_schema

    url = settings.database_url.get_secret_value() if settings.database_url else None
    data_dir = settings.data_dir or user_data_path("kurilwatch")
    db = open_database(url, data_dir)
    try:
        if upgrade or db.embedded is not None:
            upgrade_schema(db.engine)
        elif not schema_is_current(db.engine):
            raise ConfigError("the database schema is not current: run `kurilwatch db upgrade`")
        yield db.engine
    finally:
        db.close()


def _rules(obj: _Context, settings: Settings) -> tuple[tuple[Rule, ...], RuleSet]:
    """The rules in force (the file's, else the shipped defaults), compiled once."""
    from alerts.rules import compile_rules, load_default_rules

    default_watch, default_rules = load_default_rules()
    rules = default_rules if settings.rules is None else tuple(r.to_rule() for r in settings.rules)
    try:
        return rules, compile_rules(settings.watch or default_watch, rules)
    except RuleError as exc:
        raise RuleError(f"{obj.config_path}: {exc}") from None


def _guarded(command: Callable[..., None]) -> Callable[..., None]:
    """Turn our errors into one line on stderr and the right exit status."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except KurilwatchError as exc:
            _fail(exc)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kurilwatch")
@click.option(
    "--config", "-c", metavar="PATH", help="YAML file [env KURILWATCH_CONFIG; ./kurilwatch.yaml]"
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "human", "json"]),
    help="auto: human on a terminal, JSON lines otherwise",
)
@click.pass_context
def main(ctx: click.Context, config: str | None, log_level: str, log_format: str) -> None:
    """kurilwatch: watch the news for Kuril Islands protests and military exercises."""
    from scheduler.logs import configure_logging

    configure_logging(level=log_level, fmt=log_format)
    ctx.obj = _Context(config, log_level, log_format)


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.pass_obj
@_guarded
def db_upgrade(obj: _Context) -> None:
    """Apply the migrations up to the newest schema."""
    with _database(obj.database_settings(), upgrade=True):
        click.echo("database schema is current")


@main.command()
@click.option("--once", is_flag=True, help="Poll every source once, deliver what is due, exit.")
@click.pass_obj
@_guarded
def run(obj: _Context, once: bool) -> None:
    """Run the daemon (or one pass with --once)."""
    from scheduler.daemon import run as run_daemon

    settings = obj.settings()
    rules, ruleset = _rules(obj, settings)  # a bad rule fails here, before any crawl
    if not settings.sources:
        raise ConfigError(f"{obj.config_path}: sources: expected at least one source")
    with _database(settings, upgrade=True) as engine:
        code = run_daemon(settings, engine, rules=rules, ruleset=ruleset, once=once, out=sys.stdout)
    sys.exit(code)


@main.group()
def rules() -> None:
    """Check rules before they go live."""


@rules.command("test")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.pass_obj
@_guarded
def rules_test(obj: _Context, file: TextIO) -> None:
    """Run the rules over JSON Lines of articles (FILE or - for stdin); print verdicts.

    Each input line: {"id", "title", "text", "language"}. Each output line:
    {"id", "topic", "events", "rules", "evidence"}. No database is needed.
    """
    from alerts.rules import match_article, verdict

    _, ruleset = _rules(obj, obj.settings(required=False))
    for number, line in enumerate(file, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError("expected an object with a text string")
        except ValueError as exc:
            raise ConfigError(f"{file.name}: line {number}: {exc}") from None
        match = match_article(
            ruleset, title=item.get("title"), text=item["text"], language=item.get("language")
        )
        click.echo(json.dumps(verdict(item.get("id"), match), ensure_ascii=False))


@main.group()
def stories() -> None:
    """Look at stored stories."""


@stories.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--limit", default=100, show_default=True)
@click.pass_obj
@_guarded
def stories_list(obj: _Context, as_json: bool, limit: int) -> None:
    """The newest stories with their copies."""
    from storage.stories import list_stories

    with _database(obj.database_settings(), upgrade=False) as engine:
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
@_guarded
def stories_show(obj: _Context, story_id: int) -> None:
    """One story with all its copies, as JSON."""
    from storage.stories import show_story

    with _database(obj.database_settings(), upgrade=False) as engine:
        story = show_story(engine, story_id)
    click.echo(json.dumps(story, ensure_ascii=False, indent=2))


@main.group()
def alerts() -> None:
    """Look at the outbox."""


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.option("--limit", default=200, show_default=True)
@click.pass_obj
@_guarded
def alerts_list(obj: _Context, as_json: bool, limit: int) -> None:
    """The newest alerts with their delivery state."""
    from storage.outbox import list_alerts

    with _database(obj.database_settings(), upgrade=False) as engine:
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


@main.group()
def sources() -> None:
    """Look at the sources and their health."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@click.pass_obj
@_guarded
def sources_list(obj: _Context, as_json: bool) -> None:
    """Every source with its last poll, last success and last error."""
    from storage.sources import list_sources

    with _database(obj.database_settings(), upgrade=False) as engine:
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
