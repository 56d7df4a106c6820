"""Stand-ins for news search aggregators: real HTTP servers on a loopback address.

`SearchAggregator` serves the two shapes of search feed that aggregators publish, for stories
that a publisher (a `tests.support.newssite.NewsSite`) carries:

- `/news/search` is shaped like Bing News search RSS: each item links through
  `http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=…&url=<publisher URL>&…`, with a
  `tid` (and `c`) drawn afresh for every response, the lead as description and the publisher
  in `<News:Source>`. The wrapper's host is Bing's own, which nothing here serves: a crawler
  that does not unwrap the link cannot reach the article at all.
- `/rss/search` is shaped like Google News search RSS: each item links to an opaque
  `/rss/articles/CBMi…?oc=5` on this server, titled "Headline - Publisher", with a
  description that repeats the headline beside the publisher's name and
  `<source url="…">Publisher</source>`. The article links answer with a JavaScript
  interstitial, as Google's do; tests assert they are never requested.

Every request is recorded (`requests`, `hits`). Nothing here decides anything about the
crawler; it touches only the loopback network.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from tests.support.localserver import Canned, Headers, LocalServer, RequestHandler
from tests.support.newssite import Posting, Request

__all__ = ["SearchAggregator", "apiclick_url", "interstitial_path"]

BING_APICLICK = "http://www.bing.com/news/apiclick.aspx"
_RSS = "application/rss+xml; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_INTERSTITIAL = b"""<!DOCTYPE html><html><head><title>Google News</title>
<script>window.location.replace(atob(document.body.dataset.n));</script></head>
<body data-n=""><noscript>Opening the article needs JavaScript.</noscript></body></html>
"""


def apiclick_url(target: str, *, tid: str, c: str) -> str:
    """A Bing News `apiclick.aspx` link to `target`, with the per-response `tid` and `c`."""
    return f"{BING_APICLICK}?ref=FexRss&aid=&tid={tid}&url={quote(target, safe='')}&c={c}&mkt=en-us"


def interstitial_path(posting: Posting) -> str:
    """The opaque Google-News-style article path of `posting` (stable across responses)."""
    token = base64.urlsafe_b64encode(b"\x08\x13\x22" + posting.url.encode()).decode()
    return f"/rss/articles/CBMi{token.rstrip('=')}"


class SearchAggregator(LocalServer):
    """A search aggregator listing a publisher's stories in Bing- and Google-News shapes.

    Attributes:
        publisher: The name the items give for the publisher.
        publisher_url: The publisher's home page, for `<source url>`.
    """

    def __init__(self, *, publisher: str, publisher_url: str, host: str = "127.0.0.1") -> None:
        """Prepare the aggregator; it lists nothing until `list_postings`.

        Args:
            publisher: The publisher's name.
            publisher_url: The publisher's home page.
            host: The loopback address to listen on.
        """
        super().__init__(host=host)
        self.publisher = publisher
        self.publisher_url = publisher_url
        self._postings: tuple[Posting, ...] = ()
        self._requests: list[Request] = []

    def list_postings(self, postings: Sequence[Posting]) -> None:
        """List `postings` (newest first) in both search feeds from now on."""
        with self._lock:
            self._postings = tuple(postings)

    @property
    def bing_url(self) -> str:
        """The Bing-News-shaped search feed."""
        return self.base_url + "/news/search?q=kuril&format=rss"

    @property
    def google_url(self) -> str:
        """The Google-News-shaped search feed."""
        return self.base_url + "/rss/search?q=kuril&hl=en-US&gl=US&ceid=US:en"

    @property
    def requests(self) -> list[Request]:
        """A copy of every request received so far, in order of arrival."""
        with self._lock:
            return list(self._requests)

    def hits(self, prefix: str) -> int:
        """How many requests asked for a path starting with `prefix`."""
        return sum(1 for r in self.requests if urlsplit(r.path).path.startswith(prefix))

    def handle(self, handler: RequestHandler) -> None:
        """Record the request and answer it."""
        path = urlsplit(handler.path).path
        with self._lock:
            self._requests.append(
                Request(handler.command, handler.path, Headers(handler.headers.items()))
            )
            postings = self._postings
        if path == "/robots.txt":
            canned = Canned(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
        elif path == "/news/search":
            canned = Canned(200, self._bing(postings), {"Content-Type": _RSS})
        elif path == "/rss/search":
            canned = Canned(200, self._google(postings), {"Content-Type": _RSS})
        elif path.startswith("/rss/articles/"):
            canned = Canned(200, _INTERSTITIAL, {"Content-Type": _HTML})
        else:
            canned = Canned(404, b"not found\n", {"Content-Type": "text/plain"})
        handler.send(canned)

    def _bing(self, postings: Sequence[Posting]) -> bytes:
        items = "".join(
            f"<item><title>{escape(p.story.title)}</title>"
            f"<link>{escape(apiclick_url(p.url, tid=secrets.token_hex(16), c=secrets.token_hex(4)))}</link>"
            f"<description>{escape(p.story.lead)}</description>"
            f"<pubDate>{format_datetime(p.published)}</pubDate>"
            f"<News:Source>{escape(self.publisher)}</News:Source></item>\n"
            for p in postings
        )
        return _channel(
            'xmlns:News="https://www.bing.com/news/search?q=kuril&amp;format=rss"',
            "kuril - BingNews",
            self.bing_url,
            items,
            postings,
        )

    def _google(self, postings: Sequence[Posting]) -> bytes:
        items = []
        for p in postings:
            link = self.base_url + interstitial_path(p) + "?oc=5"
            repeat = (
                f'<a href="{link}" target="_blank">{escape(p.story.title)}</a>'
                f'&nbsp;&nbsp;<font color="#6f6f6f">{escape(self.publisher)}</font>'
            )
            items.append(
                f"<item><title>{escape(f'{p.story.title} - {self.publisher}')}</title>"
                f"<link>{escape(link)}</link>"
                f'<guid isPermaLink="false">{escape(interstitial_path(p).rsplit("/", 1)[1])}</guid>'
                f"<pubDate>{format_datetime(p.published)}</pubDate>"
                f"<description>{escape(repeat)}</description>"
                f"<source url={quoteattr(self.publisher_url)}>{escape(self.publisher)}</source>"
                "</item>\n"
            )
        return _channel(
            'xmlns:media="http://search.yahoo.com/mrss/"',
            '"kuril" - Google News',
            self.google_url,
            "".join(items),
            postings,
        )


def _channel(
    namespace: str, title: str, link: str, items: str, postings: Sequence[Posting]
) -> bytes:
    built = max((p.published for p in postings), default=datetime(2026, 1, 1).astimezone())
    feed = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" {namespace}>
<channel>
<title>{escape(title)}</title>
<link>{escape(link)}</link>
<description>{escape(title)}</description>
<lastBuildDate>{format_datetime(built)}</lastBuildDate>
{items}</channel>
</rss>
"""
    return feed.encode()
