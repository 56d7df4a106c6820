"""A throwaway PostgreSQL database for a benchmark, created and dropped around it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from storage.engine import database_url

ADMIN = os.environ.get(
    "KURILWATCH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """Create `<prefix>_<pid>` on the bench server, yield its plain URL, drop it afterwards."""
    name = f"{prefix}_{os.getpid()}"
    admin = sa.create_engine(database_url(ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
