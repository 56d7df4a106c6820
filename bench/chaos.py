"""Chaos soak: replicas, a fast clock, failing receivers, database restarts and kills; then count.

What. Three `kurilwatch run` daemons (the real command) share one database and one
configuration file; daemon `c` runs with its clock `--skew` seconds ahead (90) under
libfaketime. Five local news sites (`tests.support.newssite.NewsSite`, on 127.0.0.11-15)
publish `--stories` generated stories (`bench.chaos_stories`: our own texts about drills,
protests and rallies on the Kurils, 300 by default), each followed by one or two syndicated
copies on other sites 5-60 s later, at random moments over `--minutes` (10). Three channels:
two webhooks and one Apprise `json://` channel, each to a receiver of its own on 127.0.0.1
that records every post and answers 30 % of them with a fault: 500, 429 with a Retry-After of
1-5 s, or a hang past the delivery deadline (`delivery.timeout` + 10 s, then a late 200, as a
slow receiver that did the work). The other posts get 200 after 0-1 s. The Apprise URL sets
Apprise's own read timeout (`rto`) above the hang, as a plugin slower than kurilwatch's
deadline would be. Meanwhile, for the publication window, the soak restarts its PostgreSQL
every `--pg-every` seconds (60) and SIGKILLs one daemon (with its worker processes) every
`--kill-every` seconds (45, in turn a, b, c), starting it again at once.

Each daemon's channel URLs end in its name and incarnation (`${KW_REPLICA}` in the one
configuration file: `a1`, `a2` after its first kill, ...), so every post is attributed to the
process that sent it. The private PostgreSQL (`initdb` of the distribution's server into a
temporary folder, trust authentication, port `--pg-port`, 55432) never touches the machine's
shared cluster. libfaketime is given `FAKETIME_DONT_FAKE_MONOTONIC=1`: only the wall clock
(`time.time()`, `datetime.now()`, what leases and schedules are written with) is skewed, not
the monotonic clock asyncio and the timeouts run on, so the daemon is wrong about the time of
day and nothing else. The soak shows the skew twice: a Python one-liner under the same
environment prints its `time.time()`, and the outbox is sampled for leases that run out
further ahead of the database's `now()` than `delivery.lease`.

After the window the faults stop (the receivers keep failing 30 %), the soak waits until every
alert is delivered and every receiver has had a 2xx for it (at most `--settle` seconds), then
`--quiet` seconds more for late repeats, stops the daemons with SIGTERM, and reports:
- per story that should alert (its copies flagged by the shipped rules): exactly one alert per
  channel in the database, or which stories have none (lost), several (doubled), or copies in
  several stories (split);
- per receiver: every alert id answered 2xx at least once (else lost); the ids that came twice
  or more, why each repeat came (a retry after a 500/429; a redelivery after a hang past the
  deadline; a post while another daemon's attempt was still in flight, by the fast-clock
  daemon or not: a lease taken while held; a repeat after a 2xx whose sender was killed or
  whose database restarted before it recorded it), and the ids the receiver took (a 2xx, or a
  late answer after a hang) twice or more;
- alerts `dead` (the receivers refuse nothing for good, so they would have taken every one)
  and alerts still pending;
- the soak's own log of faults injected (time, what), and what the daemons logged at warning
  or above, counted.
Printed, and written as JSON to `--report` (default `chaos-report.json` in the work folder,
which also keeps each daemon's JSON log, the receivers' posts and PostgreSQL's log).

Usage: .venv/bin/python bench/chaos.py [--minutes 10] [--quick] [--stories 300] [--seed 1]
           [--skew 90] [--pg-every 60] [--kill-every 45] [--settle 600] [--quiet 40]
           [--pg-port 55432] [--workdir DIR] [--report PATH] [--code DIR]
       .venv/bin/python bench/chaos.py --reanalyse WORKDIR   (a finished soak's repeats again)
`--quick`: 2 minutes and 60 stories (the same rate). Needs the distribution's PostgreSQL
server (/usr/lib/postgresql/*/bin) and libfaketime (`apt-get install faketime libfaketime`);
as root, PostgreSQL runs as the `postgres` user. Exit status: 0 nothing lost or doubled;
1 a story lost or doubled in the database, an alert not delivered (pending or dead), or an
alert id no receiver answered 2xx; 2 the soak could not run (no PostgreSQL, no libfaketime).
Repeats at the receivers (at-least-once) are reported, not failed.
"""

from __future__ import annotations

import argparse
import glob
import heapq
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.delivery import attempt_lease  # noqa: E402
from bench.codepath import (  # noqa: E402
    kurilwatch_command,
    kurilwatch_env,
    stop_cleanly_on_signals,
    use_code,
)

FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)
DAEMONS = ("a", "b", "c")
SKEWED = "c"
OUTLETS = 5
DEADLINE = 15.0
"""`delivery.timeout` (the shipped default): one attempt's deadline."""
LEASE = attempt_lease("apprise", DEADLINE)
"""The longest lease a claimed alert gets: the longest attempt (an Apprise one) plus a
margin, computed from `delivery.timeout` (`delivery.lease` was a setting before issue 16)."""
HANG = DEADLINE + 10.0
"""How long a hanging receiver waits before its late 200."""
FAULT_RATE = 0.30
ANSWER_DELAY = 1.0
"""A 200 comes after 0..this many seconds."""


