"""End-to-end helpers: run the real `kurilwatch` command as a user would."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stories import FixtureStory

KURILWATCH = Path(sys.executable).parent / "kurilwatch"


@dataclass(slots=True)
class Kurilwatch:
    """The command, a config file and the environment it runs in."""

    config: Path
    env: dict[str, str]

    def write_config(self, data: dict[str, Any]) -> None:
        self.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    def run(
        self, *args: str, timeout: float = 180, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KURILWATCH), "--config", str(self.config), "--log-format", "json", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(KURILWATCH), "--config", str(self.config), "--log-format", "json", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def popen_logged(self, *args: str, log: Path) -> subprocess.Popen[str]:
        """Like `popen`, with the JSON log written to `log` instead of a pipe.

        A daemon that runs through several other commands logs more than a pipe holds; with
        nobody reading the pipe it would block. Its stdout (console channels) is discarded.
        """
        with log.open("w", encoding="utf-8") as sink:  # the child keeps its own descriptor
            return subprocess.Popen(
                [str(KURILWATCH), "--config", str(self.config), "--log-format", "json", *args],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                text=True,
            )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds.

    For waiting on a daemon: a loaded two-core machine can be many times slower than an idle
    one, so tests wait for what they need to see rather than sleep a guessed time.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def kw(tmp_path: Path, database_url: str) -> Kurilwatch:
    """`kurilwatch` on a fresh database, with a config file in a temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURILWATCH_")}
    env["KURILWATCH_DATABASE_URL"] = database_url
    return Kurilwatch(config=tmp_path / "kurilwatch.yaml", env=env)


@pytest.fixture
def webhook_secret() -> str:
    """A Standard Webhooks secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def seed_story(text: str) -> FixtureStory:
    """The seed story as a fixture the local news site can publish."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return FixtureStory(
        key="seed-kuril-protest",
        title=lines[0],
        paragraphs=tuple(lines[1:]),
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest", "exercise"}),
    )


def fast_delivery() -> dict[str, str]:
    """Delivery timers small enough for tests (timers are configuration)."""
    return {"interval": "200ms", "timeout": "5s", "retry_initial": "100ms", "retry_max": "200ms"}


def events_by_title(payloads: Sequence[dict[str, Any]]) -> dict[str, set[str]]:
    return {p["story"]["title"]: set(p["events"]) for p in payloads}
