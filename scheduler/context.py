"""What every command shares: where the configuration is, the database, the rules.

`CliContext` is built once by the `kurilwatch` group from its options and the environment
(the only place that reads `os.environ`); commands get it with `@click.pass_obj` and wrap
themselves in `guarded` so our errors become one line on stderr and the right exit status
(2 for configuration and usage errors, 1 for the rest).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import Engine

from kurilwatch.config import DatabaseSettings, Settings, load_config, load_database_settings
from kurilwatch.errors import ConfigError, DatabaseError, KurilwatchError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "kurilwatch.yaml"


class CliContext:
    """The command line's options and environment, resolved."""

    def __init__(self, config: str | None) -> None:
        self.config_path = Path(config or os.environ.get("KURILWATCH_CONFIG") or DEFAULT_CONFIG)

    def settings(self, *, required: bool = True) -> Settings:
        """The whole configuration, validated; from now on, log lines hide the secrets of
        its source URLs (`scheduler.logs.redact_logs`)."""
        from kurilwatch.redact import Redactor
        from scheduler.logs import redact_logs

        settings = load_config(self.config_path, os.environ, required=required)
        redact_logs(Redactor.for_sources(s.to_source() for s in settings.sources))
        return settings

    def database_settings(self) -> DatabaseSettings:
        """Only where the data lives (for commands that read the database)."""
        return load_database_settings(self.config_path, os.environ)


@contextmanager
def database(
    settings: Settings | DatabaseSettings, *, upgrade: bool, wait: float = 0.0
) -> Iterator[Engine]:
    """The configured database (or the embedded one), its schema current; closed after.

    With `wait`, an unreachable database is retried with backoff for that many seconds
    (`inf`: until it answers), each failure logged with its reason.
    """
    from platformdirs import user_data_path

    from storage.engine import open_database, schema_is_current, upgrade_schema

    url = settings.database_url.get_secret_value() if settings.database_url else None
    data_dir = settings.data_dir or user_data_path("kurilwatch")
    deadline = time.monotonic() + wait
    delay = 1.0
    while True:
        try:
            db = open_database(url, data_dir)
            break
        except DatabaseError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database.unavailable", extra={"reason": str(exc), "retry_in": delay})
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
    try:
        if upgrade or db.embedded is not None:
            upgrade_schema(db.engine)
        elif not schema_is_current(db.engine):
            raise ConfigError("the database schema is not current: run `kurilwatch db upgrade`")
        yield db.engine
    finally:
        db.close()


def guarded(command: Callable[..., None]) -> Callable[..., None]:
    """Turn our errors into one line on stderr and the right exit status."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except KurilwatchError as exc:
            click.echo(f"kurilwatch: {exc}", err=True)
            sys.exit(2 if isinstance(exc, ConfigError) else 1)

    return wrapper


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row (a dataclass's `asdict`) ready for `json.dumps`: times in ISO 8601."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
