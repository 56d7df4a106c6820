"""A local news site for tests: a real HTTP server on 127.0.0.1 that serves fixture stories.

`NewsSite` runs a `ThreadingHTTPServer` on port 0 in a daemon thread and serves what an
outlet does: an RSS 2.0 feed (`/rss.xml`), an Atom feed (`/atom.xml`), a sitemap, a home page
listing the stories, one HTML page per story and `/robots.txt`. Feeds carry `ETag` and
`Last-Modified` and answer conditional requests with 304. Tests make the site misbehave at run
time (`fail`, `hang`, `serve_raw`, `truncate`) and read back every request (`requests`, `hits`),
as Scrapy's `tests/mockserver` does.

The pages and feeds come from the `render_*` functions of `tests.support.pages` (re-exported
here), which build the same bytes without a server, for unit tests of parsing and extraction.
The server plumbing lives in `tests.support.localserver`. This module touches only the
loopback network.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Generic, NamedTuple, TypeVar
from urllib.parse import urlsplit

from tests.support.localserver import Canned, Headers, LocalServer, RequestHandler
from tests.support.pages import (
    Posting,
    render_article,
    render_atom,
    render_home,
    render_rss,
    render_sitemap,
)
from tests.support.stories import FixtureStory

__all__ = [
    "NewsSite",
    "Posting",
    "Request",
    "render_article",
    "render_atom",
    "render_home",
    "render_rss",
    "render_sitemap",
]

_RSS = "application/rss+xml; charset=utf-8"
_ATOM = "application/atom+xml; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_XML = "application/xml; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


class Request(NamedTuple):
    """One request the site received: `(method, path, headers, at)`.

    Attributes:
        method: The HTTP method, e.g. "GET".
        path: The request target as sent, query string included.
        headers: The request headers; names are lower-cased and lookups ignore case.
        at: When it arrived (`time.monotonic()`).
    """

    method: str
    path: str
    headers: Headers
    at: float = 0.0


_T = TypeVar("_T")


@dataclass(slots=True)
class _Countdown(Generic[_T]):
    """A scripted behaviour for one path, for the next `remaining` requests or for good."""

    value: _T
    remaining: int | None


class NewsSite(LocalServer):
    """A news site on 127.0.0.1 serving fixture stories, feeds and scripted failures.

    Use it as a context manager; the server runs from `__enter__` to `__exit__`::

        with NewsSite() as site:
            url = site.add_story(story_by_key("nemuro-rally"))
            httpx.get(site.feed_url)

    Attributes:
        name: The outlet's name, shown in feeds, page titles and footers.
        language: The feed's language code.
        validators: Whether feeds send `ETag` and `Last-Modified` and honour conditional
            requests. Set it to False to test the crawler's body-hash fallback.
        robots: The body of `/robots.txt` (a `Sitemap:` line is added).
        link_query: A query string (e.g. "?utm_source=rss") added to every article link in
            the feeds, the sitemap and the home page; the pages answer without it.
    """

    def __init__(
        self, *, name: str = "Kuril Test News", language: str = "en", host: str = "127.0.0.1"
    ) -> None:
        """Prepare the site; the server starts on `__enter__` (or `start()`).

        Args:
            name: The outlet's name.
            language: The feed's language code.
            host: The loopback address to listen on (a distinct host per site if wanted).
        """
        super().__init__(host=host)
        self.name = name
        self.language = language
        self.validators = True
        self.robots = "User-agent: *\nAllow: /\n"
        self.link_query = ""
        self._postings: list[Posting] = []
        self._by_path: dict[str, Posting] = {}
        self._changed_at = _now()
        self._requests: list[Request] = []
        self._in_flight = 0
        self.max_in_flight = 0
        """The most requests the site was answering at one moment."""
        self._failures: dict[str, _Countdown[Canned]] = {}
        self._hangs: dict[str, _Countdown[float]] = {}
        self._raw: dict[str, Canned] = {}
        self._truncations: dict[str, int] = {}

    @property
    def url(self) -> str:
        """The base URL, `http://HOST:PORT`, without a trailing slash."""
        return self.base_url

    @property
    def feed_url(self) -> str:
        """The RSS 2.0 feed's URL."""
        return self.base_url + "/rss.xml"

    @property
    def atom_url(self) -> str:
        """The Atom 1.0 feed's URL."""
        return self.base_url + "/atom.xml"

    @property
    def sitemap_url(self) -> str:
        """The XML sitemap's URL."""
        return self.base_url + "/sitemap.xml"

    @property
    def last_modified(self) -> datetime:
        """What `Last-Modified` says: the newest story time or the last change, if later.

        Every `add_story` moves it forward by at least a second, so a client that only sends
        `If-Modified-Since` still sees a story added with an old publication date.
        """
        with self._lock:
            return max([self._changed_at, *(p.published for p in self._postings)])

    @property
    def postings(self) -> tuple[Posting, ...]:
        """The stories on the site, newest first, as the feeds list them."""
        with self._lock:
            return tuple(self._postings)

    def add_story(
        self,
        story: FixtureStory,
        *,
        published: datetime | None = None,
        slug: str | None = None,
        path_prefix: str = "/news/",
        guid: str | None = None,
    ) -> str:
        """Publish a story: it gets a page and appears in the feeds, newest first.

        Args:
            story: The story to publish.
            published: When it was published (timezone-aware); cut to whole seconds. Default:
                now, or a second after the last change, so quick additions keep their order.
            slug: The last part of its path; default `story.key`.
            path_prefix: The folder of its path.
            guid: A feed GUID (`isPermaLink="false"`); default: the URL as a permalink GUID.

        Returns:
            The article's absolute URL.

        Raises:
            ValueError: If `published` is naive or the path is already taken.
        """
        if published is not None and published.tzinfo is None:
            raise ValueError("published must be timezone-aware")
        prefix = "/" + path_prefix.strip("/") + "/" if path_prefix.strip("/") else "/"
        path = prefix + (slug or story.key)
        with self._lock:
            if path in self._by_path:
                raise ValueError(f"{path} is already published on {self.name}")
            self._changed_at = max(_now(), self._changed_at + timedelta(seconds=1))
            when = self._changed_at if published is None else _whole_seconds(published)
            posting = Posting(story=story, url=self.base_url + path, published=when, guid=guid)
            self._by_path[path] = posting
            self._postings.append(posting)
            # stable sort: of two stories published in the same second, the later added wins
            self._postings.sort(key=lambda p: p.published)
            self._postings.reverse()
        return posting.url

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer requests for `path` with `status` instead of the real response.

        Args:
            path: The path, without query string, e.g. "/rss.xml".
            status: The status to send, e.g. 503.
            times: Only the next this many requests; None means until `clear`.
            body: The body to send with it.
            headers: Extra headers, e.g. `{"Retry-After": "2"}`.

        Raises:
            ValueError: If `times` is less than 1.
        """
        _check_times(times)
        canned = Canned(status, body, {"Content-Type": _TEXT, **(headers or {})})
        with self._lock:
            self._failures[path] = _Countdown(canned, times)

    def hang(self, path: str, seconds: float, *, times: int | None = None) -> None:
        """Wait `seconds` before answering requests for `path`.

        Stopping the site ends the wait: the request is then dropped without an answer.

        Args:
            path: The path, without query string.
            seconds: How long to wait before responding.
            times: Only the next this many requests; None means until `clear`.

        Raises:
            ValueError: If `times` is less than 1.
        """
        _check_times(times)
        with self._lock:
            self._hangs[path] = _Countdown(seconds, times)

    def serve_raw(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/octet-stream",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve arbitrary bytes at `path` (broken XML, a huge body, a bomb) until `clear`.

        Args:
            path: The path, without query string; it may shadow a real page or feed.
            body: The exact bytes to send.
            content_type: The `Content-Type` header.
            status: The status to send.
            headers: Extra headers, e.g. `{"Content-Encoding": "gzip"}`.
        """
        with self._lock:
            self._raw[path] = Canned(
                status, body, {"Content-Type": content_type, **(headers or {})}
            )

    def truncate(self, path: str, keep: int) -> None:
        """Cut responses for `path` short: announce the full length, send `keep` bytes, close.

        Args:
            path: The path, without query string.
            keep: How many bytes of the body to send before closing the connection.
        """
        with self._lock:
            self._truncations[path] = keep

    def clear(self, path: str | None = None) -> None:
        """Undo `fail`, `hang`, `serve_raw` and `truncate`, for one path or for all.

        Args:
            path: The path to restore; None restores every path.
        """
        with self._lock:
            for table in (self._failures, self._hangs, self._raw, self._truncations):
                if path is None:
                    table.clear()
                else:
                    table.pop(path, None)

    @property
    def requests(self) -> list[Request]:
        """A copy of every request received so far, in order of arrival."""
        with self._lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        """Count the requests for `path` (matched with or without their query string).

        Args:
            path: A path such as "/rss.xml", or a path with its query string.

        Returns:
            How many requests asked for it.
        """
        return sum(1 for r in self.requests if path in (r.path, urlsplit(r.path).path))

    def handle(self, handler: RequestHandler) -> None:
        """Answer one request: record it, apply the scripted behaviours, then serve.

        Args:
            handler: The request being handled.
        """
        path = urlsplit(handler.path).path
        headers = Headers(handler.headers.items())
        with self._lock:
            self._requests.append(Request(handler.command, handler.path, headers, time.monotonic()))
            delay = _take(self._hangs, path)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if delay is not None and self.sleep(delay):
                handler.close_connection = True  # stopping: hang up, as a dying server does
                return
            with self._lock:
                canned = _take(self._failures, path) or self._raw.get(path)
                keep = self._truncations.get(path)
            if canned is None:
                canned = self._route(handler.command, path, headers)
            handler.send(canned, keep=keep)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _route(self, method: str, path: str, headers: Headers) -> Canned:
        """Build the real response for a path."""
        if method not in ("GET", "HEAD"):
            return Canned(405, b"method not allowed\n", {"Allow": "GET, HEAD"})
        with self._lock:
            postings = tuple(self._postings)
            posting = self._by_path.get(path)
        built = self.last_modified
        site = {"site_url": self.base_url, "site_name": self.name}
        if self.link_query and path in ("/rss.xml", "/atom.xml", "/sitemap.xml", "/"):
            postings = tuple(replace(p, url=p.url + self.link_query) for p in postings)
        if path == "/rss.xml":
            body = render_rss(postings, **site, language=self.language, built=built)
            return self._feed(body, _RSS, built, headers)
        if path == "/atom.xml":
            body = render_atom(postings, **site, language=self.language, built=built)
            return self._feed(body, _ATOM, built, headers)
        if path == "/sitemap.xml":
            return self._feed(render_sitemap(postings), _XML, built, headers)
        if path == "/robots.txt":
            robots = f"{self.robots}\nSitemap: {self.sitemap_url}\n"
            return Canned(200, robots.encode(), {"Content-Type": _TEXT})
        if path == "/":
            home = render_home(postings, **site, language=self.language)
            return self._feed(home, _HTML, built, headers)
        if posting is not None:
            page = render_article(posting, site_name=self.name)
            return Canned(200, page, {"Content-Type": _HTML})
        return Canned(404, b"<!DOCTYPE html><title>Not found</title>", {"Content-Type": _HTML})

    def _feed(self, body: bytes, content_type: str, modified: datetime, headers: Headers) -> Canned:
        """Serve a feed with its validators, or 304 if the client's copy is current."""
        if not self.validators:
            return Canned(200, body, {"Content-Type": content_type})
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True)}
        if _not_modified(headers, etag, modified):
            return Canned(304, b"", validators)
        return Canned(200, body, {"Content-Type": content_type, **validators})


def _not_modified(headers: Headers, etag: str, modified: datetime) -> bool:
    """Decide a conditional GET as RFC 9110 §13.2.2 does: If-None-Match wins when present."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return modified <= since


def _take(table: dict[str, _Countdown[_T]], path: str) -> _T | None:
    """Use one turn of the scripted behaviour for `path`, if there is one; lock held."""
    entry = table.get(path)
    if entry is None:
        return None
    if entry.remaining is not None:
        entry.remaining -= 1
        if entry.remaining <= 0:
            del table[path]
    return entry.value


def _check_times(times: int | None) -> None:
    """Reject a count of scripted requests that would never apply."""
    if times is not None and times < 1:
        raise ValueError("times must be at least 1, or None for every request")


def _whole_seconds(moment: datetime) -> datetime:
    """The moment in UTC, cut to the second (HTTP dates have no finer resolution)."""
    return moment.astimezone(UTC).replace(microsecond=0)


def _now() -> datetime:
    """The current time in UTC, cut to the second."""
    return _whole_seconds(datetime.now(UTC))
