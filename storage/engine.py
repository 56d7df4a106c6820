"""Engines and sessions: which database, how to connect, and the schema upgrade.

`database_url(settings_url)` turns what the user wrote (a plain `postgresql://` URL works)
into a SQLAlchemy URL for psycopg 3. `open_database` picks the configured database, or the
embedded one when none is configured, and returns an engine with `pool_pre_ping` so a
restarted PostgreSQL costs one failed unit of work, not the process. `together` sends
statements of one unit of work in a single round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from kurilwatch.errors import DatabaseError
from storage.embedded import EmbeddedPostgres, start_embedded

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0020_source_freshness_share"
"""The newest migration; a test holds it equal to Alembic's head of `MIGRATIONS`."""
_ADVISORY_MIGRATE_KEY = 0x6B7572696C  # "kuril": one schema upgrade at a time
POOL_SIZE = 16
"""Connections an engine keeps: one per thread of the daemon's statements
(`scheduler.daemon.DATABASE_THREADS`); made as they are first needed."""


def database_url(raw: str) -> URL:
    """Parse a PostgreSQL URL and point it at the psycopg 3 driver.

    Raises:
        DatabaseError: the URL is not a PostgreSQL URL.
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseError("the database URL is not a valid URL") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseError(f"the database URL must be postgresql://…, not {url.drivername}://")


class Statement(NamedTuple):
    """One statement for `together`: psycopg SQL (`%(name)s` parameters) and its parameters."""

    sql: str
    params: Mapping[str, Any]


def together(conn: Connection, statements: Sequence[Statement]) -> list[list[Any]]:
    """Run `statements` on `conn` in its transaction (begun now if none is, as
    `Connection.execute` does), in order, sent in one round trip (psycopg's pipeline mode);
    return each statement's rows (named tuples; none for a statement that returns no rows).

    The server runs them one after another, each as its own statement: under READ COMMITTED
    each sees what was committed before it started, so a lock taken by one holds for the
    ones after it.

    Raises:
        sqlalchemy.exc.DBAPIError: a statement failed (the ones after it did not run, and the
            transaction must be rolled back), or the connection was lost.
    """
    if not conn.in_transaction():
        conn.begin()
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    cursors = [raw.cursor(row_factory=namedtuple_row) for _ in statements]
    try:
        with raw.pipeline():
            for cursor, statement in zip(cursors, statements, strict=True):
                cursor.execute(statement.sql, statement.params)
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    except psycopg.Error as exc:
        broken = raw.broken
        if broken:  # as SQLAlchemy does on a disconnect: the pool makes a new connection
            conn.invalidate(exc)
        raise DBAPIError.instance(
            "\n".join(s.sql for s in statements),
            None,
            exc,
            psycopg.Error,
            connection_invalidated=broken,
            dialect=conn.dialect,
        ) from exc
    finally:
        for cursor in cursors:
            cursor.close()


@dataclass(slots=True)
class Database:
    """An open database: the engine, and the embedded server behind it if there is one."""

    engine: Engine
    embedded: EmbeddedPostgres | None = field(default=None)

    def close(self) -> None:
        """Dispose of the pool, then let go of the embedded server."""
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()


def open_database(
    url: str | None, data_dir: Path, *, connect_timeout: int | None = None
) -> Database:
    """Connect to `url`, or start the embedded PostgreSQL in `data_dir` when `url` is None.

    With `connect_timeout`, a server that does not answer within that many seconds counts as
    unreachable (libpq's `connect_timeout`; without it, the operating system's limit).

    Raises:
        DatabaseError: the database cannot be reached, or psycopg cannot send statements
            together (`together`).
    """
    if not psycopg.Pipeline.is_supported():  # a system libpq older than 14
        raise DatabaseError(
            "psycopg's libpq does not support pipeline mode (libpq 14 or later is needed;"
            " psycopg[binary] ships one)"
        )
    embedded = None
    if url is None:
        embedded = start_embedded(data_dir)
        url = embedded.url
    engine = sa.create_engine(
        database_url(url),
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=4,
        connect_args={} if connect_timeout is None else {"connect_timeout": connect_timeout},
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except OperationalError as exc:
        engine.dispose()
        if embedded is not None:
            embedded.stop()
        target = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"cannot connect to {target}: {first_line(exc.orig)}") from None
    return Database(engine=engine, embedded=embedded)


def upgrade_schema(engine: Engine) -> str | None:
    """Apply the Alembic migrations up to head, under an advisory lock; return the revision.

    A database already at `HEAD` is left alone without loading Alembic (~0.25 s of every
    command's start-up); anything else goes through Alembic under the lock.
    """
    if _stamped_revision(engine) == HEAD:
        log.info("database.upgraded", extra={"revision": HEAD})
        return HEAD
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_MIGRATE_KEY)))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        revision = MigrationContext.configure(conn).get_current_revision()
    log.info("database.upgraded", extra={"revision": revision})
    return revision


def _stamped_revision(engine: Engine) -> str | None:
    """The revision in `alembic_version`, or None when there is no such table or row yet."""
    with engine.connect() as conn:
        if conn.execute(sa.text("select to_regclass('alembic_version')")).scalar() is None:
            return None
        return conn.execute(sa.text("select version_num from alembic_version")).scalar()


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration (`HEAD`, Alembic's head)."""
    return _stamped_revision(engine) == HEAD


@contextmanager
def transaction(engine: Engine) -> Iterator[sa.Connection]:
    """One unit of work: commit on success, roll back on any error."""
    with engine.begin() as conn:
        yield conn


def first_line(exc: object) -> str:
    """The first line of an error's message (a driver's error runs over several)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
