"""The `kurilwatch` command line: the one place that reads the environment.

It loads the configuration (`--config`, `KURILWATCH_CONFIG`, default `./kurilwatch.yaml`),
opens the database (`KURILWATCH_DATABASE_URL`, `database_url:`, else the embedded one), and
hands both down. Exit status: 0 done, 1 failed, 2 bad configuration or usage. The commands
that read what is stored live in `commands_show`, those about rules in `commands_rules`.
"""

from __future__ import annotations

import gc
import math
import os
import signal
import sys

import click

from kurilwatch import __version__
from kurilwatch.config import Settings
from kurilwatch.errors import ConfigError
from scheduler.commands_check import sources_check
from scheduler.commands_entries import entries
from scheduler.commands_labels import label, labels
from scheduler.commands_rules import rules
from scheduler.commands_show import alerts, sources, status, stories
from scheduler.context import CliContext, database, guarded


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
    ctx.obj = CliContext(config)


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.pass_obj
@guarded
def db_upgrade(obj: CliContext) -> None:
    """Apply the migrations up to the newest schema."""
    with database(obj.database_settings(), upgrade=True):
        click.echo("database schema is current")


@main.command()
@click.option("--once", is_flag=True, help="Poll every source once, deliver what is due, exit.")
@click.pass_obj
@guarded
def run(obj: CliContext, once: bool) -> None:
    """Run the daemon (or one pass with --once)."""
    from alerts.rules import rules_in_force
    from scheduler.daemon import config_stamp
    from scheduler.daemon import run as run_daemon

    loaded_mtime = config_stamp(obj.config_path)
    settings = obj.settings()
    rules_in_force(settings)  # a bad rule fails here, before any crawl or database
    if not settings.sources:
        raise ConfigError(f"{obj.config_path}: sources: expected at least one source")

    def reload() -> Settings:
        return obj.settings()

    # the daemon waits for its database as long as it takes; one pass gives it a minute
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with database(settings, upgrade=True, wait=60.0 if once else math.inf) as engine:
        code = run_daemon(
            settings, engine, once=once, out=sys.stdout, reload=reload, loaded_mtime=loaded_mtime
        )
    # Everything is stored and closed: spare the interpreter's final full collection of the
    # ~1M objects Scrapy, lxml and SQLAlchemy leave behind (~0.3 s of every `run --once`).
    gc.freeze()
    sys.exit(code)


main.add_command(rules)
main.add_command(stories)
main.add_command(alerts)
main.add_command(sources)
sources.add_command(sources_check)
main.add_command(entries)
main.add_command(status)
main.add_command(label)
main.add_command(labels)


@main.command()
@guarded
def demo() -> None:
    """See the whole pipeline work in a minute: a local demo site, alerts printed as in Slack.

    It runs on a temporary database of its own, whatever KURILWATCH_DATABASE_URL, --config
    or database_url say: the demo never touches your database.
    """
    import tempfile
    from pathlib import Path

    from kurilwatch.config import validate_settings
    from scheduler.daemon import run as run_daemon
    from scheduler.demo import DEMO_STORIES, demo_site, demo_summary
    from storage.outbox import list_alerts
    from storage.stories import list_stories

    with demo_site() as feed, tempfile.TemporaryDirectory(prefix="kurilwatch-demo-") as tmp:
        data: dict[str, object] = {
            "sources": [{"name": "demo-news", "url": feed, "every": "1m"}],
            "channels": [{"name": "slack-preview", "kind": "console", "format": "slack"}],
            "listen": "off",
            "data_dir": tmp,  # no database_url: the embedded server in `tmp`, gone afterwards
        }
        settings = validate_settings(data, Path("(demo)"))
        if os.environ.get("KURILWATCH_DATABASE_URL"):
            click.echo("KURILWATCH_DATABASE_URL is set: the demo leaves that database alone.")
        click.echo(
            f"Serving {len(DEMO_STORIES)} demo stories at {feed}; polling once, "
            "on a temporary database of the demo's own…\n"
        )
        with database(settings, upgrade=True) as engine:
            code = run_daemon(settings, engine, once=True, out=sys.stdout)
            stored = list_stories(engine, limit=len(DEMO_STORIES) + 1)
            outbox = list_alerts(engine, limit=10 * len(DEMO_STORIES))
        for line in demo_summary(len(DEMO_STORIES), stored, outbox):
            click.echo(line)
        click.echo(
            "Next: copy kurilwatch.example.yaml to kurilwatch.yaml and run `kurilwatch run`."
        )
    sys.exit(code)
