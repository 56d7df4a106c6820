"""Which checkout's code a benchmark measures (`--code DIR`), shared by the scripts."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path


def use_code(code: Path | None) -> None:
    """Import the project's packages from `code` if given (`bench` is already bound here)."""
    if code is not None:
        sys.path.insert(0, str(code.resolve()))


def kurilwatch_env(database: str, code: Path | None) -> dict[str, str]:
    """The command's environment: this database, and `code` first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURILWATCH_")}
    env["KURILWATCH_DATABASE_URL"] = database
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p
        )
    return env


KURILWATCH = Path(sys.executable).parent / "kurilwatch"


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's ended and waited-for children so far,
    their own waited-for children included: the difference around a `subprocess.run` is
    that command's CPU, worker processes included, which the load of a shared machine
    changes far less than its wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kurilwatch_command(code: Path | None) -> list[str]:
    """The `kurilwatch` command line to run, from `code` if given.

    With `code`, the command line is started through `scheduler.cli` (every checkout has it;
    older ones lack the console script's newer entry module), with `-P` so the working
    directory cannot shadow `code` on the import path.
    """
    if code is None:
        return [str(KURILWATCH)]
    start = "import sys; from scheduler.cli import main; sys.argv[0] = 'kurilwatch'; main()"
    return [sys.executable, "-P", "-c", start]


def stop_cleanly_on_signals() -> None:
    """Make SIGTERM and SIGINT end the benchmark through its `finally` blocks (its daemon
    stopped, its database dropped), also when it was started in the background, where a
    shell leaves SIGINT ignored and SIGTERM would kill it on the spot."""

    def interrupt(signum: int, frame: object) -> None:
        for again in (signal.SIGTERM, signal.SIGINT):  # a second one must not cut the cleanup
            signal.signal(again, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def start_daemon(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start a long-running `kurilwatch … run`; its JSON log lines come on `stderr`."""
    return subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
