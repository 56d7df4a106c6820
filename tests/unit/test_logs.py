"""Logs stay one event a line in the chosen format: Python warnings and worker processes too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stderr_of(script: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_python_warnings_are_json_events() -> None:
    # A library's warning (dateutil's UnknownTimezoneWarning, a deprecation) used to print
    # two plain-text lines into the JSON log.
    lines = _stderr_of(
        "import warnings\n"
        "from scheduler.logs import configure_logging\n"
        "configure_logging(fmt='json')\n"
        "warnings.warn('tzname EDT identified but not understood', RuntimeWarning)\n"
    )
    events = [json.loads(line) for line in lines]  # every line is JSON
    assert len(events) == 1
    assert events[0]["event"] == "python.warning"
    assert events[0]["category"] == "RuntimeWarning"
    assert events[0]["text"] == "tzname EDT identified but not understood"
    assert events[0]["level"] == "warning"


def test_worker_processes_log_like_the_daemon() -> None:
    # Extraction workers are fresh interpreters (spawn): without the daemon's setup their
    # warnings and library log lines come out as plain text, or not at all below WARNING.
    lines = _stderr_of(
        "import logging, multiprocessing, warnings\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from scheduler.logs import configure_logging, worker_logging\n"
        "configure_logging(fmt='json')\n"
        "spawn = multiprocessing.get_context('spawn')\n"
        "with ProcessPoolExecutor(1, mp_context=spawn, initializer=worker_logging()) as pool:\n"
        "    pool.submit(warnings.warn, 'from a worker').result()\n"
        "    log = logging.getLogger('trafilatura')\n"
        "    pool.submit(log.warning, 'discarding data: %s', 'http://x.test/a').result()\n"
    )
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["python.warning", "discarding data: http://x.test/a"]
    assert events[0]["text"] == "from a worker"
    assert events[1]["logger"] == "trafilatura"


def test_redacted_logs_hide_source_secrets_in_every_line_and_worker() -> None:
    # Scrapy's own messages quote a request's URL whole, an API key in its query included.
    lines = _stderr_of(
        "import logging, multiprocessing\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from kurilwatch.redact import Redactor\n"
        "from scheduler.logs import configure_logging, redact_logs, worker_logging\n"
        "configure_logging(fmt='json')\n"
        "redact_logs(Redactor.for_urls(['https://u:pw-0123456789@h.test/rss?api_key=K3y']))\n"
        "log = logging.getLogger('scrapy.core.scraper')\n"
        "log.error('Getting %s took longer than 30.0 seconds.', 'https://h.test/rss?api_key=K3y')\n"
        "logging.getLogger('x').warning('e', extra={'url': 'https://u:pw-0123456789@h.test/'})\n"
        "spawn = multiprocessing.get_context('spawn')\n"
        "with ProcessPoolExecutor(1, mp_context=spawn, initializer=worker_logging()) as pool:\n"
        "    pool.submit(log.warning, 'retrying %s', 'https://h.test/rss?api_key=K3y').result()\n"
    )
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == [
        "Getting https://h.test/rss?api_key=*** took longer than 30.0 seconds.",
        "e",
        "retrying https://h.test/rss?api_key=***",
    ]
    assert events[1]["url"] == "https://***@h.test/"
    assert "K3y" not in "".join(lines) and "pw-0123456789" not in "".join(lines)
