"""Canonical article URLs, so one page has one key however a feed links to it.

`canonical_url(url)` decides the key under which an article URL is stored, deduplicated
("one story, one alert") and fetched. It is pure: no network, no clock. At import it reads
one package data file, `tracking_params.txt`, the tracking parameters it removes.

The rules, in order:

1. Leading and trailing whitespace and C0 control characters are stripped, and tabs and
   newlines inside are removed (as the WHATWG URL parser does).
2. A redirect wrapper that carries its target in its query (`REDIRECT_WRAPPERS`: Bing News'
   `apiclick.aspx?…&url=`, Google's `/url?q=`, …) is replaced by that target, repeatedly
   (up to `MAX_UNWRAPS` layers), when the target is an absolute http(s) URL; a wrapper
   without one is kept as it is. So the publisher's page is the key, the URL fetched and the
   URL alerts name, and the wrapper's per-click parameters (Bing's `tid` changes on every
   response) never make one article look new.
3. Only an absolute http(s) URL with a host is canonicalized. Anything else (a relative
   reference, another scheme, an invalid port, IPv6 address or host name) comes back as
   steps 1 and 2 left it. That is a return value, never an exception; callers that need a
   web URL check the scheme, as `crawler.feeds` and `crawler.index` do.
4. w3lib's `canonicalize_url` with its default options: scheme and host lowercased, an IDN
   host in punycode, percent-encoding normalised (non-ASCII as UTF-8, `%xx` in upper case,
   unreserved characters decoded, invalid UTF-8 bytes kept as they are), dot segments
   resolved, an empty path made "/", query arguments sorted by name then value with blank
   values kept as `name=`, spaces in the query written "+", the fragment dropped and a
   trailing "?" with nothing after it dropped.
5. The scheme's default port (80, 443) is dropped, and so is any userinfo (`user:pass@`):
   credentials never select the article, and must not reach the database or an alert.
6. Tracking parameters are removed: a name listed in `tracking_params.txt`, or one that
   starts with a prefix listed there (`utm_*`, `mtm_*`, …). Matching is exact and
   case-sensitive (`FBCLID` is kept), as DuckDuckGo's reference tests require. A query left
   empty is dropped with its "?".

The list only holds parameters that record where a click came from (campaign, ad click id,
newsletter recipient, share source), never one that can select what a page shows, because
canonical URLs are also the URLs the crawler fetches. It takes:

- DuckDuckGo's reference list (privacy-reference-tests `url-parameters`): all 25 real names;
  its test-only `bad.` is left out.
- The mpchadwick tracking-query-params-registry, except `si` (two letters, generic enough to
  be a site's own parameter), eBay Partner Network's `campid`, `customid`, `toolid`, `mkevt`,
  `mkcid` and `mkrid` (meaningful on eBay links only; `customid` and `toolid` are generic
  names) and `gPromoCode` (applies a promotion, so it changes the page).
- From courlan's tracker pattern only the exact names `clickid`, `ysclid`, `xtor` and the
  `itm_` prefix; its substring matches (`ref`, `source`, `session`, `uid`, `ga`, `aff`, …)
  would also remove content parameters (`gallery`, `refresh`, `sourceid`, …).
- The names this module stripped before, and Piano Analytics' `at_medium` and `at_campaign`.

Not done, on purpose, because each would be a guess about a site: AMP and mobile copies
(`/amp/`, an `/amp` or `.amp` suffix, `?amp`, `?amp=1`, `outputType=amp`, `amp.` and `m.`
hosts, Google AMP cache URLs) are not mapped to their article. Only the page knows whether it
is a copy, and it says so in `<link rel="canonical">`, which `crawler.extract` reads; a bare
`amp` flag is kept too, since on some sites it selects another document and on others it
means nothing. Likewise `www.` is kept, http is not turned into https, and trailing slashes and
empty path segments (`//`) stay as written. Only the wrappers in the table are unwrapped, the
ones whose target is plainly in their query; a shortener (`t.co`, `bit.ly`) or an opaque link
(Google News' `/rss/articles/CBMi…`) names no target, and finding it would take a request.
DuckDuckGo's `amp-protections` list is therefore not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
_EDGES = re.compile(r"^[\x00-\x20\s]+|[\x00-\x20\s]+$")
_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")


def _read_tracking_params(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The exact names and the prefixes (lines ending in `*`) of a tracking parameter list."""
    names: set[str] = set()
    prefixes: list[str] = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.endswith("*") and len(entry) > 1:
            prefixes.append(entry[:-1])
        else:
            names.add(entry)
    return frozenset(names), tuple(prefixes)