# --------------------------------------------------------------------------- fault log


class FaultLog:
    """What the soak did and saw, with the time since the start: printed as it happens."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.start_wall = time.time() - (time.monotonic() - start)
        """The wall clock (epoch seconds) at `start`."""
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, what: str, detail: str = "") -> None:
        entry = {
            "t": round(time.monotonic() - self.start, 1),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "what": what,
            "detail": detail,
        }
        with self._lock:
            self.entries.append(entry)
        print(f"  [{entry['t']:7.1f} s] {what}{': ' + detail if detail else ''}", flush=True)

    def times(self, what: str) -> list[float]:
        with self._lock:
            return sorted(e["t"] for e in self.entries if e["what"] == what)


# --------------------------------------------------------------------------- PostgreSQL


class PrivatePostgres:
    """A PostgreSQL server of the soak's own: initdb into a temporary folder, trust auth,
    127.0.0.1:`port` and a Unix socket in that folder; restarted at will, removed at the end."""

    def __init__(self, port: int, workdir: Path, log: FaultLog) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise SystemExit("chaos: no PostgreSQL server in /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        self.port = port
        self.log = log
        self.logfile = workdir / "postgresql.log"
        self.folder = Path(tempfile.mkdtemp(prefix="kurilwatch-chaos-pg-"))
        self.data = self.folder / "data"
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/kurilwatch"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise SystemExit(f"chaos: port {self.port} is taken; choose --pg-port")
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
            # the server (as postgres) appends to its log in the work folder: let it in
            workdir = self.logfile.parent
            workdir.chmod(workdir.stat().st_mode | 0o011)
            self.logfile.touch()
            shutil.chown(self.logfile, "postgres", "postgres")
        done = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if done.returncode:
            raise SystemExit(f"chaos: initdb failed: {done.stderr.strip()[-500:]}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\nmax_connections = 200\n"
            )
        self._ctl("start")
        done = self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "kurilwatch"
        )
        if done.returncode:
            raise SystemExit(f"chaos: createdb failed: {done.stderr.strip()}")
        self.log.add("postgresql started", f"{self.bin.parent.name} on 127.0.0.1:{self.port}")

    def _ctl(self, action: str, mode: str = "fast") -> float:
        began = time.monotonic()
        args = ["pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60"]
        if action != "start":
            args += ["-m", mode]
        done = self._run(*args, action)
        if done.returncode:
            raise RuntimeError(f"pg_ctl {action} failed: {(done.stderr or done.stdout).strip()}")
        return time.monotonic() - began

    def restart(self) -> None:
        seconds = self._ctl("restart")
        self.log.add("postgresql restarted", f"pg_ctl restart -m fast, {seconds:.1f} s")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    self._ctl("stop", "fast")
                except (RuntimeError, subprocess.TimeoutExpired):
                    self._ctl("stop", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------- receivers


@dataclass(slots=True)
class Post:
    """One post a receiver got, and how it answered."""

    receiver: str
    sender: str
    """The daemon's incarnation that sent it (`a1`, `c3`): the last part of the URL path."""
    at: float
    """Seconds since the soak began, at arrival."""
    answer: str
    """"200", "500", "429" or "hang"."""
    answered: float | None = None
    """Seconds since the soak began when the answer went out (a hang: its late 200)."""
    alert_id: str | None = None
    story_url: str | None = None
    late_answer: str | None = None
    """For a hang: "sent" if the late 200 went out, else why not."""


def make_receiver(name: str, start: float, rng: random.Random, apprise: bool) -> Any:
    """A `LocalServer` that records every post and fails `FAULT_RATE` of them."""
    from tests.support.localserver import Canned, LocalServer, RequestHandler

    class ChaosReceiver(LocalServer):
        def __init__(self) -> None:
            super().__init__()
            self.name = name
            self.posts: list[Post] = []

        def handle(self, handler: RequestHandler) -> None:
            now = time.monotonic() - start
            sender = handler.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            post = Post(receiver=name, sender=sender, at=round(now, 3), answer="200")
            try:
                body = json.loads(handler.body or b"{}")
            except ValueError:
                body = {}
            if apprise:
                message = str(body.get("message") or "")
                post.story_url = message.splitlines()[0].strip() if message else None
            else:
                post.alert_id = handler.headers.get("webhook-id") or body.get("id")
            with self._lock:
                roll = rng.random()
                wait = rng.uniform(0, ANSWER_DELAY)
                retry_after = rng.randint(1, 5)
                if roll < FAULT_RATE / 3:
                    post.answer = "500"
                elif roll < 2 * FAULT_RATE / 3:
                    post.answer = "429"
                elif roll < FAULT_RATE:
                    post.answer = "hang"
                self.posts.append(post)
            if post.answer == "hang":
                if self.sleep(HANG):
                    post.late_answer = "receiver stopped"
                    handler.close_connection = True
                    return
                post.answered = round(time.monotonic() - start, 3)
                try:
                    handler.send(Canned(200, b"ok", {"Content-Type": "text/plain"}))
                    post.late_answer = "sent"
                except OSError as exc:
                    post.late_answer = type(exc).__name__
                    handler.close_connection = True
                return
            if post.answer == "500":
                canned = Canned(500, b"internal error", {"Content-Type": "text/plain"})
            elif post.answer == "429":
                canned = Canned(
                    429,
                    b"slow down",
                    {"Content-Type": "text/plain", "Retry-After": str(retry_after)},
                )
            else:
                if self.sleep(wait):
                    handler.close_connection = True
                    return
                canned = Canned(200, b"ok", {"Content-Type": "text/plain"})
            handler.send(canned)
            post.answered = round(time.monotonic() - start, 3)

        def snapshot(self) -> list[Post]:
            with self._lock:
                return list(self.posts)

    return ChaosReceiver()


