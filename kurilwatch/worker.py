"""This process's worker id: who holds the leases it takes (sources, entries, outbox rows).

One id per process, the same for every kind of lease, so a log line or a row's `leased_by`
names the daemon that holds it. Host and pid say where to look; a random part keeps a
restarted container (same host name, pid 1 again) from passing for its dead predecessor.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket

OWNER_LENGTH = 64
"""The width of the `leased_by` columns."""


@functools.cache
def worker_id() -> str:
    """`host:pid:random`, at most `OWNER_LENGTH` characters, fixed for the process's life."""
    tail = f":{os.getpid()}:{secrets.token_hex(4)}"
    return socket.gethostname()[: OWNER_LENGTH - len(tail)] + tail