TRACKING_PARAMS, TRACKING_PREFIXES = _read_tracking_params(
    resources.files(__package__).joinpath("tracking_params.txt").read_text(encoding="utf-8")
)


@dataclass(frozen=True, slots=True)
class RedirectWrapper:
    """A redirect service whose links carry their target, URL-encoded, in a query parameter."""

    host: str
    """A regular expression the whole (lowercased) host name must match."""
    paths: tuple[str, ...]
    """The wrapper's paths, compared in lower case."""
    params: tuple[str, ...]
    """The parameters that may hold the target, in order; the first absolute one wins."""
    met_in: str
    """Where such links are met (documentation)."""


_GOOGLE = r"(?:[a-z0-9-]+\.)*google\.(?:com|[a-z]{2}|com?\.[a-z]{2})"
REDIRECT_WRAPPERS: tuple[RedirectWrapper, ...] = (
    RedirectWrapper(
        r"(?:[a-z0-9-]+\.)*bing\.com",
        ("/news/apiclick.aspx",),
        ("url",),
        "Bing News search RSS items (`tid` changes on every response)",
    ),
    RedirectWrapper(
        _GOOGLE,
        ("/url", "/news/url"),
        ("url", "q"),
        "Google Alerts RSS items, Google search results, Google News RSS before 2020",
    ),
    RedirectWrapper(
        r"l\.facebook\.com|lm\.facebook\.com", ("/l.php",), ("u",), "Facebook's outbound link shim"
    ),
    RedirectWrapper(r"(?:m\.)?vk\.com", ("/away.php",), ("to",), "VK's outbound links"),
    RedirectWrapper(r"(?:html\.)?duckduckgo\.com", ("/l/",), ("uddg",), "DuckDuckGo result links"),
    RedirectWrapper(r"t\.me", ("/iv",), ("url",), "Telegram Instant View links in posts"),
)
"""The redirect wrappers `canonical_url` replaces by their target (rule 2)."""

MAX_UNWRAPS = 3
_WRAPPER_HOSTS = tuple((re.compile(w.host), w) for w in REDIRECT_WRAPPERS)


def unwrap_redirect(url: str) -> str:
    """The target of a redirect wrapper in `REDIRECT_WRAPPERS`, else `url` unchanged.

    Layers are taken off up to `MAX_UNWRAPS` times. A target counts only when it is an
    absolute http(s) URL (decoded once more if it is still percent-encoded); a wrapper
    whose parameters hold none, or anything that does not parse, comes back as given.
    """
    for _ in range(MAX_UNWRAPS):
        target = _wrapped_target(url)
        if target is None:
            return url
        url = target
    return url


def _wrapped_target(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.query:
        return None
    path = parts.path.lower()
    for pattern, wrapper in _WRAPPER_HOSTS:
        if path in wrapper.paths and pattern.fullmatch(host):
            values: dict[str, str] = {}
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                values.setdefault(name, value)
            for name in wrapper.params:
                target = _web_url(values.get(name, ""))
                if target is not None:
                    return target
    return None


def _web_url(value: str) -> str | None:
    """`value` when it is an absolute http(s) URL with a host (decoding it once more if it
    is still percent-encoded), else None."""
    text = value.strip()
    if text[:10].lower().startswith(("http%3a", "https%3a")):
        text = unquote(text)
    try:
        parts = urlsplit(text)
        if parts.scheme.lower() in _DEFAULT_PORTS and parts.hostname:
            return text
    except ValueError:
        pass
    return None


def is_tracking_param(name: str) -> bool:
    """Whether the (decoded) query parameter `name` only tracks where a click came from."""
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The canonical form of an http(s) URL; any other text is returned stripped.

    Args:
        url: A URL as a feed, a sitemap or a page gives it (absolute, maybe untidy).

    Returns:
        The canonical URL, or `url` stripped (see the module docstring, rule 1) when it is
        not an absolute http(s) URL that can be parsed.
    """
    text = unwrap_redirect(_EDGES.sub("", url.translate(_TAB_AND_NEWLINES)))
    try:
        parts = urlsplit(text)
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            return text
        canonical = urlsplit(canonicalize_url(text))
        port = canonical.port
    except ValueError:  # a port out of range, a bad IPv6 address, an invalid host, …
        return text
    if not canonical.hostname:
        return text
    netloc = canonical.netloc.rpartition("@")[2]
    if port == _DEFAULT_PORTS[canonical.scheme]:
        netloc = netloc.removesuffix(f":{port}")
    query = "&".join(
        pair
        for pair in canonical.query.split("&")
        if pair and not is_tracking_param(unquote_plus(pair.partition("=")[0]))
    )
    return urlunsplit((canonical.scheme, netloc, canonical.path, query, ""))