# --------------------------------------------------------------------------- daemons


class Daemon:
    """One `kurilwatch run` replica, restartable; its log goes to a file per incarnation."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], workdir: Path, log: FaultLog
    ) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.workdir = workdir
        self.log = log
        self.generation = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self.exits: list[int] = []

    @property
    def label(self) -> str:
        return f"{self.name}{self.generation}"

    def start(self) -> None:
        self.generation += 1
        path = self.workdir / f"daemon-{self.label}.log"
        self.logs.append(path)
        env = {**self.env, "KW_REPLICA": self.label}
        with path.open("wb") as sink:
            self.proc = subprocess.Popen(
                self.command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,  # its extraction workers share its process group
            )

    def kill(self) -> None:
        """SIGKILL the daemon and its worker processes (its process group), as a host dies."""
        proc = self.proc
        if proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.exits.append(proc.returncode)

    def check(self) -> int | None:
        """The exit status if the daemon ended by itself (then it is started again)."""
        if self.proc is None or self.proc.poll() is None:
            return None
        status = self.proc.returncode
        self.exits.append(status)
        return status

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, then SIGKILL of the group after `timeout`; the exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.log.add("daemon did not stop in time", f"{self.label}: SIGKILL")
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        with suppress(ProcessLookupError):  # leftover workers of the group, if any
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode


def faketime_env(skew: float) -> dict[str, str]:
    lib = next((p for p in FAKETIME_LIBS if Path(p).exists()), None)
    if lib is None:
        raise SystemExit(
            "chaos: libfaketime not found; install it: apt-get install faketime libfaketime"
        )
    return {
        "LD_PRELOAD": lib,
        "FAKETIME": f"{skew:+g}s",
        # the wall clock only: asyncio's loop and every timeout run on the monotonic clock
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def show_skew(env: dict[str, str], log: FaultLog) -> dict[str, float]:
    """Run a Python one-liner under the skewed daemon's environment: how far ahead is its
    `time.time()`, and is its `time.monotonic()` left alone?"""
    probe = "import time; print(time.time(), time.monotonic())"
    before = time.time(), time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    after = time.time(), time.monotonic()
    wall, mono = (float(x) for x in out.stdout.split())
    ahead = wall - (before[0] + after[0]) / 2
    mono_off = mono - (before[1] + after[1]) / 2
    log.add(
        "clock skew shown",
        f"under daemon {SKEWED}'s environment time.time() is {ahead:+.1f} s from ours, "
        f"time.monotonic() {mono_off:+.1f} s",
    )
    return {"wall_ahead_s": round(ahead, 2), "monotonic_offset_s": round(mono_off, 2)}


# --------------------------------------------------------------------------- database


class Db:
    """Read-only looks at the soak's database (raw SQL; every checkout has these tables)."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from storage.engine import database_url

        self.sa = sa
        self.engine = sa.create_engine(
            database_url(url), pool_pre_ping=True, connect_args={"connect_timeout": 5}
        )

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(self.sa.text(sql), params).mappings()]

    def lease_ahead(self) -> float | None:
        """The furthest an alert's lease runs past the database's `now()`, in seconds."""
        found = self.rows(
            "SELECT extract(epoch FROM max(leased_until) - now()) AS s FROM alerts"
            " WHERE status = 'pending' AND leased_until IS NOT NULL"
        )
        value = found[0]["s"] if found else None
        return None if value is None else float(value)


# --------------------------------------------------------------------------- the soak


@dataclass
class Published:
    """Where the copies of one story went and when."""

    key: str
    event: str
    events: list[str]
    urls: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    at: list[float] = field(default_factory=list)


