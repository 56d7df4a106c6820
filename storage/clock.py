"""The database's clock, read locally: what every timestamp a daemon writes is taken from.

Replicas on one database must agree on when things happen: a retry due in a minute, a
batch due at the end of its grouping interval, when a story was first seen. A host's own
clock may run ahead or behind (a replica's clock 90 s ahead sent retries and batches 90 s
early and stamped stories in the future). `DatabaseClock` reads the time of day as the
local wall clock plus an offset measured against PostgreSQL's `clock_timestamp()`; `sync`
measures it again (the daemon does so at start and every minute), so a jump of the host's
clock is corrected within a minute. Leases and claims never use it: they are granted and
checked with `now()` inside their statements.

Scheduling (when APScheduler runs a job) stays on the local clock, which is the
scheduler's own. Commands and the web UI judge "now" (what is due, what is stale) with
`database_now`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine


class DatabaseClock:
    """Callable: the database's time of day now, to within half a round trip."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.offset = timedelta(0)
        """The database's clock minus the local one, as last measured (0 before `sync`)."""

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def sync(self) -> timedelta:
        """Measure the offset again (one statement) and return it.

        Raises:
            sqlalchemy.exc.DBAPIError: the database did not answer; the last offset stays.
        """
        with self._engine.connect() as conn:
            before = datetime.now(UTC)
            database = conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
            after = datetime.now(UTC)
        self.offset = database - (before + (after - before) / 2)
        return self.offset


def database_now(engine: Engine) -> datetime:
    """The database's time of day, read once (for a command or a page: one statement)."""
    clock = DatabaseClock(engine)
    clock.sync()
    return clock()
