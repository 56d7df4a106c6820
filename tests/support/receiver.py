"""A local webhook receiver for tests, and the loopback-server plumbing it shares.

`WebhookReceiver` stands in for Slack's incoming webhooks and for generic webhook endpoints: a
real HTTP server on 127.0.0.1, port 0, in a daemon thread, that records every POST and answers
with scripted statuses (200 `ok` by default, as Slack does; 429 with `Retry-After`, 5xx, 4xx on
demand) after an optional delay. Assertions read what it recorded (`received`, `wait_for`).
The loopback-server plumbing it shares with `tests.support.newssite.NewsSite` (`LocalServer`,
`RequestHandler`, `Canned`, `Headers`) lives in `tests.support.localserver` and is re-exported
here. This module touches only the loopback network.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.support.localserver import Canned, Headers, LocalServer, RequestHandler

__all__ = [
    "Canned",
    "Headers",
    "LocalServer",
    "Received",
    "RequestHandler",
    "WebhookReceiver",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One request the receiver got.

    Attributes:
        method: The HTTP method (always "POST": other methods get 405 and are not kept).
        path: The request target, query string included.
        headers: The request headers; lookups ignore case.
        body: The raw body.
        received_at: Wall-clock arrival time, UTC.
        monotonic: `time.monotonic()` at arrival, for measuring gaps between attempts.
    """

    method: str
    path: str
    headers: Headers
    body: bytes
    received_at: datetime
    monotonic: float

    def json(self) -> Any:
        """Decode the body as JSON.

        Returns:
            The decoded value.
        """
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


@dataclass(slots=True)
class _Scripted:
    """A queued response and how many more requests it answers."""

    response: Canned
    remaining: int


class WebhookReceiver(LocalServer):
    """A webhook endpoint on 127.0.0.1 that records POSTs and plays back scripted responses.

    With nothing scripted it answers 200 with the body `ok`, as a Slack incoming webhook does::

        with WebhookReceiver() as rx:
            rx.respond(429, b"rate_limited", headers={"Retry-After": "1"})
            deliver(rx.url)                  # gets 429, then retries and gets 200 ok
            [first, second] = rx.wait_for(2)
    """

    def __init__(self, *, path: str = "/hook") -> None:
        """Prepare the receiver; it listens from `__enter__` (or `start()`).

        Args:
            path: The path of `url`. Every path is recorded alike.
        """
        super().__init__()
        self.path = path
        self._received: list[Received] = []
        self._script: deque[_Scripted] = deque()
        self._delay = 0.0
        self._arrived = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        """The webhook URL: base URL plus `path`."""
        return self.base_url + self.path

    def respond(
        self,
        status: int,
        body: bytes | str = b"ok",
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Queue a response for the next `times` POSTs, after those already queued.

        Args:
            status: The status, e.g. 429, 500, 410.
            body: The body, e.g. b"invalid_payload"; str is sent as UTF-8.
            headers: Extra headers, e.g. `{"Retry-After": "1"}`.
            times: How many requests get this response.

        Raises:
            ValueError: If `times` is less than 1.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        data = body.encode() if isinstance(body, str) else body
        canned = Canned(status, data, {"Content-Type": "text/plain", **(headers or {})})
        with self._lock:
            self._script.append(_Scripted(canned, times))

    def delay(self, seconds: float) -> None:
        """Wait this long before answering every later request; 0 answers at once again.

        Requests are recorded on arrival, before the wait. Stopping the receiver ends the
        wait and hangs up without an answer.

        Args:
            seconds: The delay.
        """
        with self._lock:
            self._delay = seconds

    def clear(self) -> None:
        """Forget what was received and what was scripted, and drop the delay."""
        with self._lock:
            self._received.clear()
            self._script.clear()
            self._delay = 0.0

    @property
    def received(self) -> list[Received]:
        """A copy of every POST received so far, in order of arrival."""
        with self._lock:
            return list(self._received)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `n` POSTs have arrived.

        Args:
            n: How many requests to wait for.
            timeout: How many seconds to wait at most.

        Returns:
            Every request received so far (at least `n`).

        Raises:
            AssertionError: If fewer than `n` arrived in time; says how many did.
        """
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._received) >= n, timeout):
                raise AssertionError(
                    f"expected at least {n} webhook request(s) within {timeout}s, "
                    f"got {len(self._received)}"
                )
            return list(self._received)

    def handle(self, handler: RequestHandler) -> None:
        """Record a POST, wait out the delay, then send the next scripted response.

        Args:
            handler: The request, body already read.
        """
        if handler.command != "POST":
            handler.send(Canned(405, b"method not allowed", {"Allow": "POST"}))
            return
        request = Received(
            method=handler.command,
            path=handler.path,
            headers=Headers(handler.headers.items()),
            body=handler.body,
            received_at=datetime.now(UTC),
            monotonic=time.monotonic(),
        )
        with self._arrived:
            self._received.append(request)
            self._arrived.notify_all()
            response = self._next_response()
            delay = self._delay
        if delay > 0 and self.sleep(delay):
            handler.close_connection = True  # stopping: hang up, as a dying server does
            return
        handler.send(response)

    def _next_response(self) -> Canned:
        """Take the next scripted response, or Slack's 200 `ok`; lock held."""
        if not self._script:
            return Canned(200, b"ok", {"Content-Type": "text/plain"})
        scripted = self._script[0]
        scripted.remaining -= 1
        if scripted.remaining <= 0:
            self._script.popleft()
        return scripted.response