def rule_verdicts(command: list[str], env: dict[str, str], stories: list[Any]) -> dict[str, Any]:
    """The shipped rules' events for every copy (`kurilwatch rules test`, no database)."""
    lines = [
        json.dumps({"id": c.key, "title": c.title, "text": c.text, "language": c.language})
        for s in stories
        for c in s.copies
    ]
    done = subprocess.run(
        [*command, "rules", "test", "-"],
        input="\n".join(lines),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise SystemExit(f"chaos: rules test failed: {done.stderr[-500:]}")
    return {v["id"]: v for v in map(json.loads, done.stdout.splitlines())}


def config(outlets: list[Any], ports: dict[str, int]) -> dict[str, Any]:
    return {
        "listen": "off",
        "group_events": False,  # one alert per story: the soak counts stories, not groups
        "sources": [
            {"name": f"outlet{k}", "url": site.feed_url, "every": "10s"}
            for k, site in enumerate(outlets)
        ],
        "channels": [
            {
                "name": "hook-a",
                "kind": "webhook",
                "url": f"http://127.0.0.1:{ports['hook-a']}/hook/${{KW_REPLICA}}",
            },
            {
                "name": "hook-b",
                "kind": "webhook",
                "url": f"http://127.0.0.1:{ports['hook-b']}/hook/${{KW_REPLICA}}",
            },
            {
                "name": "apprise",
                "kind": "apprise",
                "url": f"json://127.0.0.1:{ports['apprise']}/apprise/${{KW_REPLICA}}"
                f"?rto={HANG + 15:g}",
            },
        ],
        "delivery": {
            "timeout": f"{DEADLINE:g}s",
            "retry_initial": "5s",
            "retry_max": "60s",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, help="publication window (default 10)")
    parser.add_argument("--quick", action="store_true", help="2 minutes, 60 stories")
    parser.add_argument("--stories", type=int, help="stories published (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skew", type=float, default=90.0, help="daemon c's clock, seconds ahead")
    parser.add_argument("--pg-every", type=float, default=60.0)
    parser.add_argument("--kill-every", type=float, default=45.0)
    parser.add_argument("--settle", type=float, default=600.0, help="at most, after the window")
    parser.add_argument("--quiet", type=float, default=HANG + 15, help="wait for late repeats")
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--workdir", type=Path, help="logs and report (default: a new temp dir)")
    parser.add_argument("--report", type=Path, help="the JSON report's path")
    parser.add_argument("--code", type=Path, help="import kurilwatch's code from this checkout")
    parser.add_argument(
        "--reanalyse", type=Path, metavar="WORKDIR", help="explain a finished soak's repeats again"
    )
    args = parser.parse_args()
    if args.reanalyse is not None:
        report = reanalyse(args.reanalyse)
        (args.report or args.reanalyse / "chaos-report.json").write_text(
            json.dumps(report, indent=1, ensure_ascii=False)
        )
        print_report(report)
        return 1 if report["failed"] else 0
    minutes = args.minutes if args.minutes is not None else (2.0 if args.quick else 10.0)
    count = args.stories if args.stories is not None else (60 if args.quick else 300)
    if minutes <= 0 or count <= 0:
        parser.error("--minutes and --stories must be positive")
    if args.code is not None and not (args.code / "scheduler" / "cli.py").is_file():
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    use_code(args.code)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kurilwatch-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report_path = args.report or workdir / "chaos-report.json"
    stop_cleanly_on_signals()
    start = time.monotonic()
    log = FaultLog(start)
    print(f"chaos: {count} stories over {minutes:g} min; work folder {workdir}", flush=True)
    try:
        report = soak(args, minutes * 60, count, workdir, log)
    except KeyboardInterrupt as exc:
        print(f"chaos: interrupted ({exc}); everything it started was stopped", file=sys.stderr)
        return 130
    report["faults"] = log.entries
    report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print_report(report)
    print(f"report: {report_path}")
    return 1 if report["failed"] else 0


def soak(
    args: argparse.Namespace, window: float, count: int, workdir: Path, log: FaultLog
) -> dict[str, Any]:
    import yaml

    from bench.chaos_stories import generate
    from tests.support.newssite import NewsSite

    rng = random.Random(args.seed)
    stories = generate(count, args.seed)
    command = kurilwatch_command(args.code)
    skew_env = faketime_env(args.skew)
    with ExitStack() as stack:
        pg = PrivatePostgres(args.pg_port, workdir, log)
        stack.callback(pg.stop)
        pg.start()
        base_env = kurilwatch_env(pg.url, args.code)
        verdicts = rule_verdicts(command, base_env, stories)
        receivers = {
            name: stack.enter_context(
                make_receiver(name, log.start, random.Random(f"{args.seed}:{name}"), apprise)
            )
            for name, apprise in (("hook-a", False), ("hook-b", False), ("apprise", True))
        }
        outlets = [
            stack.enter_context(NewsSite(name=f"Chaos Outlet {k}", host=f"127.0.0.{11 + k}"))
            for k in range(OUTLETS)
        ]
        path = workdir / "kurilwatch.yaml"
        ports = {name: int(rx.base_url.rsplit(":", 1)[1]) for name, rx in receivers.items()}
        path.write_text(yaml.safe_dump(config(outlets, ports), allow_unicode=True))
        run = [*command, "--config", str(path), "--log-format", "json", "run"]
        upgrade = subprocess.run(
            [*command, "--config", str(path), "db", "upgrade"],
            env={**base_env, "KW_REPLICA": "setup"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if upgrade.returncode:
            raise SystemExit(f"chaos: db upgrade failed: {upgrade.stderr[-800:]}")
        skew = show_skew({**base_env, **skew_env}, log)
        daemons = {
            name: Daemon(
                name, run, {**base_env, **(skew_env if name == SKEWED else {})}, workdir, log
            )
            for name in DAEMONS
        }
        for daemon in daemons.values():
            stack.callback(daemon.stop)
            daemon.start()
        log.add("daemons started", ", ".join(d.label for d in daemons.values()))
        db = Db(pg.url)
        stack.callback(db.engine.dispose)
        published, lease_ahead = publish_and_break(
            args, window, stories, verdicts, outlets, daemons, pg, db, log, rng
        )
        settled = settle(args, db, receivers, published, log)
        for daemon in daemons.values():
            status = daemon.stop()
            log.add("daemon stopped", f"{daemon.label}: SIGTERM, exit status {status}")
        posts = {name: rx.snapshot() for name, rx in receivers.items()}
        report = analyse(db, published, posts, log, daemons, lease_ahead, args.skew)
        (workdir / "posts.json").write_text(  # after `analyse` gave the Apprise posts their ids
            json.dumps({n: [asdict(p) for p in ps] for n, ps in posts.items()}, indent=0)
        )
        report.update(
            {
                "settled_s": settled,
                "skew": {**skew, **report.pop("skew", {})},
                "settings": {
                    "stories": count,
                    "minutes": window / 60,
                    "seed": args.seed,
                    "skew_s": args.skew,
                    "start_wall": log.start_wall,
                    "pg_every_s": args.pg_every,
                    "kill_every_s": args.kill_every,
                    "deadline_s": DEADLINE,
                    "lease_s": LEASE,
                    "hang_s": HANG,
                    "fault_rate": FAULT_RATE,
                    "code": str(args.code) if args.code else str(ROOT),
                    "commit": _commit(args.code or ROOT),
                },
                "daemon_log": daemon_log_summary(daemons),
                "workdir": str(workdir),
            }
        )
        return report


def _commit(code: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def publish_and_break(
    args: argparse.Namespace,
    window: float,
    stories: list[Any],
    verdicts: dict[str, Any],
    outlets: list[Any],
    daemons: dict[str, Daemon],
    pg: PrivatePostgres,
    db: Db,
    log: FaultLog,
    rng: random.Random,
) -> tuple[list[Published], list[float]]:
    """The window: publish every copy at its moment, restart PostgreSQL, kill daemons, and
    sample the leases; every step is an event in one time-ordered queue, so it is bounded."""
    began = time.monotonic()
    events: list[tuple[float, int, str, Any]] = []
    seq = 0

    def at(t: float, kind: str, what: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, what))

    spread = min(60.0, window / 4)
    published = []
    for story in stories:
        events_of = sorted(set(verdicts[story.copies[0].key]["events"]))
        item = Published(story.key, story.event, events_of)
        published.append(item)
        first = rng.uniform(0, max(1.0, window - spread))
        sites = rng.sample(range(len(outlets)), len(story.copies))
        for n, (copy, site) in enumerate(zip(story.copies, sites, strict=True)):
            at(first if n == 0 else first + rng.uniform(5, spread), "publish", (item, copy, site))
    for k in range(1, int(window // args.pg_every) + 1):
        at(k * args.pg_every, "restart", None)
    for k in range(1, int(window // args.kill_every) + 1):
        at(k * args.kill_every, "kill", DAEMONS[(k - 1) % len(DAEMONS)])
    t = 5.0
    while t < window:
        at(t, "sample", None)
        t += 5.0
    lease_ahead: list[float] = []
    copies = sum(1 for e in events if e[2] == "publish")
    log.add("window began", f"{len(stories)} stories, {copies} copies in all, over {window:g} s")
    while events:
        when, _, kind, what = heapq.heappop(events)
        time.sleep(max(0.0, began + when - time.monotonic()))
        if kind == "publish":
            item, copy, site = what
            item.urls.append(outlets[site].add_story(copy))
            item.outlets.append(f"outlet{site}")
            item.at.append(round(time.monotonic() - log.start, 1))
        elif kind == "restart":
            try:
                pg.restart()
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log.add("postgresql restart FAILED", str(exc)[:300])
        elif kind == "kill":
            daemon = daemons[what]
            old = daemon.label
            daemon.kill()
            daemon.start()
            log.add(
                "daemon SIGKILLed", f"{old} (its process group), started again as {daemon.label}"
            )
        elif kind == "sample":
            for daemon in daemons.values():
                status = daemon.check()
                if status is not None:
                    old = daemon.label
                    daemon.start()
                    log.add(
                        "daemon exited by itself", f"{old} status {status}; started {daemon.label}"
                    )
            with suppress(Exception):  # the database may be restarting
                ahead = db.lease_ahead()
                if ahead is not None:
                    lease_ahead.append(ahead)
    log.add("window over", "faults stop; receivers keep failing 30 %")
    return published, lease_ahead


def settle(
    args: argparse.Namespace,
    db: Db,
    receivers: dict[str, Any],
    published: list[Published],
    log: FaultLog,
) -> float:
    """Wait until every alert is delivered and answered 2xx at its receiver (or `--settle`
    passes), then `--quiet` seconds for late repeats; the seconds it took."""
    began = time.monotonic()
    deadline = began + args.settle
    urls = [u for p in published for u in p.urls]
    while time.monotonic() < deadline:
        time.sleep(5)
        try:
            stored = db.rows("SELECT count(*) AS n FROM articles WHERE url = ANY(:u)", u=urls)[0][
                "n"
            ]
            alerts = db.rows("SELECT id, channel, status, story_id FROM alerts")
            story_urls = db.rows("SELECT id, url FROM stories")
        except Exception as exc:  # keep waiting; the report says what is missing
            log.add("settle: database not answering", type(exc).__name__)
            continue
        pending = [a for a in alerts if a["status"] == "pending"]
        url_of = {s["id"]: s["url"] for s in story_urls}
        answered = answered_ids(receivers, alerts, url_of)
        unanswered = [a for a in alerts if a["id"] not in answered.get(a["channel"], set())]
        if stored >= len(urls) and not pending and not unanswered:
            log.add("settled", f"{len(alerts)} alerts delivered and answered 2xx")
            break
    else:
        log.add("settle timed out", f"after {args.settle:g} s")
    settled = time.monotonic() - began
    time.sleep(args.quiet)
    log.add("quiet period over", f"{args.quiet:g} s")
    return round(settled, 1)


def answered_ids(
    receivers: dict[str, Any], alerts: list[dict[str, Any]], url_of: dict[int, str]
) -> dict[str, set[str]]:
    """Per channel, the alert ids its receiver answered 2xx."""
    apprise_id = {url_of.get(a["story_id"]): a["id"] for a in alerts if a["channel"] == "apprise"}
    done: dict[str, set[str]] = defaultdict(set)
    for name, rx in receivers.items():
        for post in rx.snapshot():
            alert_id = post.alert_id if name != "apprise" else apprise_id.get(post.story_url)
            if post.answer == "200" and post.answered is not None and alert_id:
                done[name].add(alert_id)
    return done


# --------------------------------------------------------------------------- analysis


def analyse(
    db: Db,
    published: list[Published],
    posts: dict[str, list[Post]],
    log: FaultLog,
    daemons: dict[str, Daemon],
    samples: list[float],
    skew: float,
) -> dict[str, Any]:
    articles = db.rows("SELECT url, story_id FROM articles")
    story_of = {a["url"]: a["story_id"] for a in articles}
    alerts = db.rows(
        "SELECT id, channel, story_id, status, attempts, is_update, kind, last_error FROM alerts"
    )
    stories = db.rows("SELECT id, url FROM stories")
    url_of = {s["id"]: s["url"] for s in stories}
    by_story: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in alerts:
        by_story[a["story_id"]].append(a)
    channels = ("hook-a", "hook-b", "apprise")
    expected = [p for p in published if p.events]
    lost: list[dict[str, Any]] = []
    doubled: list[dict[str, Any]] = []
    split: list[dict[str, Any]] = []
    not_stored: list[dict[str, Any]] = []
    exact = 0
    ours: set[int] = set()
    for p in published:
        ids = sorted({story_of[u] for u in p.urls if u in story_of})
        ours.update(ids)
        if not p.events:
            continue
        if not ids:
            not_stored.append({"story": p.key, "urls": p.urls})
            continue
        if len(ids) > 1:
            split.append({"story": p.key, "story_ids": ids})
        counts = Counter(a["channel"] for i in ids for a in by_story.get(i, []))
        bad = False
        for ch in channels:
            if counts[ch] == 0:
                lost.append({"story": p.key, "story_ids": ids, "channel": ch})
                bad = True
            elif counts[ch] > 1:
                doubled.append(
                    {"story": p.key, "story_ids": ids, "channel": ch, "alerts": counts[ch]}
                )
                bad = True
        exact += not bad
    stray = [a for a in alerts if a["story_id"] not in ours]
    dead = [a for a in alerts if a["status"] == "dead"]
    pending = [a for a in alerts if a["status"] == "pending"]
    apprise_of_story = {a["story_id"]: a["id"] for a in alerts if a["channel"] == "apprise"}
    story_of_url = {**story_of, **{u: i for i, u in url_of.items()}}
    for post in posts["apprise"]:
        post.alert_id = apprise_of_story.get(story_of_url.get(post.story_url or ""))
    logs = [path for d in daemons.values() for path in d.logs]
    context = context_of(log.entries, logs, log.start_wall, skew)
    receivers = {
        ch: receiver_report(ch, posts[ch], {a["id"] for a in alerts if a["channel"] == ch}, context)
        for ch in channels
    }
    failed = bool(lost or doubled or split or not_stored or dead or pending) or any(
        r["never_2xx"] for r in receivers.values()
    )
    return {
        "stories": len(published),
        "should_alert": len(expected),
        "exactly_one_per_channel": exact,
        "not_stored": not_stored,
        "lost": lost,
        "doubled": doubled,
        "split": split,
        "alerts": {
            "total": len(alerts),
            "by_status": dict(Counter(a["status"] for a in alerts)),
            "updates": sum(1 for a in alerts if a["is_update"]),
            "not_of_a_published_story": len(stray),
        },
        "dead": [
            {k: a[k] for k in ("id", "channel", "story_id", "attempts", "last_error")} for a in dead
        ],
        "pending": [
            {k: a[k] for k in ("id", "channel", "story_id", "attempts", "last_error")}
            for a in pending
        ],
        "receivers": receivers,
        "skew": {
            "lease_ahead_of_db_now_max_s": round(max(samples), 1) if samples else None,
            "lease_s": LEASE,
            "lease_samples": len(samples),
        },
        "daemon_exits": {d.name: d.exits for d in daemons.values()},
        "failed": failed,
    }


def context_of(
    faults: list[dict[str, Any]], logs: list[Path], start_wall: float, skew: float
) -> Context:
    """The faults injected and the deliveries the daemons recorded, to explain repeats with."""
    kills = [
        (e["t"], e["detail"].split(" ", 1)[0]) for e in faults if e["what"] == "daemon SIGKILLed"
    ]
    restarts = sorted(e["t"] for e in faults if e["what"] == "postgresql restarted")
    return Context(kills, restarts, recorded_deliveries(logs, start_wall, skew))


def reanalyse(workdir: Path) -> dict[str, Any]:
    """The receivers' part of a finished soak's report again, from its work folder
    (`posts.json`, the daemons' logs, the report's fault log); the database's part as it was."""
    report = json.loads((workdir / "chaos-report.json").read_text())
    posts = {
        name: [Post(**p) for p in items]
        for name, items in json.loads((workdir / "posts.json").read_text()).items()
    }
    faults = report["faults"]
    start_wall = report["settings"].get("start_wall") or max(
        datetime.fromisoformat(e["at"]).timestamp() - e["t"] for e in faults
    )
    logs = sorted(workdir.glob("daemon-*.log"))
    context = context_of(faults, logs, start_wall, report["settings"]["skew_s"])
    for name, items in posts.items():
        old = report["receivers"][name]
        want = {p.alert_id for p in items if p.alert_id} | set(old["never_2xx"])
        want -= set(old["not_in_db"])
        report["receivers"][name] = receiver_report(name, items, want, context)
    report["failed"] = bool(
        report["lost"]
        or report["doubled"]
        or report["split"]
        or report["not_stored"]
        or report["dead"]
        or report["pending"]
    ) or any(r["never_2xx"] for r in report["receivers"].values())
    return report


def receiver_report(
    name: str,
    posts: list[Post],
    want: set[str],
    context: Context,
) -> dict[str, Any]:
    """What one receiver saw: coverage, repeats and why, ids taken twice or more."""
    by_id: dict[str, list[Post]] = defaultdict(list)
    unknown = 0
    for post in posts:
        if post.alert_id is None:
            unknown += 1
        else:
            by_id[post.alert_id].append(post)
    got_2xx = {i for i, ps in by_id.items() if any(p.answer == "200" and p.answered for p in ps)}
    reasons: Counter[str] = Counter()
    ids_by_reason: dict[str, set[str]] = defaultdict(set)
    taken_twice: dict[str, str] = {}
    for alert_id, ps in by_id.items():
        ps.sort(key=lambda p: p.at)
        first_take: int | None = None
        for k, post in enumerate(ps):
            if k:
                why = repeat_reason(post, ps[:k], context)
                reasons[why] += 1
                ids_by_reason[why].add(alert_id)
                if first_take is not None and alert_id not in taken_twice and _taken(post):
                    # why the first post after the first take came: the repeat that should not
                    taken_twice[alert_id] = repeat_reason(
                        ps[first_take + 1], ps[: first_take + 1], context
                    )
            if first_take is None and _taken(post):
                first_take = k
    examples = {
        why: {
            i: [f"{p.sender} at {p.at:.1f} s: {p.answer}" + _answered(p) for p in by_id[i]]
            for i in sorted(ids)[:2]
        }
        for why, ids in ids_by_reason.items()
    }
    return {
        "posts": len(posts),
        "answers": dict(Counter(p.answer for p in posts)),
        "alert_ids": len(by_id),
        "alerts_in_db": len(want),
        "never_2xx": sorted(want - got_2xx),
        "not_in_db": sorted(set(by_id) - want),
        "unattributed_posts": unknown,
        "ids_posted_twice_or_more": sum(1 for ps in by_id.values() if len(ps) > 1),
        "repeats_by_reason": dict(reasons.most_common()),
        "ids_by_reason": {why: len(ids) for why, ids in ids_by_reason.items()},
        "taken_twice_or_more": len(taken_twice),
        "taken_twice_by_reason": dict(Counter(taken_twice.values()).most_common()),
        "examples": examples,
    }


def _answered(post: Post) -> str:
    if post.answer == "hang":
        return f" (late 200 at {post.answered} s: {post.late_answer})"
    return f" (answered at {post.answered} s)" if post.answered is not None else " (no answer)"


def _taken(post: Post) -> bool:
    """Did the receiver take it: a 2xx, or a late 200 after a hang that went out?"""
    return post.answer == "200" or (post.answer == "hang" and post.late_answer == "sent")


@dataclass(frozen=True, slots=True)
class Context:
    """What the repeats are explained with: the faults, and when each daemon recorded a 2xx."""

    kills: list[tuple[float, str]]
    """(seconds since the start, the killed incarnation)."""
    restarts: list[float]
    recorded: dict[tuple[str, str], list[float]]
    """(incarnation, alert id): when it logged `alert.delivered`, in seconds since the start
    (the fast-clock daemon's timestamps taken back by its skew)."""

    def recorded_between(self, sender: str, alert_id: str, begin: float, end: float) -> bool:
        return any(begin - 1 <= t <= end for t in self.recorded.get((sender, alert_id), ()))


def repeat_reason(post: Post, before: list[Post], context: Context) -> str:
    """Why `post` came although `before` (earlier posts of the same id) had come."""

    def attempt_end(p: Post) -> float:
        # the sender gives up at its deadline; a receiver's later answer does not count
        end = p.answered if p.answered is not None else p.at + DEADLINE
        return min(end, p.at + DEADLINE)

    in_flight = [p for p in before if attempt_end(p) > post.at]
    if in_flight:
        other = in_flight[-1]
        if other.sender[:1] == post.sender[:1]:
            return "the same daemon twice at once"
        if post.sender.startswith(SKEWED):
            return "two daemons at once: the fast-clock daemon took a lease still held"
        if any(
            p.sender[:1] not in (other.sender[:1], post.sender[:1])
            and other.at <= attempt_end(p) <= post.at
            for p in before
        ):
            return "two daemons at once: another daemon's write-back (by id alone) freed the lease"
        return "two daemons at once: a lease lapsed during the attempt"
    answered = [p for p in before if p.answer == "200" and p.answered is not None]
    if answered:
        ok = answered[0]
        done = ok.answered or ok.at
        alert_id = post.alert_id or ""
        # recorded at all (maybe a moment after this post came: it was claimed before that)
        if context.recorded_between(ok.sender, alert_id, done, done + 30):
            if post.sender.startswith(SKEWED) and not ok.sender.startswith(SKEWED):
                return "after a 2xx: the fast-clock daemon had taken the lease before the record"
            if ok.sender.startswith(SKEWED) and post.at - done < DEADLINE:
                return "two daemons at once: the fast-clock daemon took a lease still held"
            return "after a recorded 2xx: unexplained"
        if any(label == ok.sender and done - 1 <= t <= done + 20 for t, label in context.kills):
            return "after a 2xx: its sender was killed before recording it"
        if any(done - 5 <= t <= done + 20 for t in context.restarts):
            return "after a 2xx: the database restarted before it was recorded"
        return "after a 2xx not recorded: unexplained"
    last = max(before, key=attempt_end)
    if last.answer in ("500", "429"):
        return f"retry after a {last.answer}"
    return "redelivery after a hang past the deadline"


def recorded_deliveries(
    logs: list[Path], start_wall: float, skew: float
) -> dict[tuple[str, str], list[float]]:
    """When each incarnation logged `alert.delivered` for each alert id, in seconds since the
    soak's start (`start_wall`, epoch seconds); the fast-clock daemon's times less its skew."""
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in logs:
        label = path.stem.removeprefix("daemon-")
        ahead = skew if label.startswith(SKEWED) else 0.0
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if '"alert.delivered"' not in line:
                    continue
                with suppress(ValueError, KeyError, TypeError):
                    record = json.loads(line)
                    when = datetime.fromisoformat(record["ts"]).timestamp() - ahead - start_wall
                    found[(label, str(record["alert_id"]))].append(when)
    return found


def daemon_log_summary(daemons: dict[str, Daemon]) -> dict[str, int]:
    """Warning-or-worse events in the daemons' JSON logs, counted by level and event."""
    counts: Counter[str] = Counter()
    for daemon in daemons.values():
        for path in daemon.logs:
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        if line.strip():
                            counts["(not JSON)"] += 1
                        continue
                    if isinstance(record, dict) and record.get("level") not in ("info", "debug"):
                        counts[f"{record.get('level')}: {str(record.get('event'))[:60]}"] += 1
    return dict(counts.most_common(25))


def print_report(report: dict[str, Any]) -> None:
    s = report["settings"]
    print()
    print(
        f"chaos soak ({s['commit']}): {report['stories']} stories over {s['minutes']:g} min, "
        f"3 daemons (c {s['skew_s']:+g} s), PostgreSQL restarted every {s['pg_every_s']:g} s, "
        f"a daemon SIGKILLed every {s['kill_every_s']:g} s; settled after {report['settled_s']} s"
    )
    sk = report["skew"]
    print(
        f"  skew: daemon c's time.time() {sk['wall_ahead_s']:+.1f} s, monotonic "
        f"{sk['monotonic_offset_s']:+.1f} s; furthest lease seen "
        f"{sk['lease_ahead_of_db_now_max_s']} s ahead of the database's now() "
        f"(lease {sk['lease_s']:g} s)"
    )
    print(
        f"  database: {report['should_alert']} stories should alert; "
        f"{report['exactly_one_per_channel']} have exactly one alert per channel; "
        f"lost {len(report['lost'])}, doubled {len(report['doubled'])}, split "
        f"{len(report['split'])}, not stored {len(report['not_stored'])}; alerts "
        f"{report['alerts']['by_status']}, dead {len(report['dead'])}, "
        f"pending {len(report['pending'])}"
    )
    for kind in ("lost", "doubled", "split", "not_stored"):
        for item in report[kind][:10]:
            print(f"    {kind}: {item}")
    for name, r in report["receivers"].items():
        print(
            f"  {name}: {r['posts']} posts {r['answers']}; {r['alerts_in_db']} alerts, "
            f"{len(r['never_2xx'])} never answered 2xx; {r['ids_posted_twice_or_more']} ids posted "
            f"twice or more; {r['taken_twice_or_more']} taken twice or more"
        )
        for why, n in r["ids_by_reason"].items():
            print(f"      {n:4d} ids: {why}")
        for why, n in r["taken_twice_by_reason"].items():
            print(f"      taken twice, {n:4d} ids: {why}")
    for item in report["dead"][:10]:
        print(f"  dead: {item}")
    print(f"  daemon exits: {report['daemon_exits']}")
    print(f"  daemons logged: {report['daemon_log']}")
    print("  faults:")
    for e in report["faults"]:
        print(f"    {e['t']:7.1f} s  {e['what']}{': ' + e['detail'] if e['detail'] else ''}")
    print(
        "RESULT: " + ("FAILED (lost or doubled)" if report["failed"] else "nothing lost or doubled")
    )


if __name__ == "__main__":
    sys.exit(main())
