"""Shared fixtures: a real PostgreSQL, migrated once per session, a fresh copy per test.

Alembic upgrades a template database once; each test that asks for `database_url` or
`engine` gets its own database cloned from it (`CREATE DATABASE … TEMPLATE`), dropped after.
The server is `KURILWATCH_TEST_DATABASE_URL` (default: the local trust-auth PostgreSQL).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from storage.engine import database_url as sa_url
from storage.engine import upgrade_schema

ADMIN_URL = os.environ.get(
    "KURILWATCH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ROOT = Path(__file__).resolve().parent.parent


def _admin() -> Engine:
    # pre-ping: a test may restart PostgreSQL under us (tests/e2e/test_delivery_faults.py)
    return sa.create_engine(sa_url(ADMIN_URL), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _url_for(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a database migrated to head, to clone per test."""
    name = f"kw_tmpl_{os.getpid()}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa_url(_url_for(name)))
    upgrade_schema(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated database of its own for this test (a plain postgresql:// URL)."""
    name = f"kw_test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _url_for(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on this test's fresh database."""
    eng = sa.create_engine(sa_url(database_url))
    yield eng
    eng.dispose()


SEED = ROOT / "tests" / "fixtures" / "seed" / "kuril-protest.txt"
"""The scenario the project started from, in our own words: Japan protests Russian drills on
the islands (title line, then paragraphs); it must alert once, as protest and exercise."""


@pytest.fixture
def seed_text() -> str:
    """The seed story (`SEED`)."""
    return SEED.read_text(encoding="utf-8")
