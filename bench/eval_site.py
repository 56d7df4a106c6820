"""The eval feed's local site and webhook receiver, on 127.0.0.1, in this process.

`EvalSite` serves the `FeedItem`s of `bench/eval_items.py`: `/rss.xml` (RSS 2.0: title,
link, GUID, date and the ~300-character summary of every item, with an ETag honoured on
conditional requests), `/news/<slug>` (each item's page, answering as its `page` says: the
full text as an outlet's page, 503 twice and then that page, or 403 / a cookie-consent
wall / a JavaScript shell / a PDF) and `/robots.txt`. It counts the page requests, so the
benchmark knows when every flaky page has been served. `Receiver` records the webhook POSTs.

Both are `ThreadingHTTPServer`s in daemon threads; the bench carries its own (rather than
`tests.support`) so that `--code DIR` can run an older checkout whose test support differs.
The `render_*` functions build the bytes and touch nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape as html_escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape as xml_escape

from bench.eval_items import FLAKY, FULL, FeedItem

FLAKY_FAILURES = 2
"""How many times a flaky page answers 503 before it serves its text."""

CONSENT_PAGE = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Before you continue</title></head><body><div class="consent-wall">
<h1>We value your privacy</h1>
<p>We and our 842 partners store and access information on your device, such as cookies, and
process personal data, such as unique identifiers and browsing data, for personalised
advertising and content, advertising and content measurement, audience research and service
development. You can accept, reject or manage your choices at any time.</p>
<button>Accept all</button><button>Reject all</button><a href="/privacy">Manage options</a>
</div></body></html>"""
JS_SHELL = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>News</title>
<script defer src="/static/js/main.4f1c2a.js"></script></head><body>
<noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div>
</body></html>"""
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
_HTML = "text/html; charset=utf-8"
_BLOCKED: dict[str, tuple[int, bytes, str]] = {
    "403": (403, b"<!DOCTYPE html><title>403 Forbidden</title><h1>Forbidden</h1>", _HTML),
    "consent": (200, CONSENT_PAGE, _HTML),
    "js": (200, JS_SHELL, _HTML),
    "pdf": (200, PDF, "application/pdf"),
}


def render_feed(items: Sequence[FeedItem], *, base: str, built: datetime) -> bytes:
    """The RSS 2.0 feed of every item, in the order given (newest first)."""
    x = xml_escape
    entries = "".join(
        f"<item><title>{x(i.title)}</title><link>{x(base)}/news/{x(i.slug)}</link>"
        f'<guid isPermaLink="true">{x(base)}/news/{x(i.slug)}</guid>'
        f"<pubDate>{format_datetime(i.published)}</pubDate>"
        f"<description>{x(i.summary)}</description></item>\n"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Kuril eval wire</title><link>{x(base)}/</link>"
        "<description>Labelled real news, republished locally for a benchmark</description>"
        f"<lastBuildDate>{format_datetime(built)}</lastBuildDate>\n{entries}</channel></rss>\n"
    ).encode()


def render_page(item: FeedItem, *, base: str) -> bytes:
    """The item's page as an outlet's: metadata, a little chrome, the text in paragraphs."""
    e = html_escape
    url = f"{base}/news/{item.slug}"
    paragraphs = "\n".join(f"<p>{e(p.strip())}</p>" for p in item.text.splitlines() if p.strip())
    return f"""<!DOCTYPE html>
<html lang="{e(item.language)}"><head><meta charset="utf-8">
<title>{e(item.title)} | {e(item.outlet)}</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{e(item.title)}">
<meta property="og:site_name" content="{e(item.outlet)}">
<meta property="article:published_time" content="{item.published.isoformat()}">
<link rel="canonical" href="{e(url)}">
</head><body>
<header><a href="/">{e(item.outlet)}</a><nav><a href="/world/">World</a>
<a href="/politics/">Politics</a></nav></header>
<main><article><h1>{e(item.title)}</h1>
<time datetime="{item.published.isoformat()}">{item.published:%Y-%m-%d %H:%M}</time>
{paragraphs}
</article></main>
<footer><a href="/about">About</a> <a href="/privacy">Privacy</a></footer>
</body></html>
""".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10.0
    server: _Server

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, payload, headers = self.server.owner.answer(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = _any

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: _Local) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class _Local:
    """A loopback server in a daemon thread, from `__enter__` to `__exit__`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def base(self) -> str:
        """`http://127.0.0.1:PORT`."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._server = _Server(self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class EvalSite(_Local):
    """The eval feed and its pages (see the module docstring)."""

    def __init__(self, items: Sequence[FeedItem], *, built: datetime) -> None:
        super().__init__()
        self.items = tuple(items)
        self.built = built
        self._by_slug = {i.slug: i for i in self.items}
        self._feed: bytes | None = None
        self.requests: Counter[str] = Counter()
        """Page requests by slug."""
        self.served: Counter[str] = Counter()
        """Pages served with their full text, by slug."""
        self.feed_requests = 0

    @property
    def feed_url(self) -> str:
        return self.base + "/rss.xml"

    def url(self, item: FeedItem) -> str:
        return f"{self.base}/news/{item.slug}"

    def page_requests(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def flaky_pending(self) -> int:
        """Flaky pages not yet served with their text."""
        with self.lock:
            return sum(1 for i in self.items if i.page == FLAKY and not self.served[i.slug])

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}
        if path == "/rss.xml":
            return self._rss(headers)
        item = self._by_slug.get(path.removeprefix("/news/")) if path.startswith("/news/") else None
        if item is None:
            return 404, b"<!DOCTYPE html><title>Not found</title>", {"Content-Type": _HTML}
        with self.lock:
            self.requests[item.slug] += 1
            asked = self.requests[item.slug]
            full = item.page == FULL or (item.page == FLAKY and asked > FLAKY_FAILURES)
            if full:
                self.served[item.slug] += 1
        if full:
            return 200, render_page(item, base=self.base), {"Content-Type": _HTML}
        if item.page == FLAKY:
            return 503, b"Service Unavailable", {"Content-Type": "text/plain"}
        status, payload, kind = _BLOCKED[item.page]
        return status, payload, {"Content-Type": kind}

    def _rss(self, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.feed_requests += 1
            if self._feed is None:
                self._feed = render_feed(self.items, base=self.base, built=self.built)
            feed = self._feed
        etag = '"' + hashlib.sha256(feed).hexdigest()[:24] + '"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(self.built, usegmt=True)}
        asked = {h.lower(): v for h, v in headers.items()}.get("if-none-match", "")
        if etag in {t.strip() for t in asked.split(",")}:
            return 304, b"", validators
        return 200, feed, {"Content-Type": "application/rss+xml; charset=utf-8", **validators}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST: its JSON body (None if it was not JSON) and when it came."""

    payload: Any
    monotonic: float


class Receiver(_Local):
    """A webhook endpoint that records every POST and answers 200 `ok`."""

    def __init__(self) -> None:
        super().__init__()
        self._received: list[Delivery] = []

    @property
    def url(self) -> str:
        return self.base + "/hook"

    @property
    def received(self) -> list[Delivery]:
        with self.lock:
            return list(self._received)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if method != "POST":
            return 405, b"method not allowed", {"Allow": "POST"}
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        with self.lock:
            self._received.append(Delivery(payload, time.monotonic()))
        return 200, b"ok", {"Content-Type": "text/plain"}
