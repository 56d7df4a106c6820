"""The loopback-server plumbing under the test servers: one HTTP server per test, fast to stop.

`LocalServer`, `RequestHandler`, `Canned` and `Headers` are shared by
`tests.support.receiver.WebhookReceiver` and `tests.support.newssite.NewsSite`: a
`ThreadingHTTPServer` on 127.0.0.1, port 0, with daemon threads, that stops fast, even while a
handler is sleeping. It decides nothing about what is answered (subclasses implement
`LocalServer.handle`) and touches only the loopback network.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["Canned", "Headers", "LocalServer", "RequestHandler"]


class Headers(dict[str, str]):
    """HTTP headers with lower-cased names; lookups ignore case.

    Repeated headers are joined with ", " as RFC 9110 allows for list-valued fields.
    """

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        """Collect headers from (name, value) pairs.

        Args:
            items: The pairs, e.g. `message.items()`.
        """
        super().__init__()
        for name, value in items:
            key = name.lower()
            super().__setitem__(key, f"{self[key]}, {value}" if key in self else value)

    def __getitem__(self, name: str) -> str:
        """Return the header's value, whatever the case of `name`."""
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        """Tell whether the header is present, whatever the case of `name`."""
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """Return the header's value, or `default`, whatever the case of `name`."""
        return super().get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class Canned:
    """A complete response to send: status, body and headers (Content-Length is added)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class RequestHandler(BaseHTTPRequestHandler):
    """Hands every request, whatever its method, to the owning `LocalServer.handle`.

    HTTP/1.1 with keep-alive, as real servers speak; idle connections close after `timeout`.
    """

    protocol_version = "HTTP/1.1"
    timeout = 10.0
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server
    body: bytes = b""

    def _dispatch(self) -> None:
        """Read the body, then let the owner answer; a vanished client is not an error."""
        try:
            self.body = self._read_body()
            self.server.owner.handle(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def send(self, canned: Canned, *, keep: int | None = None) -> None:
        """Send a response; with `keep`, announce the full body but send only `keep` bytes.

        Args:
            canned: The response.
            keep: Cut the body after this many bytes and close the connection.
        """
        bodyless = canned.status in (204, 304) or canned.status < 200
        self.send_response(canned.status)
        for name, value in canned.headers.items():
            self.send_header(name, value)
        if not bodyless:
            self.send_header("Content-Length", str(len(canned.body)))
        if keep is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodyless and self.command != "HEAD":
            self.wfile.write(canned.body if keep is None else canned.body[:keep])
        self.wfile.flush()

    def _read_body(self) -> bytes:
        """Read the request body, sized by Content-Length or sent chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the access log out of the test output."""


class _Server(ThreadingHTTPServer):
    """A threading server whose handler threads never hold up the exit."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: LocalServer) -> None:
        super().__init__((owner.host, 0), RequestHandler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; print anything else, as the stdlib does."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class LocalServer:
    """An HTTP server on 127.0.0.1 (or another loopback address), port 0, in a daemon thread.

    A context manager. `host` may be any of 127/8 (all loopback on Linux), so that sites can
    be distinct hosts to a crawler that is polite per host.

    Subclasses implement `handle`. `sleep` waits, but wakes at once when the server stops, so
    a handler that hangs on purpose never holds up the end of a test.
    """

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        """Prepare the server; nothing listens until `start` or `__enter__`."""
        self.host = host
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT`, once started (and still after it stopped).

        Raises:
            RuntimeError: If the server was never started.
        """
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not running; use it in a with block")
        return self._base_url

    def start(self) -> Self:
        """Bind a free port and serve from a daemon thread.

        Returns:
            The server itself.
        """
        if self._server is None:
            self._closing.clear()
            self._server = _Server(self)
            self._base_url = f"http://{self.host}:{self._server.server_port}"
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"{type(self).__name__}-{self._server.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Wake sleeping handlers, stop serving and close the listening socket."""
        self._closing.set()
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds`, or less if the server stops meanwhile.

        Args:
            seconds: How long to wait.

        Returns:
            True if the server is stopping: the handler should drop the request unanswered.
        """
        return self._closing.wait(seconds)

    def handle(self, handler: RequestHandler) -> None:
        """Answer one request; called from a handler thread.

        Args:
            handler: The request, with its body already read into `handler.body`.
        """
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()
